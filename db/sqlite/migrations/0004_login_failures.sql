-- Failed sign-ins per key ("acct:<name>" or "addr:<ip>") in fixed windows, kept in the
-- database so a restart does not forget them and several processes (PostgreSQL) count
-- together. A row lives until its window has passed and it is pruned.
CREATE TABLE login_failures (
    key      TEXT    PRIMARY KEY,
    fails    INTEGER NOT NULL CHECK (fails > 0),
    reset_at INTEGER NOT NULL
) STRICT;
