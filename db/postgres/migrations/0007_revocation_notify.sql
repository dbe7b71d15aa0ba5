-- Revocations reach open event streams in every process: a disabled account, a bumped
-- token version (password change, sign out everywhere) and an ended session signal the
-- user's subscribers on the events channel, as a new event does; each stream then
-- checks its caller again and ends if it is no longer served.
CREATE FUNCTION users_revoked_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nanobanana_events', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER users_revoked_notify AFTER UPDATE OF token_version, disabled ON users
    FOR EACH ROW WHEN (NEW.token_version IS DISTINCT FROM OLD.token_version OR NEW.disabled IS DISTINCT FROM OLD.disabled)
    EXECUTE FUNCTION users_revoked_notify();

CREATE FUNCTION sessions_revoked_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nanobanana_events', NEW.user_id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER sessions_revoked_notify AFTER UPDATE OF revoked_at ON refresh_tokens
    FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL)
    EXECUTE FUNCTION sessions_revoked_notify();
