-- Idempotency keys of generate: see db/sqlite/migrations/0014_idempotency_keys.sql.
CREATE TABLE idempotency_keys (
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key           TEXT   NOT NULL,
    generation_id TEXT   NOT NULL REFERENCES generations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    request_hash  TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_generation ON idempotency_keys (generation_id);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
