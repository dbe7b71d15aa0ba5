-- Idempotency keys of generate (Idempotency-Key): the same key from the same user
-- within db.IdempotencyTTL answers the generation it first made. The key is stored in
-- the transaction that inserts the generation, and the unique (user_id, key) decides
-- between concurrent requests. request_hash is the SHA-256 of the request's
-- parameters: the key sent again with other parameters is refused. A row goes with its
-- generation; expired rows are pruned now and then.
CREATE TABLE idempotency_keys (
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    generation_id TEXT    NOT NULL REFERENCES generations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    request_hash  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) STRICT;
CREATE INDEX idempotency_keys_generation ON idempotency_keys (generation_id);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
