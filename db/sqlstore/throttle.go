package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"time"
)

// Failed sign-ins are counted per key in fixed windows: the first failure opens a window
// of the caller's length, and the key is blocked once its failures in the open window
// reach the caller's limit, until the window ends. The caller passes the clock, so its
// tests control it.

// LoginBlocked returns how long key must wait before another try (0: it may try now),
// given limit failures per window, and the failures in its open window.
func (s *Store) LoginBlocked(ctx context.Context, key string, limit int, now time.Time) (time.Duration, int, error) {
	var fails, reset int64
	err := s.e.Read(ctx, func(q Querier) error {
		return q.QueryRow(`SELECT fails, reset_at FROM login_failures WHERE key = ?`, key).Scan(&fails, &reset)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, wrapf(err, "login failures")
	}
	if reset <= ms(now) {
		return 0, 0, nil
	}
	if fails < int64(limit) {
		return 0, int(fails), nil
	}
	return time.Duration(reset-ms(now)) * time.Millisecond, int(fails), nil
}

// LoginFailed counts one failure of key, opening a new window of length window when
// none is open.
func (s *Store) LoginFailed(ctx context.Context, key string, window time.Duration, now time.Time) error {
	t, end := ms(now), ms(now.Add(window))
	// Now and then, the windows that ended go: the table holds the open ones. Decided
	// here, not in the write, which may run more than once.
	prune := rand.IntN(64) == 0
	_, err := write(ctx, s, func(q Querier) (int64, error) {
		n, err := q.Exec(`INSERT INTO login_failures (key, fails, reset_at) VALUES (?1, 1, ?3)
			ON CONFLICT (key) DO UPDATE SET
				fails = CASE WHEN login_failures.reset_at <= ?2 THEN 1 ELSE login_failures.fails + 1 END,
				reset_at = CASE WHEN login_failures.reset_at <= ?2 THEN ?3 ELSE login_failures.reset_at END`,
			key, t, end)
		if err == nil && prune {
			_, err = q.Exec(`DELETE FROM login_failures WHERE reset_at <= ?`, t)
		}
		return n, err
	})
	return wrapf(err, "count a login failure")
}

// LoginSucceeded forgets key's failures.
func (s *Store) LoginSucceeded(ctx context.Context, key string) error {
	_, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM login_failures WHERE key = ?`, key)
	})
	return wrapf(err, "clear login failures")
}

// PruneLoginFailures deletes the windows that ended before now.
func (s *Store) PruneLoginFailures(ctx context.Context, now time.Time) (int64, error) {
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM login_failures WHERE reset_at <= ?`, ms(now))
	})
	return n, wrapf(err, "prune login failures")
}
