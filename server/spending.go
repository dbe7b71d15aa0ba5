package server

import (
	"context"
	"errors"
	"time"

	"nanobanana/db"
)

// budget is what a new generation of u at resolution costs, who pays, and the limits
// its reservation is checked against (db.Budget), from the settings in force and the
// user's limits. A user with their own Replicate key pays with it (the worker uses it
// first); everyone else spends the shared token.
func (s *Server) budget(ctx context.Context, u *db.User, resolution string) (*db.Budget, error) {
	e, err := s.settings(ctx)
	if err != nil {
		return nil, err
	}
	ul, err := s.db.UserLimits(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	b := &db.Budget{PaidBy: db.PaidShared, PriceUSD: e.Price(resolution), Limits: e.DefaultLimits,
		Self: ul.Self, SharedMonthCapUSD: e.SharedMonthCapUSD}
	if ul.Override != nil {
		b.Limits = *ul.Override
	}
	if u.HasAPIKey {
		b.PaidBy = db.PaidOwn
	}
	return b, nil
}

// spendingRetryAfter is how long until the limit behind err resets (0: err is not a
// spending limit).
func spendingRetryAfter(err error, now time.Time) time.Duration {
	var sl *db.SpendingLimit
	if !errors.As(err, &sl) {
		return 0
	}
	return max(sl.Resets.Sub(now), time.Second)
}
