package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nanobanana/db"
)

func usd(v float64) *float64 { return &v }
func imgs(n int) *int        { return &n }

// budget is a shared-token budget at 0.15 per image with limits l.
func budget(l db.Limits) *db.Budget {
	return &db.Budget{PaidBy: db.PaidShared, PriceUSD: 0.15, Limits: l}
}

// books returns what the user's books hold now (micros and images of every day).
func books(t testing.TB, d Store, user int64) (int64, int) {
	t.Helper()
	var micros int64
	var images int
	if err := d.Raw(context.Background(), `SELECT coalesce(sum(micros), 0), coalesce(sum(images), 0)
		FROM spending WHERE user_id = ?`, []any{user}, &micros, &images); err != nil {
		t.Fatal(err)
	}
	return micros, images
}

// Limits hold exactly under concurrent creates (money: 1.50 = 10 x 0.15, where float
// sums would refuse the tenth), the refusal names the limit and when it resets, and
// the books hold exactly the reservations made.
var _ = register("SpendingLimitHoldsUnderConcurrency", func(t *testing.T, open Opener) {
	now := time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)
	d := open(t, db.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	u := addUser(t, d, "spender")
	b := budget(db.Limits{DayUSD: usd(1.50)})
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 30 {
		wg.Go(func() {
			<-start
			_, err := d.CreateGeneration(ctx, u, params("p"), db.CreateOptions{Budget: b})
			var sl *db.SpendingLimit
			switch {
			case err == nil:
				ok.Add(1)
			case db.CodeOf(err) == db.CodeSpendingLimit && errors.As(err, &sl):
				refused.Add(1)
				if sl.Which != "day_usd" || !sl.Resets.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("refusal: %+v", sl)
				}
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 10 || refused.Load() != 20 {
		t.Fatalf("%d accepted, %d refused; want 10 and 20", ok.Load(), refused.Load())
	}
	if m, n := books(t, d, u); m != 1_500_000 || n != 10 {
		t.Errorf("books hold %d micros, %d images; want 1500000, 10", m, n)
	}
	spent, err := d.SpentNow(ctx, u, now)
	if err != nil || spent.SharedDayMicros != 1_500_000 || spent.MonthImages != 10 || spent.InstallSharedMonthMicros != 1_500_000 {
		t.Errorf("SpentNow: %+v, %v", spent, err)
	}
	// The month limit resets on the first of the next month; images count too.
	_, err = d.CreateGeneration(ctx, u, params("p"), db.CreateOptions{Budget: budget(db.Limits{MonthImages: imgs(10)})})
	var sl *db.SpendingLimit
	if !errors.As(err, &sl) || sl.Which != "month_images" || !sl.Resets.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("month images refusal: %v", err)
	}
	// Own key: the install's limits do not apply, the user's own do.
	own := &db.Budget{PaidBy: db.PaidOwn, PriceUSD: 0.15, Limits: db.Limits{DayUSD: usd(0)}, SharedMonthCapUSD: usd(0)}
	if _, err := d.CreateGeneration(ctx, u, params("own"), db.CreateOptions{Budget: own}); err != nil {
		t.Errorf("own key under the shared limits: %v", err)
	}
	own.Self = db.Limits{DayImages: imgs(11)}
	_, err = d.CreateGeneration(ctx, u, params("own"), db.CreateOptions{Budget: own})
	if !errors.As(err, &sl) || !sl.Self || sl.Which != "day_images" {
		t.Errorf("own key past its self limit: %v", err)
	}
	// The shared token's monthly cap counts every user.
	v := addUser(t, d, "other")
	_, err = d.CreateGeneration(ctx, v, params("p"), db.CreateOptions{Budget: &db.Budget{PaidBy: db.PaidShared, PriceUSD: 0.15, SharedMonthCapUSD: usd(1.6)}})
	if !errors.As(err, &sl) || sl.Which != "shared_month_usd" {
		t.Errorf("past the shared cap: %v", err)
	}
})

// The books through a generation's life: reserved when queued, booked when Replicate
// accepts its prediction, released when it ends before that, unbooked when its
// prediction was aborted, booked again for each new prediction.
var _ = register("SpendingBooksFollowTheQueue", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u := addUser(t, d, "booked")
	lease := func() db.Job {
		t.Helper()
		jobs, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 9, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		return jobs[0]
	}
	bookedOf := func(id string) int64 {
		t.Helper()
		g, err := d.GetGeneration(ctx, u, id)
		if err != nil {
			t.Fatal(err)
		}
		return g.BookedMicros
	}
	mk := func() *db.Generation {
		t.Helper()
		g, err := d.CreateGeneration(ctx, u, params("p"), db.CreateOptions{Budget: budget(db.Limits{})})
		if err != nil {
			t.Fatal(err)
		}
		if g.BookedMicros != 150_000 || g.CostMicros != 150_000 || g.PaidBy != db.PaidShared {
			t.Fatalf("a new generation's books: %+v", g)
		}
		return g
	}
	want := func(micros int64, images int) {
		t.Helper()
		if m, n := books(t, d, u); m != micros || n != images {
			t.Fatalf("books hold %d micros, %d images; want %d, %d", m, n, micros, images)
		}
	}

	// Failed before Replicate accepted: released.
	g1 := mk()
	j := lease()
	if err := d.FailJob(ctx, j.ID, "w", g1.ID, "no", "no"); err != nil {
		t.Fatal(err)
	}
	want(0, 0)
	if b := bookedOf(g1.ID); b != 0 {
		t.Errorf("failed before Replicate: booked %d", b)
	}

	// Accepted, then failed: charged.
	g2 := mk()
	j = lease()
	if err := d.SetPrediction(ctx, j.ID, "w", g2.ID, "pred-2"); err != nil {
		t.Fatal(err)
	}
	if err := d.FailJob(ctx, j.ID, "w", g2.ID, "no", "no"); err != nil {
		t.Fatal(err)
	}
	want(150_000, 1)
	if b := bookedOf(g2.ID); b != 150_000 {
		t.Errorf("failed after Replicate accepted: booked %d", b)
	}

	// Canceled while queued: released.
	g3 := mk()
	if _, err := d.CancelGeneration(ctx, u, g3.ID); err != nil {
		t.Fatal(err)
	}
	want(150_000, 1)

	// Run again: reserved again; aborted: unbooked; a new prediction books it; a
	// further one (after a failed prediction) books again.
	if _, err := d.RetryGeneration(ctx, u, g3.ID, 5, budget(db.Limits{})); err != nil {
		t.Fatal(err)
	}
	want(300_000, 2)
	j = lease()
	if err := d.SetPrediction(ctx, j.ID, "w", g3.ID, "pred-3a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Unbook(ctx, j.ID, "w"); err != nil {
		t.Fatal(err)
	}
	if err := d.RetryLater(ctx, j.ID, "w", time.Now(), "aborted", true); err != nil {
		t.Fatal(err)
	}
	want(300_000, 2) // reserved again, for the next prediction
	j = lease()
	if err := d.SetPrediction(ctx, j.ID, "w", g3.ID, "pred-3b"); err != nil {
		t.Fatal(err)
	}
	want(300_000, 2)
	if err := d.RetryLater(ctx, j.ID, "w", time.Now(), "E6716", true); err != nil {
		t.Fatal(err)
	}
	j = lease()
	if err := d.SetPrediction(ctx, j.ID, "w", g3.ID, "pred-3c"); err != nil {
		t.Fatal(err)
	}
	want(450_000, 3)
	if err := d.CompleteJob(ctx, j.ID, "w", g3.ID, db.Result{ImageKey: "k", ImageType: "image/png", ThumbKey: "t",
		Width: 1, Height: 1, Bytes: 1, SHA256: "x", Metrics: []byte(`{"predict_time":3.5}`)}); err != nil {
		t.Fatal(err)
	}
	g, err := d.GetGeneration(ctx, u, g3.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.BookedMicros != 300_000 || string(g.Metrics) != `{"predict_time":3.5}` {
		t.Errorf("completed after two charged predictions: booked %d, metrics %s", g.BookedMicros, g.Metrics)
	}

	// Aborted, and then the job gives up: the reservation it went back to is released.
	g4 := mk()
	j = lease()
	if err := d.SetPrediction(ctx, j.ID, "w", g4.ID, "pred-4"); err != nil {
		t.Fatal(err)
	}
	if err := d.Unbook(ctx, j.ID, "w"); err != nil {
		t.Fatal(err)
	}
	if err := d.FailJob(ctx, j.ID, "w", g4.ID, "aborted", "aborted"); err != nil {
		t.Fatal(err)
	}
	want(450_000, 3)
	if b := bookedOf(g4.ID); b != 0 {
		t.Errorf("aborted then failed: booked %d", b)
	}

	// Canceled while held before the create: released when the worker lets go; a
	// deleted generation's booking stays in the books (it was paid).
	g5 := mk()
	j = lease()
	if _, err := d.CancelGeneration(ctx, u, g5.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.FinishCanceled(ctx, j.ID, "w"); err != nil {
		t.Fatal(err)
	}
	want(450_000, 3)
	if _, err := d.DeleteGeneration(ctx, u, g2.ID); err != nil {
		t.Fatal(err)
	}
	want(450_000, 3)
	g6 := mk()
	if _, err := d.DeleteGeneration(ctx, u, g6.ID); err != nil {
		t.Fatal(err)
	}
	want(450_000, 3)

	// Usage reads the books back by day.
	rows, err := d.Usage(ctx, db.Day(time.Now())-1, db.Day(time.Now())+1, 0)
	if err != nil || len(rows) != 1 || rows[0].Micros != 450_000 || rows[0].Images != 3 || rows[0].Username != "booked" {
		t.Errorf("usage: %+v, %v", rows, err)
	}
})

// Per-user limits: an admin's override (or none: the defaults) and the user's own.
var _ = register("SpendingUserLimits", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u := addUser(t, d, "limited")
	if l, err := d.UserLimits(ctx, u); err != nil || l.Override != nil || !l.Self.Empty() {
		t.Fatalf("new user's limits: %+v, %v", l, err)
	}
	if err := d.SetLimitOverride(ctx, u, &db.Limits{DayUSD: usd(2), MonthImages: imgs(100)}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetSelfLimits(ctx, u, db.Limits{DayImages: imgs(3)}); err != nil {
		t.Fatal(err)
	}
	l, err := d.UserLimits(ctx, u)
	if err != nil || l.Override == nil || *l.Override.DayUSD != 2 || *l.Override.MonthImages != 100 ||
		l.Override.DayImages != nil || *l.Self.DayImages != 3 {
		t.Fatalf("limits read back: %+v, %v", l, err)
	}
	if err := d.SetLimitOverride(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := d.UserLimits(ctx, u); l.Override != nil || *l.Self.DayImages != 3 {
		t.Errorf("after the override was cleared: %+v", l)
	}
	if err := d.SetSelfLimits(ctx, 999_999, db.Limits{}); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("limits of a missing user: %v", err)
	}
})
