-- When a key's next sign-in attempt may be checked: see ../migrations/0010_login_wait.sql.
ALTER TABLE login_failures ADD COLUMN next_at BIGINT NOT NULL DEFAULT 0;
