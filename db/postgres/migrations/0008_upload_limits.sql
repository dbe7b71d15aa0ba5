-- Caps on what one account can hold in uploads, and their expiry: see
-- ../../sqlite/migrations/0009_upload_limits.sql for what upload_refs and upload_usage
-- mean.
CREATE TABLE upload_refs (
    upload_id     TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    generation_id TEXT NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    PRIMARY KEY (upload_id, generation_id)
);
CREATE INDEX upload_refs_generation ON upload_refs (generation_id);

INSERT INTO upload_refs (upload_id, generation_id)
SELECT DISTINCT r.value, g.id
FROM generations g
CROSS JOIN LATERAL json_array_elements_text(g.reference_ids::json) AS r (value)
JOIN uploads u ON u.id = r.value AND u.user_id = g.user_id;

CREATE TABLE upload_usage (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    bytes   BIGINT NOT NULL CHECK (bytes >= 0)
);

INSERT INTO upload_usage (user_id, bytes)
SELECT user_id, sum(bytes) FROM uploads GROUP BY user_id;

CREATE INDEX uploads_created ON uploads (created_at);
