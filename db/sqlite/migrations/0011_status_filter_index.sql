-- A list filtered by status walked generations_user_created through the user's whole
-- history and skipped the other statuses (0003 dropped the status index to make writes
-- leaner): for a user with 100,000 generations, ?status=running read them all.
--
-- No index is added for pending and running, the statuses the app asks for on every
-- page load: those generations are the user's part of the queue, which the queue's own
-- indexes already find (generations_queued_user_run by user, generations_running_lease
-- for what runs now), so the list reads them from there (db/sqlstore/generations.go). An
-- index holding them would be written three more times by every job (created, started,
-- finished): what 0003 took away.
--
-- Completed is most of any history, and its filter finds its page among the newest rows.
-- Failed and canceled are rare, and a generation becomes one at most once: this index
-- holds only those, by user and status, newest first. A job that completes never writes
-- it. The list names the condition in its text so the planner may use the index for a
-- bound status.
CREATE INDEX generations_user_status_ended ON generations (user_id, status, created_at DESC, id DESC)
    WHERE status IN ('failed', 'canceled');
