-- Fewer b-trees written per job. Every b-tree a statement touches is at least one more
-- page in the WAL at commit, and the single writer spent a third of its time writing
-- pages: ~35 per job (enqueue, claim, prediction, completion) before this, ~25 after.

-- A status change moved the generation's entry in this index (pending, running, then
-- completed). A status-filtered list walks generations_user_created instead and skips
-- the other statuses; a page is at most 100 rows.
DROP INDEX generations_user_status_created;

-- The events table again, without AUTOINCREMENT (which writes sqlite_sequence with every
-- event), without the index on created_at (pruning goes by id: ids grow with time) and
-- without the json_valid check (run on every insert; the data is always encoded by
-- db.insertEvent). Ids must still never go back, or an SSE client's Last-Event-ID would
-- skip new events: a plain rowid is one past the largest present, so PruneEvents always
-- keeps the newest event, and the highest id AUTOINCREMENT ever gave is carried over as a
-- marker row (user 0, which no account has, so no stream shows it) when the rows that
-- had it are gone.
CREATE TABLE events_new (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL,
    generation_id TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    data          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
INSERT INTO events_new (id, user_id, generation_id, type, data, created_at)
    SELECT id, user_id, generation_id, type, data, created_at FROM events;
INSERT INTO events_new (id, user_id, generation_id, type, data, created_at)
    SELECT seq, 0, '', 'mark', '{}', 0 FROM sqlite_sequence
    WHERE name = 'events' AND seq > (SELECT coalesce(max(id), 0) FROM events);
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_user ON events (user_id, id);

-- The count triggers with one upsert per state change instead of an insert-or-nothing,
-- an update and a delete; the delete of an emptied row runs only when a job leaves the
-- queue.
DROP TRIGGER jobs_count_update;
CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs
WHEN old.state IS NOT new.state
  AND (old.state IN ('queued', 'running') OR new.state IN ('queued', 'running'))
BEGIN
    INSERT INTO queue_users (user_id, queued, running)
    VALUES (new.user_id, new.state = 'queued', new.state = 'running')
    ON CONFLICT (user_id) DO UPDATE SET
        queued = queued - (old.state = 'queued') + (new.state = 'queued'),
        running = running - (old.state = 'running') + (new.state = 'running');
    DELETE FROM queue_users WHERE new.state NOT IN ('queued', 'running')
        AND user_id = new.user_id AND queued = 0 AND running = 0;
END;
