-- Administration: approval of new accounts, single-use invitations, the audit log.
--   users.approved   0: the account may not spend the shared Replicate token until an
--                    administrator approves it (approval_required); its own key works.
--                    Every account that existed before is approved.
-- An invitation is a secret link: only the SHA-256 of its token is kept (256 random
-- bits, so a fast hash is enough). It is used once (used_at, used_by) in the
-- transaction that creates the account, and is good until expires_at unless revoked.
-- The audit log keeps the names of actor and subject beside their ids, so an entry
-- still reads the same after the account is gone; it never holds a secret.
ALTER TABLE users ADD COLUMN approved INTEGER NOT NULL DEFAULT 1 CHECK (approved IN (0, 1));

CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY,
    token_hash  BLOB    NOT NULL UNIQUE,
    note        TEXT    NOT NULL DEFAULT '' CHECK (length(note) <= 200),
    created_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    used_by     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX invitations_created ON invitations (created_at);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    action     TEXT    NOT NULL CHECK (length(action) > 0),
    actor_id   INTEGER,
    actor      TEXT    NOT NULL DEFAULT '',
    subject_id INTEGER,
    subject    TEXT    NOT NULL DEFAULT '',
    client     TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
) STRICT;
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (lower(actor), id);
CREATE INDEX audit_log_subject ON audit_log (lower(subject), id);
CREATE INDEX audit_log_action ON audit_log (action, id);
