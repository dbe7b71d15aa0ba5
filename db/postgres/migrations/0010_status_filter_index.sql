-- The index of a list filtered by failed or canceled: see
-- ../migrations/0011_status_filter_index.sql.
CREATE INDEX generations_user_status_ended ON generations (user_id, status, created_at DESC, id DESC)
    WHERE status IN ('failed', 'canceled');
