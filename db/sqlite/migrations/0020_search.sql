-- Finding old generations (issue 13): favorites, the filters' indexes, and full-text
-- search over prompts.
--
-- favorite: the user's mark (0/1). Its partial index holds only the marked rows, by user,
-- newest first, so ?favorite=true reads its page and nothing else, and a mark writes one
-- entry.
ALTER TABLE generations ADD COLUMN favorite INTEGER NOT NULL DEFAULT 0 CHECK (favorite IN (0, 1));
CREATE INDEX generations_user_favorite ON generations (user_id, created_at DESC, id DESC) WHERE favorite = 1;

-- The settings a list filters by: each an index by user and value, newest first, so a
-- filtered page is read in order from its index (db/sqlstore/search.go picks one).
-- Written once, when the generation is inserted: no job step changes these columns.
CREATE INDEX generations_user_resolution ON generations (user_id, resolution, created_at DESC, id DESC);
CREATE INDEX generations_user_aspect ON generations (user_id, aspect_ratio, created_at DESC, id DESC);
-- Mode: image-to-image only (a tenth of a history, or less); text-to-image is most of
-- every history, found among the newest rows, and an index of it would cost as much as
-- generations_user_created for nothing.
CREATE INDEX generations_user_i2i ON generations (user_id, created_at DESC, id DESC) WHERE generation_mode = 'image-to-image';

-- Prompts' words: an FTS5 index of each generation's prompt and its owner ("u" and the
-- user id, a column of its own), keyed by the row's rowid, job_id. A search matches the
-- owner's token with the words, so it reads that user's entries, not every user's who
-- wrote the word. Contentless (the prompt is not stored twice), with contentless_delete
-- so a row's entry goes with it. unicode61 with remove_diacritics 2 folds case and
-- Latin accents ("Café" is found by "cafe"); PostgreSQL folds the same way (its
-- migration 0019), so both engines find the same rows. A retry gives the row a new
-- job_id: the trigger moves its entry.
CREATE VIRTUAL TABLE generations_fts USING fts5 (prompt, owner, content = '', contentless_delete = 1,
    tokenize = "unicode61 remove_diacritics 2");
CREATE TRIGGER generations_fts_insert AFTER INSERT ON generations BEGIN
    INSERT INTO generations_fts (rowid, prompt, owner) VALUES (new.job_id, new.prompt, 'u' || new.user_id);
END;
CREATE TRIGGER generations_fts_delete AFTER DELETE ON generations BEGIN
    DELETE FROM generations_fts WHERE rowid = old.job_id;
END;
CREATE TRIGGER generations_fts_update AFTER UPDATE OF job_id, prompt ON generations
    WHEN old.job_id IS NOT new.job_id OR old.prompt IS NOT new.prompt BEGIN
    DELETE FROM generations_fts WHERE rowid = old.job_id;
    INSERT INTO generations_fts (rowid, prompt, owner) VALUES (new.job_id, new.prompt, 'u' || new.user_id);
END;
-- The rows already there.
INSERT INTO generations_fts (rowid, prompt, owner) SELECT job_id, prompt, 'u' || user_id FROM generations;
