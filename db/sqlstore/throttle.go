package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"time"

	"nanobanana/db"
)

// Sign-in attempts are counted per key (an account, an address) in login_failures:
// fails is the failures remembered, reset_at when they are forgotten, next_at (accounts
// only) when the next attempt may be checked. An attempt is counted before its password
// is checked, by the statement that decides it may be: the decision and the count are
// one atomic step, so however many attempts arrive at once, no more passwords are
// checked than the policy allows (db.LoginPolicy). A success takes its count back.

// accountAttempt counts an attempt at an account when it may be checked: the account
// is new or its failures are forgotten (clean), or its wait is over and its address is
// under its limit. It returns the account's failures counting this one; no row means
// refused. ?1 account, ?2 now, ?3 when the failures will be forgotten, ?4 free
// failures, ?5 the first wait (ms), ?6 the longest (ms), ?7 how many doublings reach
// it, ?8 the wait after one failure (ms), ?9 the address (” for none), ?10 its limit.
//
// On PostgreSQL the upsert locks the account's row, so attempts at one account, from
// any process, take turns; the address's count is read here without a lock and
// checked again, locked, by addressAttempt.
const accountAttempt = `INSERT INTO login_failures (key, fails, reset_at, next_at)
	VALUES (?1, 1, ?3, CAST(?2 AS BIGINT) + ?8)
	ON CONFLICT (key) DO UPDATE SET
		fails = CASE WHEN login_failures.reset_at <= ?2 THEN 1 ELSE login_failures.fails + 1 END,
		reset_at = ?3,
		next_at = CAST(?2 AS BIGINT) + CASE
			WHEN login_failures.reset_at <= ?2 THEN ?8
			WHEN login_failures.fails + 1 < ?4 THEN 0
			WHEN login_failures.fails + 1 - ?4 >= ?7 THEN ?6
			ELSE CAST(?5 AS BIGINT) << CAST(login_failures.fails + 1 - ?4 AS INTEGER) END
	WHERE login_failures.reset_at <= ?2
		OR (login_failures.next_at <= ?2 AND NOT EXISTS (
			SELECT 1 FROM login_failures a
			WHERE a.key = ?9 AND a.reset_at > ?2 AND a.fails >= ?10))
	RETURNING fails`

// addressAttempt counts the attempt at its address when the address is under its
// limit, or its window is over, or the account is clean (?4 = 1). No row: refused.
// ?1 address, ?2 now, ?3 the end of a new window, ?5 the limit.
const addressAttempt = `INSERT INTO login_failures (key, fails, reset_at, next_at)
	VALUES (?1, 1, ?3, 0)
	ON CONFLICT (key) DO UPDATE SET
		fails = CASE WHEN login_failures.reset_at <= ?2 THEN 1 ELSE login_failures.fails + 1 END,
		reset_at = CASE WHEN login_failures.reset_at <= ?2 THEN ?3 ELSE login_failures.reset_at END
	WHERE ?4 = 1 OR login_failures.reset_at <= ?2 OR login_failures.fails < ?5
	RETURNING fails`

// errAddressRace: the address reached its limit between the account's statement and
// the address's (only possible with several writers, PostgreSQL). The transaction is
// rolled back, counting nothing, and the attempt decided again.
var errAddressRace = errors.New("login throttle: address limit reached meanwhile")

// LoginAttempt counts one sign-in attempt before its password is checked (see
// db.Throttle): 0 when it may be checked, else how long to wait.
func (s *Store) LoginAttempt(ctx context.Context, account, addr string, p db.LoginPolicy, now time.Time) (time.Duration, error) {
	t := ms(now)
	doublings := 0
	for d := p.AccountBase; d > 0 && d < p.AccountMax; d *= 2 {
		doublings++
	}
	acctArgs := []any{account, t, ms(now.Add(p.AccountMemory)), p.AccountFree, p.AccountBase.Milliseconds(),
		p.AccountMax.Milliseconds(), doublings, p.AccountWait(1).Milliseconds(), addr, p.AddrLimit}
	// Now and then, the rows whose failures are forgotten go: the table holds the live
	// ones. Decided here, not in the write, which may run more than once.
	prune := rand.IntN(64) == 0
	for try := 0; ; try++ {
		wait, err := write(ctx, s, func(q Querier) (time.Duration, error) {
			var fails int64
			err := q.QueryRow(accountAttempt, acctArgs...).Scan(&fails)
			if errors.Is(err, sql.ErrNoRows) {
				return refusedWait(q, account, addr, p, t)
			}
			if err != nil {
				return 0, err
			}
			if addr != "" {
				clean := 0
				if fails == 1 {
					clean = 1
				}
				err = q.QueryRow(addressAttempt, addr, t, ms(now.Add(p.AddrWindow)), clean, p.AddrLimit).Scan(&fails)
				if errors.Is(err, sql.ErrNoRows) {
					return 0, errAddressRace
				}
				if err != nil {
					return 0, err
				}
			}
			if prune {
				_, err = q.Exec(`DELETE FROM login_failures WHERE reset_at <= ?`, t)
			}
			return 0, err
		})
		if errors.Is(err, errAddressRace) && try < 3 {
			continue
		}
		return wait, wrapf(err, "count a sign-in attempt")
	}
}

// refusedWait is how long a refused attempt must wait: until the account's wait ends,
// or the address's window, whichever is later.
func refusedWait(q Querier, account, addr string, p db.LoginPolicy, now int64) (time.Duration, error) {
	var until int64
	err := q.QueryRow(`SELECT next_at FROM login_failures WHERE key = ?1 AND reset_at > ?2`, account, now).Scan(&until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if addr != "" {
		var reset int64
		err := q.QueryRow(`SELECT reset_at FROM login_failures WHERE key = ?1 AND reset_at > ?2 AND fails >= ?3`,
			addr, now, p.AddrLimit).Scan(&reset)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
		until = max(until, reset)
	}
	// Refused means one of the two is closed; a row gone meanwhile still waits a moment.
	return max(time.Duration(until-now)*time.Millisecond, time.Second), nil
}

// LoginSucceeded forgets the account's failures and takes back the count its
// successful attempt added to the address.
func (s *Store) LoginSucceeded(ctx context.Context, account, addr string) error {
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		if _, err := q.Exec(`DELETE FROM login_failures WHERE key = ?`, account); err != nil {
			return struct{}{}, err
		}
		if addr == "" {
			return struct{}{}, nil
		}
		if _, err := q.Exec(`DELETE FROM login_failures WHERE key = ? AND fails <= 1`, addr); err != nil {
			return struct{}{}, err
		}
		_, err := q.Exec(`UPDATE login_failures SET fails = fails - 1 WHERE key = ?`, addr)
		return struct{}{}, err
	})
	return wrapf(err, "clear sign-in failures")
}

// PruneLoginFailures deletes the rows whose failures are forgotten by now.
func (s *Store) PruneLoginFailures(ctx context.Context, now time.Time) (int64, error) {
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM login_failures WHERE reset_at <= ?`, ms(now))
	})
	return n, wrapf(err, "prune sign-in failures")
}
