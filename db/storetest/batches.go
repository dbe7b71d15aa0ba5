package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"nanobanana/db"
)

func batchParams(prompts ...string) []db.Params {
	ps := make([]db.Params, len(prompts))
	for i, p := range prompts {
		ps[i] = params(p)
	}
	return ps
}

// claimOne claims at most one job (one worker slot) and returns its generation's id,
// "" when nothing was claimed.
func claimOne(t testing.TB, d Store) string {
	t.Helper()
	jobs, err := d.ClaimJobs(context.Background(), "w1", time.Now().Add(time.Minute), 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) == 0 {
		return ""
	}
	return jobs[0].GenerationID
}

// A batch is its generations, in the order asked for, with one batch id, each its own
// queued job with its own position; a single one has no batch id.
var _ = register("BatchCreatesEachJob", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a := addUser(t, d, "alice")
	single := create(t, d, a, "alone")
	if single.BatchID != "" {
		t.Fatalf("a single generation has batch id %q", single.BatchID)
	}
	gs, err := d.CreateGenerations(ctx, a, batchParams("v1", "v2", "v3", "v4"), db.CreateOptions{})
	if err != nil || len(gs) != 4 {
		t.Fatalf("batch: %v %v", gs, err)
	}
	for i, g := range gs {
		if g.BatchID == "" || g.BatchID != gs[0].BatchID || g.Prompt != fmt.Sprint("v", i+1) || g.Status != db.StatusPending {
			t.Fatalf("generation %d: %+v", i, g)
		}
		if g.QueuePosition != i+2 { // after "alone"
			t.Fatalf("generation %d at position %d, want %d", i, g.QueuePosition, i+2)
		}
		got, err := d.GetGeneration(ctx, a, g.ID)
		if err != nil || got.BatchID != g.BatchID || got.QueuePosition != g.QueuePosition {
			t.Fatalf("read %d: %+v %v; created %+v", i, got, err, g)
		}
	}
	if n := count(t, d, `SELECT count(*) FROM generations WHERE batch_id = ? AND state = 'queued'`, gs[0].BatchID); n != 4 {
		t.Fatalf("%d queued jobs in the batch, want 4", n)
	}
	if n := count(t, d, `SELECT count(*) FROM events WHERE generation_id IN (?, ?, ?, ?)`, gs[0].ID, gs[1].ID, gs[2].ID, gs[3].ID); n != 4 {
		t.Fatalf("%d events, want one per generation", n)
	}
	batch, err := d.Batch(ctx, a, gs[0].BatchID)
	if err != nil || len(batch) != 4 {
		t.Fatalf("Batch: %v %v", batch, err)
	}
	for i := range batch {
		if batch[i].ID != gs[i].ID || batch[i].QueuePosition != gs[i].QueuePosition {
			t.Fatalf("Batch[%d] = %s at %d, want %s at %d", i, batch[i].ID, batch[i].QueuePosition, gs[i].ID, gs[i].QueuePosition)
		}
	}
	// Claimed in the batch's order.
	want := []string{single.ID, gs[0].ID, gs[1].ID, gs[2].ID, gs[3].ID}
	for i, w := range want {
		if got := claimOne(t, d); got != w {
			t.Fatalf("claim %d took %s, want %s", i, got, w)
		}
	}
	// Every event of a batch's generation carries its batch_id: created, started,
	// completed (written by different statements).
	j, err := d.JobForGeneration(ctx, gs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CompleteJob(ctx, j.ID, "w1", gs[0].ID, result()); err != nil {
		t.Fatal(err)
	}
	evs, err := d.EventsSince(ctx, a, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		if e.GenerationID != gs[0].ID {
			continue
		}
		seen[e.Type] = true
		if f := eventFields(t, e); f["batch_id"] != gs[0].BatchID {
			t.Fatalf("%s event's batch_id: %v, want %s", e.Type, f["batch_id"], gs[0].BatchID)
		}
	}
	if !seen[db.StatusPending] || !seen[db.StatusRunning] || !seen[db.StatusCompleted] {
		t.Fatalf("events of the batch's first generation: %v", seen)
	}
	b := addUser(t, d, "bob")
	if _, err := d.Batch(ctx, b, gs[0].BatchID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob reads alice's batch: %v", err)
	}
	if _, err := d.CreateGenerations(ctx, a, batchParams("1", "2", "3", "4", "5"), db.CreateOptions{}); db.CodeOf(err) != db.CodeInvalid {
		t.Fatalf("a batch of 5: %v", err)
	}
})

// A batch passes the pending cap whole or not at all: nothing of it is queued when
// the cap would be crossed.
var _ = register("BatchAllOrNothingAtPendingCap", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a := addUser(t, d, "alice")
	o := db.CreateOptions{MaxPending: 5}
	if _, err := d.CreateGenerations(ctx, a, batchParams("1", "2"), o); err != nil {
		t.Fatal(err)
	}
	_, err := d.CreateGenerations(ctx, a, batchParams("3", "4", "5", "6"), o)
	if db.CodeOf(err) != db.CodePendingLimit {
		t.Fatalf("a batch past the cap: %v, want %s", err, db.CodePendingLimit)
	}
	if n := countGenerations(t, d, a); n != 2 {
		t.Fatalf("%d generations after the refused batch, want 2", n)
	}
	if gs, err := d.CreateGenerations(ctx, a, batchParams("3", "4", "5"), o); err != nil || len(gs) != 3 {
		t.Fatalf("a batch up to the cap: %v %v", gs, err)
	}
})

// An idempotency key answers the whole batch it made, as it is now.
var _ = register("BatchIdempotencyKey", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a := addUser(t, d, "alice")
	o := db.CreateOptions{IdempotencyKey: "batch-1", RequestHash: "h"}
	gs, err := d.CreateGenerations(ctx, a, batchParams("1", "2", "3"), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CancelGeneration(ctx, a, gs[1].ID); err != nil {
		t.Fatal(err)
	}
	again, err := d.CreateGenerations(ctx, a, batchParams("1", "2", "3"), o)
	if err != nil || len(again) != 3 {
		t.Fatalf("again: %v %v", again, err)
	}
	for i, g := range again {
		if g.ID != gs[i].ID || !g.Replayed {
			t.Fatalf("again[%d] = %+v, want %s replayed", i, g, gs[i].ID)
		}
	}
	if again[1].Status != db.StatusCanceled {
		t.Fatalf("the replay shows %s, not the batch as it is now", again[1].Status)
	}
	if n := countGenerations(t, d, a); n != 3 {
		t.Fatalf("%d generations, want 3", n)
	}
})

// A batch is canceled and retried whole; another user's is not found.
var _ = register("BatchCancelRetry", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	gs, err := d.CreateGenerations(ctx, a, batchParams("1", "2", "3", "4"), db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bid := gs[0].BatchID
	if claimOne(t, d) != gs[0].ID {
		t.Fatal("the batch's first job was not claimed first")
	}
	if _, err := d.CancelBatch(ctx, b, bid); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob cancels alice's batch: %v", err)
	}
	if _, err := d.RetryBatch(ctx, b, bid, 0, nil); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob retries alice's batch: %v", err)
	}
	outs, err := d.CancelBatch(ctx, a, bid)
	if err != nil || len(outs) != 4 {
		t.Fatalf("cancel: %v %v", outs, err)
	}
	if !outs[0].WasRunning || outs[1].WasRunning {
		t.Fatalf("cancel outcomes: %+v", outs)
	}
	batch, err := d.Batch(ctx, a, bid)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range batch {
		if g.Status != db.StatusCanceled {
			t.Fatalf("%s is %s after the batch's cancel", g.ID, g.Status)
		}
	}
	if _, err := d.CancelBatch(ctx, a, bid); db.CodeOf(err) != db.CodeAlreadyFinished {
		t.Fatalf("cancel again: %v", err)
	}
	// The first one's worker has not let go: none is queued again yet.
	if _, err := d.RetryBatch(ctx, a, bid, 0, nil); db.CodeOf(err) != db.CodeStillStopping {
		t.Fatalf("retry while stopping: %v", err)
	}
	j, err := d.JobForGeneration(ctx, gs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.FinishCanceled(ctx, j.ID, "w1"); err != nil {
		t.Fatal(err)
	}
	again, err := d.RetryBatch(ctx, a, bid, 0, nil)
	if err != nil || len(again) != 4 {
		t.Fatalf("retry: %v %v", again, err)
	}
	for i, g := range again {
		if g.Status != db.StatusPending || g.ID != gs[i].ID || g.QueuePosition != i+1 {
			t.Fatalf("retried %d: %+v", i, g)
		}
	}
	if _, err := d.RetryBatch(ctx, a, bid, 0, nil); db.CodeOf(err) != db.CodeNotRetryable {
		t.Fatalf("retry of a pending batch: %v", err)
	}
	for i := range gs {
		if got := claimOne(t, d); got != gs[i].ID {
			t.Fatalf("claim %d after retry took %s, want %s", i, got, gs[i].ID)
		}
	}
})

// Moving a job to the front or back of its user's queue changes which job the claim
// takes next and the positions reads give; other users' turns are unchanged.
var _ = register("MoveQueuedChangesClaimOrder", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	g1, g2, g3 := create(t, d, a, "1"), create(t, d, a, "2"), create(t, d, a, "3")
	moved, err := d.MoveQueued(ctx, a, g3.ID, true)
	if err != nil || moved.QueuePosition != 1 {
		t.Fatalf("to the front: %+v %v", moved, err)
	}
	if got, _ := d.GetGeneration(ctx, a, g1.ID); got.QueuePosition != 2 {
		t.Fatalf("the first is at %d after another went to the front, want 2", got.QueuePosition)
	}
	back, err := d.MoveQueued(ctx, a, g1.ID, false)
	if err != nil || back.QueuePosition != 3 {
		t.Fatalf("to the back: %+v %v", back, err)
	}
	if _, err := d.MoveQueued(ctx, b, g2.ID, true); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob moves alice's job: %v", err)
	}
	g4 := create(t, d, a, "4") // a new job goes last, after one moved to the back
	if g4.QueuePosition != 4 {
		t.Fatalf("a new job at %d, want 4", g4.QueuePosition)
	}
	for i, want := range []string{g3.ID, g2.ID, g1.ID, g4.ID} {
		if got, _ := d.GetGeneration(ctx, a, want); got.QueuePosition != i+1 {
			t.Fatalf("%d-th in alice's order is at %d", i+1, got.QueuePosition)
		}
	}
	if got := claimOne(t, d); got != g3.ID {
		t.Fatalf("claimed %s, want the one moved to the front", got)
	}
	if _, err := d.MoveQueued(ctx, a, g3.ID, false); db.CodeOf(err) != db.CodeNotWaiting {
		t.Fatalf("moving a running one: %v", err)
	}
	// Bob's first job takes its turn before alice's second (fewest running first).
	gb := create(t, d, b, "b")
	if got := claimOne(t, d); got != gb.ID {
		t.Fatalf("claimed %s, want bob's", got)
	}
	for _, want := range []string{g2.ID, g1.ID, g4.ID} {
		if got := claimOne(t, d); got != want {
			t.Fatalf("claimed %s, want %s", got, want)
		}
	}
})

// A paused queue's pending generations stay pending, are not claimed and have no
// position (others' positions do not count them); resumed, they are claimed.
var _ = register("PausedQueueIsNotClaimed", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	ga := create(t, d, a, "a")
	st, err := d.SetQueuePaused(ctx, a, true)
	if err != nil || !st.Paused || st.Waiting != 1 {
		t.Fatalf("pause: %+v %v", st, err)
	}
	got, err := d.GetGeneration(ctx, a, ga.ID)
	if err != nil || !got.QueuePaused || got.QueuePosition != 0 || got.Status != db.StatusPending {
		t.Fatalf("paused read: %+v %v", got, err)
	}
	gp, err := d.CreateGeneration(ctx, a, params("while paused"), db.CreateOptions{})
	if err != nil || !gp.QueuePaused || gp.QueuePosition != 0 {
		t.Fatalf("created while paused: %+v %v", gp, err)
	}
	gb := create(t, d, b, "b")
	if gb.QueuePosition != 1 {
		t.Fatalf("bob's job at %d behind a paused queue, want 1", gb.QueuePosition)
	}
	if got := claimOne(t, d); got != gb.ID {
		t.Fatalf("claimed %q, want bob's", got)
	}
	if got := claimOne(t, d); got != "" {
		t.Fatalf("claimed %s from a paused queue", got)
	}
	if n := count(t, d, `SELECT count(*) FROM generations WHERE user_id = ? AND status = 'pending' AND state = 'queued'`, a); n != 2 {
		t.Fatalf("%d of alice's generations still pending, want 2", n)
	}
	st, err = d.SetQueuePaused(ctx, a, false)
	if err != nil || st.Paused {
		t.Fatalf("resume: %+v %v", st, err)
	}
	if got, _ := d.GetGeneration(ctx, a, ga.ID); got.QueuePaused || got.QueuePosition != 1 {
		t.Fatalf("resumed read: %+v", got)
	}
	if got := claimOne(t, d); got != ga.ID {
		t.Fatalf("claimed %q after resume, want alice's", got)
	}
})

// A batch passes the spending limits whole or not at all: its reservation is the sum of
// its generations' prices, each generation carries its own price, and a refused batch
// books nothing and queues nothing. A batch's retry reserves its runs together too.
var _ = register("BatchAllOrNothingAtSpendingLimit", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a := addUser(t, d, "alice")
	b := budget(db.Limits{DayUSD: usd(0.75)}) // five images at 0.15
	if _, err := d.CreateGenerations(ctx, a, batchParams("1", "2"), db.CreateOptions{Budget: b}); err != nil {
		t.Fatal(err)
	}
	_, err := d.CreateGenerations(ctx, a, batchParams("3", "4", "5", "6"), db.CreateOptions{Budget: b})
	if db.CodeOf(err) != db.CodeSpendingLimit {
		t.Fatalf("a batch past the day's limit: %v, want %s", err, db.CodeSpendingLimit)
	}
	if n := countGenerations(t, d, a); n != 2 {
		t.Fatalf("%d generations after the refused batch, want 2", n)
	}
	if micros, images := books(t, d, a); micros != 300_000 || images != 2 {
		t.Fatalf("books after the refused batch: %d micros, %d images; want 300000, 2", micros, images)
	}
	gs, err := d.CreateGenerations(ctx, a, batchParams("3", "4", "5"), db.CreateOptions{Budget: b})
	if err != nil {
		t.Fatalf("a batch up to the limit: %v", err)
	}
	for _, g := range gs {
		if g.CostMicros != 150_000 || g.PaidBy != db.PaidShared {
			t.Fatalf("a batch's generation costs %d (%s), want its own 150000", g.CostMicros, g.PaidBy)
		}
	}
	// Canceled, the batch's reservations are released; retried, reserved again together.
	if _, err := d.CancelBatch(ctx, a, gs[0].BatchID); err != nil {
		t.Fatal(err)
	}
	if micros, _ := books(t, d, a); micros != 300_000 {
		t.Fatalf("books after the cancel: %d micros, want 300000", micros)
	}
	tight := budget(db.Limits{DayUSD: usd(0.6)}) // room for two of the three
	if _, err := d.RetryBatch(ctx, a, gs[0].BatchID, 0, tight); db.CodeOf(err) != db.CodeSpendingLimit {
		t.Fatalf("a retry past the limit: %v", err)
	}
	if batch, _ := d.Batch(ctx, a, gs[0].BatchID); batch[0].Status != db.StatusCanceled {
		t.Fatalf("a refused retry queued %s", batch[0].Status)
	}
	if _, err := d.RetryBatch(ctx, a, gs[0].BatchID, 0, b); err != nil {
		t.Fatalf("a retry within the limit: %v", err)
	}
	if micros, images := books(t, d, a); micros != 750_000 || images != 5 {
		t.Fatalf("books after the retry: %d micros, %d images; want 750000, 5", micros, images)
	}
})

// A pause holds only pending generations: one already running that waits between
// tries (its prediction may be paid for) is still claimed.
var _ = register("PausedQueueStillRetriesRunning", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a := addUser(t, d, "alice")
	g := create(t, d, a, "running")
	held := create(t, d, a, "held")
	jobs, err := d.ClaimJobs(ctx, "w1", time.Now().Add(time.Minute), 1, 1)
	if err != nil || len(jobs) != 1 || jobs[0].GenerationID != g.ID {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if err := d.RetryLater(ctx, jobs[0].ID, "w1", time.Now().Add(-time.Second), "E6716", false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetQueuePaused(ctx, a, true); err != nil {
		t.Fatal(err)
	}
	if got := claimOne(t, d); got != g.ID {
		t.Fatalf("claimed %q from a paused queue, want the running one between tries", got)
	}
	if got := claimOne(t, d); got != "" {
		t.Fatalf("claimed %q, a pending one of a paused queue", got)
	}
	if st, _ := d.GetGeneration(ctx, a, held.ID); st.Status != db.StatusPending || !st.QueuePaused {
		t.Fatalf("the held one: %+v", st)
	}
})
