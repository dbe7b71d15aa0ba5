-- Batches and each user's control of their own queue.
--   batch_id     the batch a generation was asked for in (POST /images/generate with
--                count or prompts): 2 to 4 generations, each its own job and
--                prediction, created in one transaction; NULL for a single one
--   queue_rank   the user's manual order of their queued jobs: the claim takes a
--                user's job by (queue_rank, job_id). New jobs have 0 and the largest
--                job id, so they are last; "to the front" sets one below the user's
--                lowest rank, "to the back" 0 and a new job id (as a retry does), so
--                no rank is ever above 0 and a new job stays last
--   queue_paused a user's own pause: their pending generations stay queued and are
--                not claimed (a generation already running, waiting between tries,
--                still is: its paid prediction must not be lost)
ALTER TABLE generations ADD COLUMN batch_id TEXT;
ALTER TABLE generations ADD COLUMN queue_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN queue_paused INTEGER NOT NULL DEFAULT 0 CHECK (queue_paused IN (0, 1));
CREATE INDEX generations_batch ON generations (batch_id) WHERE batch_id IS NOT NULL;
-- The claim's candidate of a user is now the first by (queue_rank, job_id): the queued
-- index gains the rank before the job id (and keeps run_after, so it still covers the
-- claim and the user's part of a pending or running list).
CREATE INDEX generations_queued_user_rank ON generations (user_id, queue_rank, job_id, run_after) WHERE state = 'queued';
DROP INDEX generations_queued_user_run;
-- The few paused users, which the claim and the queue positions leave out.
CREATE INDEX users_queue_paused ON users (id) WHERE queue_paused = 1;
