-- Generations, the durable queue that runs them, reference uploads, and the event log that
-- feeds Server-Sent Events. Timestamps are Unix milliseconds.

CREATE TABLE generations (
    id                  TEXT    PRIMARY KEY,
    user_id             INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status              TEXT    NOT NULL
                        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'canceled')),
    prompt              TEXT    NOT NULL CHECK (length(prompt) > 0),
    resolution          TEXT    NOT NULL,
    aspect_ratio        TEXT    NOT NULL,
    output_format       TEXT    NOT NULL,
    safety_filter_level TEXT    NOT NULL,
    generation_mode     TEXT    NOT NULL CHECK (generation_mode IN ('text-to-image', 'image-to-image')),
    -- JSON array of upload ids: kept so "run again" works with the same references
    reference_ids       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(reference_ids)),
    -- a sentence a person can act on; '' while there is nothing to say
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
    updated_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX generations_user_created ON generations (user_id, created_at DESC, id DESC);
CREATE INDEX generations_user_status_created ON generations (user_id, status, created_at DESC, id DESC);

-- One row per generation: the attempt chain that runs it. state is the queue's view:
--   queued    waiting for a worker (run_after holds back retries)
--   running   claimed: lease_owner holds it until lease_until, extended while it works
--   done      the generation completed
--   failed    gave up (last_error says why)
--   canceled  the user canceled it
-- phase is where a running chain is inside one attempt, so a restart knows what it may do:
--   NULL          nothing sent to Replicate yet (or the last prediction ended and a new
--                 create is allowed)
--   'submitting'  a create may have reached Replicate but its id is not recorded: before
--                 creating again, look for it in Replicate's recent predictions
--   'submitted'   prediction_id is recorded: only ever poll it, never create another
--   'downloading' the prediction succeeded; its output is being stored
CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,
    generation_id     TEXT    NOT NULL UNIQUE REFERENCES generations (id) ON DELETE CASCADE,
    user_id           INTEGER NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'canceled')),
    phase             TEXT    CHECK (phase IN ('submitting', 'submitted', 'downloading')),
    cancel_requested  INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts      INTEGER NOT NULL CHECK (max_attempts > 0),
    run_after         INTEGER NOT NULL,
    lease_until       INTEGER,
    lease_owner       TEXT,
    last_error        TEXT    NOT NULL DEFAULT '',
    prediction_id     TEXT,
    submit_started_at INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    CHECK (state <> 'running' OR (lease_until IS NOT NULL AND lease_owner IS NOT NULL)),
    CHECK (phase IS NOT 'submitted' OR prediction_id IS NOT NULL)
) STRICT;
-- the claim walks each user's queued jobs oldest first
CREATE INDEX jobs_queued_user ON jobs (user_id, id) WHERE state = 'queued';
-- the rescuer finds expired leases
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE state = 'running';
-- a webhook or a reconciliation finds the job of a prediction; one prediction, one job
CREATE UNIQUE INDEX jobs_prediction ON jobs (prediction_id) WHERE prediction_id IS NOT NULL;

-- Per-user counts of queued and running jobs, kept by triggers. The fair claim and the
-- queue position read this small table (one row per user with work) instead of counting
-- the whole queue on every enqueue and claim.
CREATE TABLE queue_users (
    user_id INTEGER PRIMARY KEY,
    queued  INTEGER NOT NULL DEFAULT 0 CHECK (queued >= 0),
    running INTEGER NOT NULL DEFAULT 0 CHECK (running >= 0)
) STRICT;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
WHEN new.state IN ('queued', 'running')
BEGIN
    INSERT INTO queue_users (user_id, queued, running)
    VALUES (new.user_id, new.state = 'queued', new.state = 'running')
    ON CONFLICT (user_id) DO UPDATE SET
        queued = queued + (new.state = 'queued'),
        running = running + (new.state = 'running');
END;

CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs
WHEN old.state IS NOT new.state
  AND (old.state IN ('queued', 'running') OR new.state IN ('queued', 'running'))
BEGIN
    INSERT INTO queue_users (user_id, queued, running) VALUES (new.user_id, 0, 0)
    ON CONFLICT (user_id) DO NOTHING;
    UPDATE queue_users SET
        queued = queued - (old.state = 'queued') + (new.state = 'queued'),
        running = running - (old.state = 'running') + (new.state = 'running')
    WHERE user_id = new.user_id;
    DELETE FROM queue_users WHERE user_id = new.user_id AND queued = 0 AND running = 0;
END;

CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
WHEN old.state IN ('queued', 'running')
BEGIN
    UPDATE queue_users SET
        queued = queued - (old.state = 'queued'),
        running = running - (old.state = 'running')
    WHERE user_id = old.user_id;
    DELETE FROM queue_users WHERE user_id = old.user_id AND queued = 0 AND running = 0;
END;

CREATE TABLE uploads (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    storage_key  TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    width        INTEGER NOT NULL CHECK (width > 0),
    height       INTEGER NOT NULL CHECK (height > 0),
    bytes        INTEGER NOT NULL CHECK (bytes > 0),
    sha256       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX uploads_user ON uploads (user_id, created_at);

-- The log the SSE stream replays from (Last-Event-ID); pruned by age.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL,
    generation_id TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    data          TEXT    NOT NULL CHECK (json_valid(data)),
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX events_user ON events (user_id, id);
CREATE INDEX events_created ON events (created_at);
