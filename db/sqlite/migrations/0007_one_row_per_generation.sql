-- One row for a generation and its job. Every step of the queue (enqueue, claim,
-- prediction id, completion) wrote a jobs row beside its generations row: two statements,
-- and the pages of two tables and of jobs.generation_id's unique index, per step. The
-- queue's columns (see 0002 for what state and phase mean) now live in the generation's
-- row. job_id is the row's rowid: a job is looked up by it without an index, new jobs
-- take the next one (the queue's order), and a retried generation takes a new one (the
-- back of the queue). The job ids of existing jobs are kept.
--   job_created_at  when the current job (attempt chain) began: the generation's
--                   creation, or its last "run again"
--   started_by      the lease owner of the claim that moved the generation from pending
--                   to running: RETURNING shows only new values, so this is how that
--                   claim tells the generations it started (and owes an event) from
--                   resumed ones
-- prediction_id is the job's: cleared when an attempt may create a new prediction.
CREATE TABLE generations_new (
    job_id              INTEGER PRIMARY KEY,
    id                  TEXT    NOT NULL UNIQUE,
    user_id             INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status              TEXT    NOT NULL
                        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'canceled')),
    prompt              TEXT    NOT NULL CHECK (length(prompt) > 0),
    resolution          TEXT    NOT NULL,
    aspect_ratio        TEXT    NOT NULL,
    output_format       TEXT    NOT NULL,
    safety_filter_level TEXT    NOT NULL,
    generation_mode     TEXT    NOT NULL CHECK (generation_mode IN ('text-to-image', 'image-to-image')),
    reference_ids       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(reference_ids)),
    error               TEXT    NOT NULL DEFAULT '',
    prediction_id       TEXT,
    image_key           TEXT,
    image_type          TEXT,
    thumb_key           TEXT,
    width               INTEGER,
    height              INTEGER,
    bytes               INTEGER,
    sha256              TEXT,
    created_at          INTEGER NOT NULL,
    started_at          INTEGER,
    completed_at        INTEGER,
    updated_at          INTEGER NOT NULL,
    state               TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'canceled')),
    phase               TEXT    CHECK (phase IN ('submitting', 'submitted', 'downloading')),
    cancel_requested    INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts        INTEGER NOT NULL CHECK (max_attempts > 0),
    run_after           INTEGER NOT NULL,
    lease_until         INTEGER,
    lease_owner         TEXT,
    last_error          TEXT    NOT NULL DEFAULT '',
    submit_started_at   INTEGER,
    submit_owner        TEXT,
    job_created_at      INTEGER NOT NULL,
    started_by          TEXT,
    CHECK (state <> 'running' OR (lease_until IS NOT NULL AND lease_owner IS NOT NULL)),
    CHECK (phase IS NOT 'submitted' OR prediction_id IS NOT NULL)
) STRICT;

-- Every generation has its job (they were written together); one without would be
-- carried over as finished, with its status's queue state.
INSERT INTO generations_new (job_id, id, user_id, status, prompt, resolution, aspect_ratio,
    output_format, safety_filter_level, generation_mode, reference_ids, error, prediction_id,
    image_key, image_type, thumb_key, width, height, bytes, sha256, created_at, started_at,
    completed_at, updated_at, state, phase, cancel_requested, attempts, max_attempts,
    run_after, lease_until, lease_owner, last_error, submit_started_at, submit_owner,
    job_created_at)
SELECT j.id, g.id, g.user_id, g.status, g.prompt, g.resolution, g.aspect_ratio,
    g.output_format, g.safety_filter_level, g.generation_mode, g.reference_ids, g.error,
    CASE WHEN j.id IS NULL THEN g.prediction_id ELSE j.prediction_id END,
    g.image_key, g.image_type, g.thumb_key, g.width, g.height, g.bytes, g.sha256,
    g.created_at, g.started_at, g.completed_at, max(g.updated_at, coalesce(j.updated_at, 0)),
    coalesce(j.state, CASE g.status WHEN 'completed' THEN 'done' WHEN 'failed' THEN 'failed'
        ELSE 'canceled' END),
    j.phase, coalesce(j.cancel_requested, 0), coalesce(j.attempts, 0),
    coalesce(j.max_attempts, 5), coalesce(j.run_after, g.created_at), j.lease_until,
    j.lease_owner, coalesce(j.last_error, ''), j.submit_started_at, j.submit_owner,
    coalesce(j.created_at, g.created_at)
FROM generations g LEFT JOIN jobs j ON j.generation_id = g.id
ORDER BY j.id IS NULL, j.id;

DROP TABLE jobs;
DROP TABLE generations;
ALTER TABLE generations_new RENAME TO generations;
CREATE INDEX generations_user_created ON generations (user_id, created_at DESC, id DESC);
-- the claim walks each user's queued jobs oldest first
CREATE INDEX generations_queued_user ON generations (user_id, job_id) WHERE state = 'queued';
-- the rescuer finds expired leases
CREATE INDEX generations_running_lease ON generations (lease_until) WHERE state = 'running';
-- a webhook or a reconciliation finds the job of a prediction; one prediction, one job
CREATE UNIQUE INDEX generations_prediction ON generations (prediction_id) WHERE prediction_id IS NOT NULL;

-- queue_users as the jobs triggers kept it, now from the generations' queue state.
DELETE FROM queue_users;
INSERT INTO queue_users (user_id, queued, running)
    SELECT user_id, sum(state = 'queued'), sum(state = 'running') FROM generations
    WHERE state IN ('queued', 'running') GROUP BY user_id;

CREATE TRIGGER generations_count_insert AFTER INSERT ON generations
WHEN new.state IN ('queued', 'running')
BEGIN
    INSERT INTO queue_users (user_id, queued, running)
    VALUES (new.user_id, new.state = 'queued', new.state = 'running')
    ON CONFLICT (user_id) DO UPDATE SET
        queued = queued + (new.state = 'queued'),
        running = running + (new.state = 'running');
END;

CREATE TRIGGER generations_count_update AFTER UPDATE OF state ON generations
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

CREATE TRIGGER generations_count_delete AFTER DELETE ON generations
WHEN old.state IN ('queued', 'running')
BEGIN
    UPDATE queue_users SET
        queued = queued - (old.state = 'queued'),
        running = running - (old.state = 'running')
    WHERE user_id = old.user_id;
    DELETE FROM queue_users WHERE user_id = old.user_id AND queued = 0 AND running = 0;
END;
