-- One row for a generation and its job: see ../migrations/0007_one_row_per_generation.sql.
-- job_id comes from a sequence of its own (new jobs, and a retried generation's new
-- job, take the next value: the queue's order); existing jobs keep their ids.
ALTER TABLE generations
    ADD COLUMN job_id            BIGINT,
    ADD COLUMN state             TEXT,
    ADD COLUMN phase             TEXT CHECK (phase IN ('submitting', 'submitted', 'downloading')),
    ADD COLUMN cancel_requested  BIGINT NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    ADD COLUMN attempts          BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN max_attempts      BIGINT NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    ADD COLUMN run_after         BIGINT,
    ADD COLUMN lease_until       BIGINT,
    ADD COLUMN lease_owner       TEXT,
    ADD COLUMN last_error        TEXT NOT NULL DEFAULT '',
    ADD COLUMN submit_started_at BIGINT,
    ADD COLUMN submit_owner      TEXT,
    ADD COLUMN job_created_at    BIGINT,
    ADD COLUMN started_by        TEXT;

UPDATE generations g SET job_id = j.id, state = j.state, phase = j.phase,
    cancel_requested = j.cancel_requested, attempts = j.attempts, max_attempts = j.max_attempts,
    run_after = j.run_after, lease_until = j.lease_until, lease_owner = j.lease_owner,
    last_error = j.last_error, submit_started_at = j.submit_started_at,
    submit_owner = j.submit_owner, job_created_at = j.created_at,
    prediction_id = j.prediction_id, updated_at = greatest(g.updated_at, j.updated_at)
FROM jobs j WHERE j.generation_id = g.id;

CREATE SEQUENCE generations_job_id_seq OWNED BY generations.job_id;
SELECT setval('generations_job_id_seq', greatest((SELECT max(id) FROM jobs), 1),
    (SELECT count(*) > 0 FROM jobs));
-- A generation without a job (none is expected) is carried over as finished.
UPDATE generations SET job_id = nextval('generations_job_id_seq'),
    state = CASE status WHEN 'completed' THEN 'done' WHEN 'failed' THEN 'failed' ELSE 'canceled' END,
    run_after = created_at, job_created_at = created_at
WHERE job_id IS NULL;

DROP TABLE jobs;

ALTER TABLE generations
    ALTER COLUMN job_id SET DEFAULT nextval('generations_job_id_seq'),
    ALTER COLUMN job_id SET NOT NULL,
    ALTER COLUMN state SET NOT NULL,
    ALTER COLUMN run_after SET NOT NULL,
    ALTER COLUMN job_created_at SET NOT NULL,
    ALTER COLUMN max_attempts DROP DEFAULT,
    ADD CHECK (state IN ('queued', 'running', 'done', 'failed', 'canceled')),
    ADD CHECK (state <> 'running' OR (lease_until IS NOT NULL AND lease_owner IS NOT NULL)),
    ADD CHECK (phase IS DISTINCT FROM 'submitted' OR prediction_id IS NOT NULL);
CREATE UNIQUE INDEX generations_job_id ON generations (job_id);
CREATE INDEX generations_queued_user ON generations (user_id, job_id) WHERE state = 'queued';
CREATE INDEX generations_running_lease ON generations (lease_until) WHERE state = 'running';
CREATE UNIQUE INDEX generations_prediction ON generations (prediction_id) WHERE prediction_id IS NOT NULL;

-- queue_users as the jobs trigger kept it, now from the generations' queue state; the
-- same trigger function keeps it (it reads only user_id and state).
DELETE FROM queue_users;
INSERT INTO queue_users (user_id, queued, running)
    SELECT user_id, count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'running')
    FROM generations WHERE state IN ('queued', 'running') GROUP BY user_id;

CREATE TRIGGER generations_count_insert AFTER INSERT ON generations
    FOR EACH ROW WHEN (NEW.state IN ('queued', 'running')) EXECUTE FUNCTION jobs_count();
CREATE TRIGGER generations_count_update AFTER UPDATE OF state ON generations
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
        AND (OLD.state IN ('queued', 'running') OR NEW.state IN ('queued', 'running')))
    EXECUTE FUNCTION jobs_count();
CREATE TRIGGER generations_count_delete AFTER DELETE ON generations
    FOR EACH ROW WHEN (OLD.state IN ('queued', 'running')) EXECUTE FUNCTION jobs_count();

CREATE TRIGGER generations_notify_insert AFTER INSERT ON generations
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION jobs_notify();
CREATE TRIGGER generations_notify_update AFTER UPDATE OF state ON generations
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state IS DISTINCT FROM 'queued')
    EXECUTE FUNCTION jobs_notify();
