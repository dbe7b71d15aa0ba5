-- One b-tree fewer per event. events_user (user_id, id) took every event into its
-- user's part of the index: a commit carrying the events of three users wrote three
-- more pages (2.6 WAL pages per job in BenchmarkQueueOverhead, a sixth of all). A
-- stream reads its user's events after the last one it sent, and ids grow with time,
-- so walking the table from that id and skipping other users' events reads what was
-- logged since, which a live stream keeps short; a reconnect from long ago reads at
-- most the retained day once.
DROP INDEX events_user;
