-- Public links to one image or one board: see db/sqlite/migrations/0022_shares.sql.
CREATE TABLE shares (
    token         TEXT    PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation_id TEXT    REFERENCES generations (id) ON DELETE CASCADE,
    board_id      TEXT    REFERENCES boards (id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT,
    CHECK ((generation_id IS NULL) <> (board_id IS NULL))
);
CREATE INDEX shares_user ON shares (user_id, created_at);
CREATE INDEX shares_generation ON shares (generation_id);
CREATE INDEX shares_board ON shares (board_id);
