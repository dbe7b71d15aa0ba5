-- As SQLite's 0008: the claim's per-user candidate (oldest queued job with run_after <=
-- now) is found from the index alone, without reading each candidate's row for
-- run_after.
CREATE INDEX generations_queued_user_run ON generations (user_id, job_id) INCLUDE (run_after) WHERE state = 'queued';
DROP INDEX generations_queued_user;
