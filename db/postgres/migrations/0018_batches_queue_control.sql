-- Batches and each user's control of their own queue: see
-- ../../sqlite/migrations/0019_batches_queue_control.sql.
ALTER TABLE generations ADD COLUMN batch_id TEXT;
ALTER TABLE generations ADD COLUMN queue_rank BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN queue_paused BIGINT NOT NULL DEFAULT 0 CHECK (queue_paused IN (0, 1));
CREATE INDEX generations_batch ON generations (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX generations_queued_user_rank ON generations (user_id, queue_rank, job_id) INCLUDE (run_after) WHERE state = 'queued';
DROP INDEX generations_queued_user_run;
CREATE INDEX users_queue_paused ON users (id) WHERE queue_paused = 1;
