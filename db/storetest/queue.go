package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"nanobanana/db"
)

var _ = register("QueuePositionIsFair", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	var last *db.Generation
	for i := range 10 {
		g := create(t, d, a, fmt.Sprint("a", i))
		if g.QueuePosition != i+1 {
			t.Fatalf("alice's job %d at position %d", i, g.QueuePosition)
		}
		last = g
	}
	gb := create(t, d, b, "b")
	// Round-robin: bob's first job goes right after alice's first.
	if gb.QueuePosition != 2 {
		t.Fatalf("bob's job at %d, want 2", gb.QueuePosition)
	}
	got, err := d.GetGeneration(ctx, a, last.ID)
	if err != nil || got.QueuePosition != 11 {
		t.Fatalf("alice's last job at %d (%v), want 11", got.QueuePosition, err)
	}
})

// The position the enqueue returns (from its INSERT) is the one a read right after
// gives, with users of every kind in the queue: more queued jobs, fewer, none queued but
// some running, and a user enqueueing for the first time.
var _ = register("EnqueuePositionMatchesRead", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	var users []int64
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		users = append(users, addUser(t, d, n))
	}
	check := func(u int64, what string) {
		t.Helper()
		g := create(t, d, u, what)
		got, err := d.GetGeneration(ctx, u, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.QueuePosition != got.QueuePosition || g.QueuePosition < 1 {
			t.Fatalf("%s: enqueue said position %d, a read says %d", what, g.QueuePosition, got.QueuePosition)
		}
	}
	// carol: one job, claimed, so she is counted with 0 queued and 1 running.
	check(users[2], "carol 0")
	if jobs, err := d.ClaimJobs(ctx, "w1", time.Now().Add(time.Minute), 3, 1); err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	for i := range 5 {
		check(users[0], fmt.Sprint("alice ", i))
	}
	for i := range 2 {
		check(users[1], fmt.Sprint("bob ", i))
	}
	check(users[3], "dave 0") // first job of a user not counted yet
	check(users[2], "carol 1")
	for i := range 4 {
		check(users[1], fmt.Sprint("bob ", 2+i))
	}
})

var _ = register("ClaimFairAndCapped", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	for i := range 50 {
		create(t, d, a, fmt.Sprint("a", i))
	}
	gb := create(t, d, b, "b")
	lease := time.Now().Add(time.Minute)
	jobs, err := d.ClaimJobs(ctx, "w1", lease, 3, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].UserID != a || jobs[1].UserID != b || jobs[1].GenerationID != gb.ID {
		t.Fatalf("first claim took %+v, want one of alice's then bob's", jobs)
	}
	if jobs[0].Attempts != 1 || jobs[0].LeaseOwner != "w1" || jobs[0].State != db.JobRunning ||
		!jobs[0].LeaseUntil.Equal(lease.Truncate(time.Millisecond)) {
		t.Fatalf("claimed job %+v", jobs[0])
	}
	if jobs[1].Generation == nil || jobs[1].Generation.ID != gb.ID || jobs[1].Generation.Status != db.StatusRunning {
		t.Fatalf("the claim's generation: %+v", jobs[1].Generation)
	}
	g, _ := d.GetGeneration(ctx, b, gb.ID)
	if g.Status != db.StatusRunning || g.StartedAt.IsZero() || g.QueuePosition != 0 {
		t.Fatalf("claimed generation %+v", g)
	}
	// Alice can have at most 3 running however many slots are free.
	for range 5 {
		if _, err := d.ClaimJobs(ctx, "w1", lease, 3, 10); err != nil {
			t.Fatal(err)
		}
	}
	counts, _ := d.QueueCounts(ctx)
	if counts[a] != [2]int{47, 3} || counts[b] != [2]int{0, 1} {
		t.Fatalf("counts %v", counts)
	}
	if running := count(t, d, `SELECT count(*) FROM generations WHERE state = 'running' AND user_id = ?`, a); running != 3 {
		t.Fatalf("alice running %d, want 3", running)
	}
	// Alice's oldest jobs, in order.
	page, _, err := d.ListGenerations(ctx, a, db.ListFilter{Status: db.StatusRunning})
	if err != nil || len(page) != 3 {
		t.Fatalf("alice's running: %+v %v", page, err)
	}
	for _, g := range page {
		if g.Prompt != "a0" && g.Prompt != "a1" && g.Prompt != "a2" {
			t.Fatalf("alice's running generations %q; want her three oldest", g.Prompt)
		}
	}
	if jobs, err := d.ClaimJobs(ctx, "w1", lease, 3, 0); err != nil || len(jobs) != 0 {
		t.Fatalf("a claim of none: %v %v", jobs, err)
	}
})

// A job whose run_after is in the future waits for it, and a job out of attempts is
// not claimed: RetryLater puts a job back for later.
var _ = register("RetryLaterWaits", func(t *testing.T, open Opener) {
	clock, advance := fixedClock(time.UnixMilli(1_800_000_000_000))
	d := open(t, db.Options{Now: clock})
	ctx := context.Background()
	u := addUser(t, d, "alice")
	g := create(t, d, u, "x")
	jobs, err := d.ClaimJobs(ctx, "w1", clock().Add(time.Minute), 3, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if err := d.SetPrediction(ctx, jobs[0].ID, "w1", g.ID, "p1"); err != nil {
		t.Fatal(err)
	}
	if err := d.RetryLater(ctx, jobs[0].ID, "w1", clock().Add(time.Minute), "busy", false); err != nil {
		t.Fatal(err)
	}
	if err := d.RetryLater(ctx, jobs[0].ID, "w1", clock(), "again", false); !errors.Is(err, db.ErrLeaseLost) {
		t.Fatalf("retry a job no longer held: %v", err)
	}
	if more, err := d.ClaimJobs(ctx, "w1", clock().Add(time.Minute), 3, 1); err != nil || len(more) != 0 {
		t.Fatalf("claimed before its time: %v %v", more, err)
	}
	if got, _ := d.GetGeneration(ctx, u, g.ID); got.Status != db.StatusRunning {
		t.Fatalf("a job waiting to retry: generation %s, want running", got.Status)
	}
	advance(time.Minute)
	jobs, err = d.ClaimJobs(ctx, "w2", clock().Add(time.Minute), 3, 1)
	if err != nil || len(jobs) != 1 || jobs[0].PredictionID != "p1" || jobs[0].Phase != db.PhaseSubmitted ||
		jobs[0].LastError != "busy" || jobs[0].Attempts != 2 || jobs[0].Generation != nil {
		t.Fatalf("claimed after its time: %+v %v", jobs, err)
	}
	// With a new prediction the next attempt starts from nothing.
	if err := d.RetryLater(ctx, jobs[0].ID, "w2", clock(), "E6716", true); err != nil {
		t.Fatal(err)
	}
	jobs, err = d.ClaimJobs(ctx, "w3", clock().Add(time.Minute), 3, 1)
	if err != nil || len(jobs) != 1 || jobs[0].PredictionID != "" || !jobs[0].SubmitClaimed {
		t.Fatalf("claimed for a new prediction: %+v %v", jobs, err)
	}
	if known, err := d.PredictionKnown(ctx, "p1"); err != nil || known {
		t.Fatalf("the dropped prediction is still known: %v %v", known, err)
	}
	if err := d.SetPhase(ctx, jobs[0].ID, "w3", db.PhaseDownloading); err != nil {
		t.Fatal(err)
	}
	if j, _ := d.GetJob(ctx, jobs[0].ID); j.Phase != db.PhaseDownloading {
		t.Fatalf("phase %q", j.Phase)
	}
	if err := d.ReleaseJob(ctx, jobs[0].ID, "w3"); err != nil {
		t.Fatal(err)
	}
	if j, _ := d.GetJob(ctx, jobs[0].ID); j.State != db.JobQueued || j.Attempts != 2 || j.LeaseOwner != "" || j.Phase != db.PhaseDownloading {
		t.Fatalf("released job %+v: want queued, the claim's attempt given back, its phase kept", j)
	}
})

var _ = register("LeaseLifecycle", func(t *testing.T, open Opener) {
	clock, advance := fixedClock(time.Now())
	d := open(t, db.Options{Now: clock})
	ctx := context.Background()
	u := addUser(t, d, "alice")
	g := create(t, d, u, "x")
	jobs, err := d.ClaimJobs(ctx, "w1", clock().Add(time.Minute), 3, 3)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	j := jobs[0]
	if err := d.MarkSubmitting(ctx, j.ID, "w1", clock()); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPrediction(ctx, j.ID, "w1", g.ID, "pred1"); err != nil {
		t.Fatal(err)
	}
	if got, err := d.JobForPrediction(ctx, "pred1"); err != nil || got.ID != j.ID {
		t.Fatalf("job for pred1: %+v %v", got, err)
	}
	if known, err := d.PredictionKnown(ctx, "pred1"); err != nil || !known {
		t.Fatalf("pred1 known: %v %v", known, err)
	}
	if err := d.MarkSubmitting(ctx, j.ID, "other", clock()); !errors.Is(err, db.ErrLeaseLost) {
		t.Fatalf("foreign owner: %v", err)
	}
	if err := d.ExtendLease(ctx, j.ID, "w1", clock().Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Not expired yet: nothing to reclaim.
	advance(time.Minute)
	if n, err := d.ReclaimExpiredLeases(ctx); err != nil || n != 0 {
		t.Fatalf("reclaim of a live lease: %d %v", n, err)
	}
	// The holder dies: after the lease ends the job is reclaimed, with its prediction.
	advance(time.Minute)
	if n, err := d.ReclaimExpiredLeases(ctx); err != nil || n != 1 {
		t.Fatalf("reclaim: %d %v", n, err)
	}
	if err := d.ExtendLease(ctx, j.ID, "w1", clock().Add(time.Minute)); !errors.Is(err, db.ErrLeaseLost) {
		t.Fatalf("extend after reclaim: %v", err)
	}
	jobs, _ = d.ClaimJobs(ctx, "w2", clock().Add(time.Minute), 3, 3)
	if len(jobs) != 1 || jobs[0].PredictionID != "pred1" || jobs[0].Phase != db.PhaseSubmitted || jobs[0].Attempts != 2 {
		t.Fatalf("reclaimed job %+v", jobs)
	}
	// A second job can never adopt the same prediction.
	g2 := create(t, d, u, "y")
	jobs2, _ := d.ClaimJobs(ctx, "w3", clock().Add(time.Minute), 3, 3)
	if len(jobs2) != 1 {
		t.Fatalf("claim of the second job: %+v", jobs2)
	}
	err = d.SetPrediction(ctx, jobs2[0].ID, "w3", g2.ID, "pred1")
	if !errors.Is(err, db.ErrConflict) || db.CodeOf(err) != db.CodePredictionOwned {
		t.Fatalf("duplicate prediction: %v (code %s)", err, db.CodeOf(err))
	}
	if got, _ := d.GetJob(ctx, jobs2[0].ID); got.PredictionID != "" || got.State != db.JobRunning {
		t.Fatalf("the refused job %+v", got)
	}
	res := db.Result{ImageKey: "u/1/x.png", ImageType: "image/png", ThumbKey: "u/1/x_thumb.jpg", Width: 10, Height: 20, Bytes: 99, SHA256: "ab"}
	if err := d.CompleteJob(ctx, jobs[0].ID, "w1", g.ID, res); !errors.Is(err, db.ErrLeaseLost) {
		t.Fatalf("the old holder completed: %v", err)
	}
	if err := d.CompleteJob(ctx, jobs[0].ID, "w2", g.ID, res); err != nil {
		t.Fatal(err)
	}
	got, _ := d.GetGeneration(ctx, u, g.ID)
	if got.Status != db.StatusCompleted || got.Width != 10 || got.Height != 20 || got.Bytes != 99 || got.ImageKey != res.ImageKey ||
		got.ImageType != res.ImageType || got.ThumbKey != res.ThumbKey || got.SHA256 != "ab" || got.PredictionID != "pred1" || got.CompletedAt.IsZero() {
		t.Fatalf("completed %+v", got)
	}
	if j, _ := d.GetJob(ctx, jobs[0].ID); j.State != db.JobDone || !j.LeaseUntil.IsZero() {
		t.Fatalf("done job %+v", j)
	}
	if gj, err := d.GenerationForJob(ctx, g.ID); err != nil || gj.Status != db.StatusCompleted || gj.UserID != u {
		t.Fatalf("generation for the job: %+v %v", gj, err)
	}
	if err := d.CompleteJob(ctx, jobs[0].ID, "w2", g.ID, res); !errors.Is(err, db.ErrLeaseLost) {
		t.Fatalf("complete twice: %v", err)
	}
	_, err = d.RetryGeneration(ctx, u, g.ID, 5, nil)
	if !errors.Is(err, db.ErrConflict) || db.CodeOf(err) != db.CodeNotRetryable {
		t.Fatalf("retry completed: %v (code %s)", err, db.CodeOf(err))
	}
	if _, err := d.GetJob(ctx, 1<<40); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
	if _, err := d.JobForPrediction(ctx, "nope"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("unknown prediction: %v", err)
	}
})

// A restart of the only process hands back the leases of its previous run at once.
var _ = register("ReclaimLeasesNotOwnedBy", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	create(t, d, a, "x")
	create(t, d, b, "y")
	if jobs, err := d.ClaimJobs(ctx, "old-1", time.Now().Add(time.Hour), 3, 1); err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if jobs, err := d.ClaimJobs(ctx, "new-1", time.Now().Add(time.Hour), 3, 1); err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if n, err := d.ReclaimLeasesNotOwnedBy(ctx, "new-"); err != nil || n != 1 {
		t.Fatalf("reclaimed %d, %v; want the old process's one", n, err)
	}
	counts, _ := d.QueueCounts(ctx)
	if counts[a] != [2]int{1, 0} || counts[b] != [2]int{0, 1} {
		t.Fatalf("counts %v", counts)
	}
})

// A fresh claim records 'submitting' in its own commit, so the worker can create at once;
// a job left 'submitting' by a dead holder keeps the old submit time reconciliation needs.
var _ = register("ClaimRecordsSubmitting", func(t *testing.T, open Opener) {
	clock, advance := fixedClock(time.UnixMilli(1_800_000_000_000))
	d := open(t, db.Options{Now: clock})
	ctx := context.Background()
	u := addUser(t, d, "alice")
	create(t, d, u, "x")
	jobs, err := d.ClaimJobs(ctx, "w1", clock().Add(time.Minute), 3, 3)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	j := jobs[0]
	if !j.SubmitClaimed || j.Phase != db.PhaseNone || !j.SubmitStartedAt.Equal(clock()) {
		t.Fatalf("fresh claim %+v", j)
	}
	stored, _ := d.GetJob(ctx, j.ID)
	if stored.Phase != db.PhaseSubmitting || !stored.SubmitStartedAt.Equal(clock()) {
		t.Fatalf("stored after claim: phase %q at %v", stored.Phase, stored.SubmitStartedAt)
	}
	first := clock()
	advance(2 * time.Minute)
	if n, err := d.ReclaimExpiredLeases(ctx); err != nil || n != 1 {
		t.Fatalf("reclaim: %d %v", n, err)
	}
	jobs, _ = d.ClaimJobs(ctx, "w2", clock().Add(time.Minute), 3, 3)
	if len(jobs) != 1 || jobs[0].SubmitClaimed || jobs[0].Phase != db.PhaseSubmitting || !jobs[0].SubmitStartedAt.Equal(first) {
		t.Fatalf("reclaimed job %+v, want the old submitting phase and time", jobs)
	}

	// Within one millisecond: a job a claim marked 'submitting' and handed back (a
	// shutdown) is, claimed again at that same time, still one to reconcile, not a fresh
	// one: its submit time alone could not tell.
	b := addUser(t, d, "bob")
	create(t, d, b, "y")
	jobs, _ = d.ClaimJobs(ctx, "w3", clock().Add(time.Minute), 3, 3)
	if len(jobs) != 1 || !jobs[0].SubmitClaimed {
		t.Fatalf("bob's fresh claim %+v", jobs)
	}
	if err := d.ReleaseJob(ctx, jobs[0].ID, "w3"); err != nil {
		t.Fatal(err)
	}
	jobs, _ = d.ClaimJobs(ctx, "w4", clock().Add(time.Minute), 3, 3)
	if len(jobs) != 1 || jobs[0].SubmitClaimed || jobs[0].Phase != db.PhaseSubmitting || !jobs[0].SubmitStartedAt.Equal(clock()) {
		t.Fatalf("bob's job claimed again in the same millisecond %+v, want it left to reconcile", jobs)
	}
})
