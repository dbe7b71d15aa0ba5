-- Boards and saved prompts (issue 13); the same as SQLite's 0021.
--
-- A board is a user's named set of generations; a generation may be on several.
-- board_items keeps the generation's created_at so a board's page is read in order from
-- board_items_order (newest first, keyset on created_at, id, as the gallery), and goes
-- with its board or its generation.
CREATE TABLE boards (
    id         TEXT    PRIMARY KEY,
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);
CREATE INDEX boards_user ON boards (user_id, created_at DESC);
CREATE TABLE board_items (
    board_id      TEXT    NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    generation_id TEXT    NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL, -- the generation's
    added_at      BIGINT  NOT NULL,
    PRIMARY KEY (board_id, generation_id)
);
CREATE INDEX board_items_order ON board_items (board_id, created_at DESC, generation_id DESC);
CREATE INDEX board_items_generation ON board_items (generation_id);

-- Saved prompts: a prompt the user named to use again.
CREATE TABLE saved_prompts (
    id         TEXT    PRIMARY KEY,
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prompt     TEXT    NOT NULL CHECK (length(prompt) > 0),
    created_at BIGINT  NOT NULL
);
CREATE INDEX saved_prompts_user ON saved_prompts (user_id, created_at DESC);

