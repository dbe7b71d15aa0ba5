-- Cost, books and spending limits.
--   cost_micros      what one prediction of this generation costs (the price table's
--                    figure for its resolution when it was queued), in millionths of a
--                    US dollar: sums of integers stay exact where sums of 0.15 do not
--   paid_by          'shared' (the install's token) or 'own' (the user's key); '' for
--                    generations made before this migration (no books)
--   reserved_micros  the reservation made when it was queued, until Replicate accepts
--                    its prediction (then booked) or it ends without reaching Replicate
--                    (then released)
--   booked_micros    what Replicate accepted: each new prediction books its cost again;
--                    an aborted one (never started, not charged) is taken back
--   spend_day        the UTC day (days since 1970-01-01) its reservation or last booking
--                    counts in
--   metrics          Replicate's metrics of its prediction (predict_time...), as JSON
ALTER TABLE generations ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN paid_by TEXT NOT NULL DEFAULT '' CHECK (paid_by IN ('', 'shared', 'own'));
ALTER TABLE generations ADD COLUMN reserved_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN booked_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN spend_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN metrics TEXT;

-- The books by user, UTC day and payer: what is reserved or booked (micros) and how
-- many images that is. A limit check sums a day's row or a month's rows; the shared
-- token's monthly cap sums every user's shared rows of the month (spending_day). Rows
-- outlive the generations they count: a deleted image was still paid for.
CREATE TABLE spending (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day     INTEGER NOT NULL,
    paid_by TEXT    NOT NULL CHECK (paid_by IN ('shared', 'own')),
    micros  INTEGER NOT NULL DEFAULT 0,
    images  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day, paid_by)
) STRICT;
CREATE INDEX spending_day ON spending (day, paid_by);

-- Per-user limits: override (JSON db.Limits, set by an admin; NULL: the install's
-- default_limits apply) bounds what the user spends through the shared token; self
-- (set by the user) bounds everything the user spends, their own key included.
CREATE TABLE user_limits (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    override   TEXT    CHECK (override IS NULL OR json_valid(override)),
    self       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(self)),
    updated_at INTEGER NOT NULL
) STRICT;
