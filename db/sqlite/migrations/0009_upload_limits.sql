-- Caps on what one account can hold in uploads, and their expiry.
--
-- upload_refs: which generations use which uploads. A generation's references are
-- written with it (CreateGeneration) and go with it (ON DELETE CASCADE), so "an upload
-- is referenced" means: some generation of its owner that still exists, whatever its
-- status, names it. Unreferenced uploads are removed once old enough (ExpireUploads);
-- one a pending or running generation uses cannot be deleted (DeleteUpload). The
-- generations' reference_ids stay as they are: the list as the user gave it, in order.
CREATE TABLE upload_refs (
    upload_id     TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    generation_id TEXT NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    PRIMARY KEY (upload_id, generation_id)
) STRICT;
-- a deleted generation's references are found by it
CREATE INDEX upload_refs_generation ON upload_refs (generation_id);

INSERT OR IGNORE INTO upload_refs (upload_id, generation_id)
SELECT r.value, g.id
FROM generations g, json_each(g.reference_ids) r
JOIN uploads u ON u.id = r.value AND u.user_id = g.user_id;

-- Bytes each user's uploads hold, kept by the store with every upload recorded or
-- removed: the quota is checked against it in the write that records an upload, so
-- concurrent uploads cannot together pass it.
CREATE TABLE upload_usage (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    bytes   INTEGER NOT NULL CHECK (bytes >= 0)
) STRICT;

INSERT INTO upload_usage (user_id, bytes)
SELECT user_id, sum(bytes) FROM uploads GROUP BY user_id;

-- the expiry walks the oldest uploads first
CREATE INDEX uploads_created ON uploads (created_at);
