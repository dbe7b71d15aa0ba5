-- Accounts: users and their refresh-token families.
CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    username         TEXT    NOT NULL CHECK (length(username) BETWEEN 3 AND 32),
    email            TEXT    NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash    TEXT    NOT NULL,
    is_admin         INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    -- bumped by a password change or "sign out everywhere": access tokens carry it, and a
    -- token whose version is older than the row's is refused at once
    token_version    INTEGER NOT NULL DEFAULT 1,
    -- the user's Replicate key, sealed (version byte | nonce | ciphertext), never plaintext
    api_key_sealed   BLOB,
    api_key_last4    TEXT,
    api_key_verified INTEGER NOT NULL DEFAULT 0 CHECK (api_key_verified IN (0, 1)),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- every token minted by rotation from one login shares the family; presenting a spent
    -- token revokes the whole family (it was stolen, or the client is confused)
    family      TEXT    NOT NULL,
    token_hash  BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
