package server

import (
	"context"
	"log/slog"
	"time"

	"nanobanana/db"
)

// loginPolicy is how many sign-in attempts are checked (db.LoginPolicy says how): per
// account, five failures in a row, then a wait of 2 s doubling with each failure up
// to 5 minutes, forgotten an hour after the last; per address, 30 failures per 15
// minutes, then one try per account that has no failures. README states it.
var loginPolicy = db.LoginPolicy{
	AccountFree: 5, AccountBase: 2 * time.Second, AccountMax: 5 * time.Minute, AccountMemory: time.Hour,
	AddrLimit: 30, AddrWindow: 15 * time.Minute,
}

// throttle limits sign-in attempts in the database: a restart does not forget them,
// and processes sharing a PostgreSQL database count together, so spreading guesses
// over processes gains nothing. Each attempt is counted before its password is checked
// (db.Throttle), so attempts sent at once cannot pass the limit. A database error is
// logged and lets the attempt through: the sign-in that follows needs the database too
// and fails on its own.
type throttle struct {
	db     db.Store
	log    *slog.Logger
	policy db.LoginPolicy
	now    func() time.Time
}

func newThrottle(d db.Store, log *slog.Logger, p db.LoginPolicy, now func() time.Time) *throttle {
	return &throttle{db: d, log: log, policy: p, now: now}
}

// attempt counts an attempt at account from addr ("" for none) and says how long it
// must wait instead (0: check the password now).
func (t *throttle) attempt(ctx context.Context, account, addr string) time.Duration {
	wait, err := t.db.LoginAttempt(ctx, account, addr, t.policy, t.now())
	if err != nil {
		t.log.ErrorContext(ctx, "login throttle", "err", err)
		return 0
	}
	return wait
}

// succeeded forgets the account's failures and takes back the attempt's count on addr.
func (t *throttle) succeeded(ctx context.Context, account, addr string) {
	if err := t.db.LoginSucceeded(ctx, account, addr); err != nil {
		t.log.ErrorContext(ctx, "login throttle", "err", err)
	}
}
