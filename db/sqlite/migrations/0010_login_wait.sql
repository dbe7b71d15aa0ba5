-- Sign-in attempts are counted before their password is checked, and an account's
-- failures make it wait longer each time (see db/sqlstore/throttle.go). next_at is when
-- the key's next attempt may be checked (Unix ms; 0 for a key that never waits, such as
-- an address). Existing rows keep their count and may try at once.
ALTER TABLE login_failures ADD COLUMN next_at INTEGER NOT NULL DEFAULT 0;
