-- Cost, books and spending limits: see db/sqlite/migrations/0016_spending.sql.
ALTER TABLE generations ADD COLUMN cost_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN paid_by TEXT NOT NULL DEFAULT '' CHECK (paid_by IN ('', 'shared', 'own'));
ALTER TABLE generations ADD COLUMN reserved_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN booked_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN spend_day BIGINT NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN metrics TEXT;

CREATE TABLE spending (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day     BIGINT NOT NULL,
    paid_by TEXT   NOT NULL CHECK (paid_by IN ('shared', 'own')),
    micros  BIGINT NOT NULL DEFAULT 0,
    images  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day, paid_by)
);
CREATE INDEX spending_day ON spending (day, paid_by);

CREATE TABLE user_limits (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    override   TEXT   CHECK (override IS NULL OR override::jsonb IS NOT NULL),
    self       TEXT   NOT NULL DEFAULT '{}' CHECK (self::jsonb IS NOT NULL),
    updated_at BIGINT NOT NULL
);
