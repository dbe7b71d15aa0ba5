-- The claim's candidate for each user is the user's oldest queued job that may run now
-- (run_after <= now). generations_queued_user gave the candidates in order, but each
-- one's run_after was read from the table row. With run_after in the index, the claim
-- reads the index alone. The index is otherwise the same (user, job order, queued rows
-- only), so the queue position's count walks it as before.
CREATE INDEX generations_queued_user_run ON generations (user_id, job_id, run_after) WHERE state = 'queued';
DROP INDEX generations_queued_user;
