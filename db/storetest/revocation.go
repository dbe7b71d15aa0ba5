package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"nanobanana/db"
)

// A token's session is checked in the same read as its user: ended sessions are
// refused, the others of the account are not.
var _ = register("UserForSessionRefusesEndedSessions", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u := addUser(t, d, "sessions")
	for _, f := range []string{"f1", "f2"} {
		if err := d.AddRefreshToken(ctx, u, f, "tok-"+f, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := d.UserForSession(ctx, u, "f1"); err != nil || got.ID != u {
		t.Fatalf("a live session: %+v %v", got, err)
	}
	if _, err := d.RevokeRefreshFamily(ctx, "tok-f1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UserForSession(ctx, u, "f1"); db.CodeOf(err) != db.CodeSessionEnded {
		t.Errorf("the ended session: %v; want session_ended", err)
	}
	if _, err := d.UserForSession(ctx, u, "f2"); err != nil {
		t.Errorf("another session of the account: %v", err)
	}
	if _, err := d.UserForSession(ctx, u, ""); err != nil {
		t.Errorf("no session named: %v", err)
	}
	if _, err := d.UserForSession(ctx, 999999, "f2"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("an unknown user: %v", err)
	}
})

// Disabling an account cancels its waiting generations and flags its running one in the
// same transaction; the worker holding that one can no longer record a prediction.
var _ = register("DisableCancelsTheAccountsWork", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u := addUser(t, d, "disabled")
	other := addUser(t, d, "other")
	var ids []string
	for i := range 3 {
		g, err := d.CreateGeneration(ctx, u, params(fmt.Sprint("job ", i)), db.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, g.ID)
	}
	kept, err := d.CreateGeneration(ctx, other, params("someone else's"), db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 1, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	running := jobs[0]
	outs, err := d.SetDisabled(ctx, u, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 3 {
		t.Fatalf("%d generations canceled; want 3", len(outs))
	}
	for _, o := range outs {
		if o.Generation.Status != db.StatusCanceled || o.WasRunning != (o.Generation.ID == running.GenerationID && running.UserID == u) {
			t.Errorf("outcome %+v", o)
		}
	}
	for _, id := range ids {
		if g, err := d.GetGeneration(ctx, u, id); err != nil || g.Status != db.StatusCanceled {
			t.Errorf("generation %s: %+v %v", id, g, err)
		}
	}
	if g, err := d.GetGeneration(ctx, other, kept.ID); err != nil || g.Status == db.StatusCanceled {
		t.Errorf("another account's generation: %+v %v", g, err)
	}
	if running.UserID == u {
		if err := d.SetPrediction(ctx, running.ID, "w", running.GenerationID, "pred-late"); !errors.Is(err, db.ErrCancelRequested) {
			t.Errorf("a prediction recorded after the disable: %v; want ErrCancelRequested", err)
		}
	}
	counts, err := d.QueueCounts(ctx)
	if err != nil || counts[u][0] != 0 {
		t.Errorf("queued after the disable: %v %v", counts[u], err)
	}
})

// The pending cap is decided in the write that adds a generation: many at once never
// get past it, not even by one.
var _ = register("PendingCapHoldsUnderConcurrency", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u := addUser(t, d, "burst")
	const limit, tries = 3, 40
	var mu sync.Mutex
	var ok, capped int
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			_, err := d.CreateGeneration(ctx, u, params(fmt.Sprint("try ", i)), db.CreateOptions{MaxPending: limit})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case db.CodeOf(err) == db.CodePendingLimit && db.ReasonOf(err) != "":
				capped++
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != limit || capped != tries-limit {
		t.Fatalf("%d created and %d refused of %d; want %d created", ok, capped, tries, limit)
	}
})
