-- Public links to single images. The token is the link's secret (128 random bits) and
-- its key; it is kept as it is so its owner can copy the link again from the list (it
-- grants reading one image its owner chose to show). Revoking deletes the row; the
-- image's deletion takes its links with it. generation_id is nullable so a later
-- migration can add links to other things (a board) beside it.
CREATE TABLE shares (
    token         TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation_id TEXT    REFERENCES generations (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER            -- NULL: never
) STRICT;
CREATE INDEX shares_user ON shares (user_id, created_at);
CREATE INDEX shares_generation ON shares (generation_id);
