-- Settings: see db/sqlite/migrations/0015_settings.sql. A change is announced on the
-- nanobanana_settings channel at commit, so every process reads the new values at once.
CREATE TABLE settings (
    key        TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL CHECK (value::jsonb IS NOT NULL),
    updated_at BIGINT NOT NULL,
    updated_by BIGINT REFERENCES users (id) ON DELETE SET NULL
);

CREATE FUNCTION settings_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nanobanana_settings', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER settings_notify AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION settings_notify();
