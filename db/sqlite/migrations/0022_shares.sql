-- Public links to one image or one board. The token is the link's secret (128 random
-- bits) and its key; it is kept as it is so its owner can copy the link again from the
-- list (it grants reading what its owner chose to show). Revoking deletes the row; the image's
-- or the board's deletion takes its links with it. A link names exactly one of the two.
CREATE TABLE shares (
    token         TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation_id TEXT    REFERENCES generations (id) ON DELETE CASCADE,
    board_id      TEXT    REFERENCES boards (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,           -- NULL: never
    CHECK ((generation_id IS NULL) <> (board_id IS NULL)) -- one image or one board
) STRICT;
CREATE INDEX shares_user ON shares (user_id, created_at);
CREATE INDEX shares_generation ON shares (generation_id);
CREATE INDEX shares_board ON shares (board_id);
