-- Settings an admin changes without a restart (prices, default limits, registration,
-- the queue's pause...). The environment gives each key's first value; a row here wins
-- over it until it is deleted. value is the key's JSON; updated_by the admin who stored
-- it (NULL when written by the shell or the admin account is gone).
CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL CHECK (json_valid(value)),
    updated_at INTEGER NOT NULL,
    updated_by INTEGER REFERENCES users (id) ON DELETE SET NULL
) STRICT;
