package server

import (
	"context"
	"log/slog"
	"time"

	"nanobanana/db"
)

// throttle counts failed sign-ins per key ("acct:<name>", "addr:<ip>") in fixed windows,
// in the database: a restart does not forget them, and processes sharing a PostgreSQL
// database count together, so spreading guesses over processes gains nothing. A
// database error is logged and lets the attempt through: the sign-in that follows needs
// the database too and fails on its own.
type throttle struct {
	db     db.Store
	log    *slog.Logger
	limit  int
	window time.Duration
	now    func() time.Time
}

func newThrottle(d db.Store, log *slog.Logger, limit int, window time.Duration, now func() time.Time) *throttle {
	return &throttle{db: d, log: log, limit: limit, window: window, now: now}
}

// blocked reports how long key must wait (0 when it may try) and whether it has
// failures to clear after a success.
func (t *throttle) blocked(ctx context.Context, key string) (time.Duration, bool) {
	wait, fails, err := t.db.LoginBlocked(ctx, key, t.limit, t.now())
	if err != nil {
		t.log.ErrorContext(ctx, "login throttle", "err", err)
	}
	return wait, fails > 0
}

// fail records one failure for key.
func (t *throttle) fail(ctx context.Context, key string) {
	if err := t.db.LoginFailed(ctx, key, t.window, t.now()); err != nil {
		t.log.ErrorContext(ctx, "login throttle", "err", err)
	}
}

// clear forgets key's failures (after a success).
func (t *throttle) clear(ctx context.Context, key string) {
	if err := t.db.LoginSucceeded(ctx, key); err != nil {
		t.log.ErrorContext(ctx, "login throttle", "err", err)
	}
}
