package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"nanobanana/db"
)

// The books. A generation's money moves in these steps, each in the transaction of
// the queue's change it belongs to:
//
//	queued (CreateGeneration, RetryGeneration)    reserve: checked against the limits,
//	                                              added to the user's day (spending)
//	Replicate accepted a prediction (SetPrediction) the reservation becomes booked;
//	                                              a further prediction books its cost again
//	its prediction ended aborted (Unbook)         the booking is a reservation again
//	ended without reaching Replicate (FailJob,    the reservation is released: taken off
//	FinishCanceled, a cancel while queued, delete)  the day it was added to
//
// The spending rows are the sums: reserved plus booked, in micros and images, per
// user, UTC day and payer. Limits are checked on them.

// reserve checks a reservation of items images costing micros in all against b's limits
// at now, and adds it to the user's books. It runs in the write that queues the
// generations (an EventQuerier: SQLite's one writer, and on PostgreSQL the event lock
// that event writes take in turn, make concurrent reservations see each other, so
// limits hold exactly). It returns the day the reservation counts in.
func reserve(q EventQuerier, userID int64, items int, micros int64, b *db.Budget, now time.Time) (int64, error) {
	day := db.Day(now)
	if !b.Self.Empty() || (b.PaidBy == db.PaidShared && (!b.Limits.Empty() || b.SharedMonthCapUSD != nil)) {
		if err := checkLimits(q, userID, items, micros, b, now); err != nil {
			return 0, err
		}
	}
	return day, addSpending(q, userID, day, b.PaidBy, micros, items)
}

// checkLimits refuses a reservation of items images costing micros that would pass a
// limit of b (CodeSpendingLimit, naming the first one found).
func checkLimits(q EventQuerier, userID int64, items int, micros int64, b *db.Budget, now time.Time) error {
	day := db.Day(now)
	first, last := db.MonthDays(now)
	spent, err := spentIn(q, userID, day, first, last, b.PaidBy == db.PaidShared && b.SharedMonthCapUSD != nil)
	if err != nil {
		return err
	}
	check := func(which string, self bool, limit *float64, have int64) error {
		if limit != nil && have+micros > db.Micros(*limit) {
			return spendingLimit(which, self, *limit, now)
		}
		return nil
	}
	checkN := func(which string, self bool, limit *int, have int) error {
		if limit != nil && have+items > *limit {
			return spendingLimit(which, self, float64(*limit), now)
		}
		return nil
	}
	var errs []error
	if b.PaidBy == db.PaidShared {
		l := b.Limits
		errs = append(errs,
			check("day_usd", false, l.DayUSD, spent.SharedDayMicros),
			checkN("day_images", false, l.DayImages, spent.SharedDayImages),
			check("month_usd", false, l.MonthUSD, spent.SharedMonthMicros),
			checkN("month_images", false, l.MonthImages, spent.SharedMonthImages),
			check("shared_month_usd", false, b.SharedMonthCapUSD, spent.InstallSharedMonthMicros))
	}
	l := b.Self
	errs = append(errs,
		check("day_usd", true, l.DayUSD, spent.DayMicros),
		checkN("day_images", true, l.DayImages, spent.DayImages),
		check("month_usd", true, l.MonthUSD, spent.MonthMicros),
		checkN("month_images", true, l.MonthImages, spent.MonthImages))
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// spendingLimit is the refusal of a reservation over the limit which.
func spendingLimit(which string, self bool, limit float64, now time.Time) error {
	resets := db.NextDay(now)
	period, when := "today", "at midnight UTC"
	if which == "month_usd" || which == "month_images" || which == "shared_month_usd" {
		resets, period, when = db.NextMonth(now), "this month", "on "+db.NextMonth(now).Format("2 January")+" (UTC)"
	}
	var what string
	switch which {
	case "day_usd", "month_usd":
		what = "$" + strconv.FormatFloat(limit, 'f', 2, 64) + " " + period
	case "shared_month_usd":
		what = "$" + strconv.FormatFloat(limit, 'f', 2, 64) + " " + period + " on the shared Replicate key for everyone together"
	case "day_images", "month_images":
		what = strconv.FormatFloat(limit, 'f', 0, 64) + " images " + period
		if limit == 1 {
			what = "1 image " + period
		}
	}
	whose := "Your spending limit"
	switch {
	case self:
		whose = "The spending limit you set yourself"
	case which == "shared_month_usd":
		whose = "This site's monthly budget"
	}
	reason := fmt.Sprintf("%s of %s would be passed by this generation; it resets %s", whose, what, when)
	if which != "shared_month_usd" && !self {
		reason += ". Add your own Replicate key in Settings to generate on your own bill, or ask an administrator to raise the limit"
	} else if self {
		reason += ", or raise it in Settings"
	}
	return &db.Error{Code: db.CodeSpendingLimit, Reason: reason,
		Err: &db.SpendingLimit{Which: which, Self: self, Resets: resets}}
}

// addSpending adds micros and images (negative: takes them back) to the user's books of
// day for payer.
func addSpending(q Querier, userID, day int64, payer string, micros int64, images int) error {
	if payer == "" || (micros == 0 && images == 0) {
		return nil
	}
	_, err := q.Exec(`INSERT INTO spending (user_id, day, paid_by, micros, images) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, day, paid_by) DO UPDATE SET micros = spending.micros + excluded.micros,
		images = spending.images + excluded.images`, userID, day, payer, micros, images)
	return wrapf(err, "books")
}

// spentIn reads the user's books of day and of the month first..last, and with
// install, the shared token's month for all users.
func spentIn(q Querier, userID, day, first, last int64, install bool) (db.Spent, error) {
	var s db.Spent
	err := q.QueryRow(`SELECT
		coalesce(sum(CASE WHEN day = ?2 THEN micros END), 0), coalesce(sum(CASE WHEN day = ?2 THEN images END), 0),
		coalesce(sum(micros), 0), coalesce(sum(images), 0),
		coalesce(sum(CASE WHEN day = ?2 AND paid_by = 'shared' THEN micros END), 0),
		coalesce(sum(CASE WHEN day = ?2 AND paid_by = 'shared' THEN images END), 0),
		coalesce(sum(CASE WHEN paid_by = 'shared' THEN micros END), 0),
		coalesce(sum(CASE WHEN paid_by = 'shared' THEN images END), 0)
		FROM spending WHERE user_id = ?1 AND day BETWEEN ?3 AND ?4`, userID, day, first, last).Scan(
		&s.DayMicros, &s.DayImages, &s.MonthMicros, &s.MonthImages,
		&s.SharedDayMicros, &s.SharedDayImages, &s.SharedMonthMicros, &s.SharedMonthImages)
	if err != nil {
		return s, wrapf(err, "read books")
	}
	if install {
		err = q.QueryRow(`SELECT coalesce(sum(micros), 0) FROM spending
			WHERE day BETWEEN ?1 AND ?2 AND paid_by = 'shared'`, first, last).Scan(&s.InstallSharedMonthMicros)
	}
	return s, wrapf(err, "read the shared token's books")
}

// release gives back the reservation of the generation with this job id, if it holds
// one: its prediction never reached Replicate.
func release(q Querier, jobID int64) error {
	var user, day, micros int64
	var payer string
	err := q.QueryRow(`SELECT user_id, spend_day, reserved_micros, paid_by FROM generations
		WHERE job_id = ? AND reserved_micros > 0`, jobID).Scan(&user, &day, &micros, &payer)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return wrapf(err, "read reservation")
	}
	if err := addSpending(q, user, day, payer, -micros, -1); err != nil {
		return err
	}
	_, err = q.Exec(`UPDATE generations SET reserved_micros = 0 WHERE job_id = ?`, jobID)
	return wrapf(err, "release reservation")
}

// book records that Replicate accepted a prediction of the job: its reservation is
// booked, or, when it holds none (a further prediction after one that failed), its
// cost is booked again on today's books.
func book(q Querier, jobID int64, now time.Time) error {
	var user, cost, reserved int64
	var payer string
	err := q.QueryRow(`SELECT user_id, cost_micros, reserved_micros, paid_by FROM generations WHERE job_id = ?`,
		jobID).Scan(&user, &cost, &reserved, &payer)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && payer == "") {
		return nil
	}
	if err != nil {
		return wrapf(err, "read reservation")
	}
	if reserved > 0 {
		_, err = q.Exec(`UPDATE generations SET booked_micros = booked_micros + reserved_micros,
			reserved_micros = 0 WHERE job_id = ?`, jobID)
		return wrapf(err, "book")
	}
	day := db.Day(now)
	if err := addSpending(q, user, day, payer, cost, 1); err != nil {
		return err
	}
	_, err = q.Exec(`UPDATE generations SET booked_micros = booked_micros + cost_micros, spend_day = ?
		WHERE job_id = ?`, day, jobID)
	return wrapf(err, "book")
}

// Unbook takes back the booking of the job's aborted prediction: it becomes the
// reservation of the job's next one (on the same day's books), released if there is
// none.
func (s *Store) Unbook(ctx context.Context, jobID int64, owner string) error {
	_, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`UPDATE generations SET booked_micros = booked_micros - cost_micros,
			reserved_micros = cost_micros
			WHERE job_id = ? AND lease_owner = ? AND state = 'running' AND paid_by <> ''
			  AND cost_micros > 0 AND booked_micros >= cost_micros AND reserved_micros = 0`, jobID, owner)
	})
	return wrapf(err, "unbook")
}

// SpentNow returns what the user has reserved or booked in now's UTC day and month.
func (s *Store) SpentNow(ctx context.Context, userID int64, now time.Time) (db.Spent, error) {
	first, last := db.MonthDays(now)
	return read(ctx, s, func(q Querier) (db.Spent, error) {
		return spentIn(q, userID, db.Day(now), first, last, true)
	})
}

// UserLimits returns the user's override and self-set limits.
func (s *Store) UserLimits(ctx context.Context, userID int64) (db.UserLimits, error) {
	return read(ctx, s, func(q Querier) (db.UserLimits, error) {
		var out db.UserLimits
		var override sql.NullString
		var self string
		err := q.QueryRow(`SELECT override, self FROM user_limits WHERE user_id = ?`, userID).Scan(&override, &self)
		if errors.Is(err, sql.ErrNoRows) {
			return out, nil
		}
		if err != nil {
			return out, wrapf(err, "read limits")
		}
		if override.Valid {
			out.Override = new(db.Limits)
			if err := json.Unmarshal([]byte(override.String), out.Override); err != nil {
				return out, fmt.Errorf("limits of user %d: %w", userID, err)
			}
		}
		if err := json.Unmarshal([]byte(self), &out.Self); err != nil {
			return out, fmt.Errorf("limits of user %d: %w", userID, err)
		}
		return out, nil
	})
}

// SetLimitOverride sets (or with nil, clears) the admin's override of the user's limits.
func (s *Store) SetLimitOverride(ctx context.Context, userID int64, l *db.Limits) error {
	var v any
	if l != nil {
		raw, err := json.Marshal(l)
		if err != nil {
			return err
		}
		v = string(raw)
	}
	return s.putLimits(ctx, userID, `override`, v)
}

// SetSelfLimits sets the limits the user chose for themselves.
func (s *Store) SetSelfLimits(ctx context.Context, userID int64, l db.Limits) error {
	raw, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return s.putLimits(ctx, userID, `self`, string(raw))
}

func (s *Store) putLimits(ctx context.Context, userID int64, col string, v any) error {
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		var n int
		if err := q.QueryRow(`SELECT count(*) FROM users WHERE id = ?`, userID).Scan(&n); err != nil {
			return struct{}{}, err
		}
		if n == 0 {
			return struct{}{}, db.ErrNotFound
		}
		_, err := q.Exec(`INSERT INTO user_limits (user_id, `+col+`, updated_at) VALUES (?1, ?2, ?3)
			ON CONFLICT (user_id) DO UPDATE SET `+col+` = ?2, updated_at = ?3`, userID, v, now)
		return struct{}{}, err
	})
	if errors.Is(err, db.ErrNotFound) {
		return err
	}
	return wrapf(err, "store limits")
}

// Usage returns the books per day, user and payer for days from..to.
func (s *Store) Usage(ctx context.Context, from, to int64, userID int64) ([]db.UsageRow, error) {
	return read(ctx, s, func(q Querier) ([]db.UsageRow, error) {
		rows, err := q.Query(`SELECT s.day, s.user_id, u.username, s.paid_by, s.micros, s.images
			FROM spending s JOIN users u ON u.id = s.user_id
			WHERE s.day BETWEEN ?1 AND ?2 AND (?3 = 0 OR s.user_id = ?3) AND (s.micros <> 0 OR s.images <> 0)
			ORDER BY s.day, u.username, s.paid_by`, from, to, userID)
		if err != nil {
			return nil, wrapf(err, "read usage")
		}
		defer rows.Close()
		var out []db.UsageRow
		for rows.Next() {
			var r db.UsageRow
			var day int64
			if err := rows.Scan(&day, &r.UserID, &r.Username, &r.PaidBy, &r.Micros, &r.Images); err != nil {
				return nil, err
			}
			r.Day = db.DayStart(day)
			out = append(out, r)
		}
		return out, rows.Err()
	})
}
