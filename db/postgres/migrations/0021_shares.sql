-- Public links to single images: see db/sqlite/migrations/0022_shares.sql.
CREATE TABLE shares (
    token         TEXT    PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation_id TEXT    REFERENCES generations (id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT
);
CREATE INDEX shares_user ON shares (user_id, created_at);
CREATE INDEX shares_generation ON shares (generation_id);
