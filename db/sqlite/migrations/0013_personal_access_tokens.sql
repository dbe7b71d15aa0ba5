-- Personal access tokens: a user's long-lived credentials for scripts, each with its
-- scopes. Only the SHA-256 of the secret is stored (the secret is 256 random bits, so a
-- fast hash is enough); prefix is its first characters, shown to tell tokens apart.
-- Revoking deletes the row: the next request with the token finds nothing.
CREATE TABLE access_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL CHECK (length(scopes) > 0), -- space-separated words
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,          -- NULL: never
    last_used_at INTEGER           -- NULL: never used
) STRICT;
CREATE INDEX access_tokens_user ON access_tokens (user_id);
