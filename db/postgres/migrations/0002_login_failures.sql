-- Failed sign-ins per key in fixed windows: see ../migrations/0004_login_failures.sql.
CREATE TABLE login_failures (
    key      TEXT    PRIMARY KEY,
    fails    BIGINT  NOT NULL CHECK (fails > 0),
    reset_at BIGINT  NOT NULL
);
