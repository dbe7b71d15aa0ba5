package storetest

import (
	"context"
	"testing"
	"time"

	"nanobanana/db"
)

// QueueSurvivesOneRowMigration checks that the queue carries on where it was across the
// migration that folded the jobs table into generations (SQLite 0007, PostgreSQL 0005):
// the same jobs queued and running, leases, phases and predictions kept, the per-user
// counts right, the old claim order, and new jobs behind the old ones.
//
// The engine's test makes a database with its migrations before that one and passes
// exec, which runs one statement (SQLite's dialect) on it, and open, which opens the
// store on it (migrating it) once exec is no longer needed.
func QueueSurvivesOneRowMigration(t *testing.T, exec func(q string, args ...any), open func() Store) {
	exec(`INSERT INTO users (id, username, email, password_hash, created_at, updated_at)
		VALUES (1, 'alice', 'alice@example.com', 'x', 0, 0), (2, 'bob', 'bob@example.com', 'x', 0, 0)`)
	gen := func(id string, user int64, status, pred string, created int64) {
		var p any
		if pred != "" {
			p = pred
		}
		exec(`INSERT INTO generations (id, user_id, status, prompt, resolution, aspect_ratio, output_format,
			safety_filter_level, generation_mode, prediction_id, created_at, updated_at)
			VALUES (?, ?, ?, 'p', '1K', '1:1', 'png', 'block_only_high', 'text-to-image', ?, ?, ?)`,
			id, user, status, p, created, created)
	}
	job := func(id int64, genID string, user int64, state, phase, pred, owner string, attempts, maxAttempts int, submitAt int64, lastError string) {
		var ph, pr, ow, lease, sub any
		if phase != "" {
			ph = phase
		}
		if pred != "" {
			pr = pred
		}
		if owner != "" {
			ow, lease = owner, int64(1)<<50
		}
		if submitAt != 0 {
			sub = submitAt
		}
		exec(`INSERT INTO jobs (id, generation_id, user_id, state, phase, attempts, max_attempts, run_after,
			lease_until, lease_owner, last_error, prediction_id, submit_started_at, submit_owner, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, 7, 8)`,
			id, genID, user, state, ph, attempts, maxAttempts, lease, ow, lastError, pr, sub, ow)
	}
	const (
		g1 = "00000000000000000000000000000001" // alice, queued, never claimed
		g2 = "00000000000000000000000000000002" // alice, running with a recorded prediction
		g3 = "00000000000000000000000000000003" // bob, completed
		g4 = "00000000000000000000000000000004" // bob, failed
		g5 = "00000000000000000000000000000005" // bob, queued
		g6 = "00000000000000000000000000000006" // alice, queued again for a new prediction
	)
	gen(g1, 1, "pending", "", 1)
	gen(g2, 1, "running", "p2", 2)
	gen(g3, 2, "completed", "p3", 3)
	gen(g4, 2, "failed", "", 4)
	gen(g5, 2, "pending", "", 5)
	gen(g6, 1, "running", "gone", 6) // the generation kept the ended prediction, the job did not
	job(10, g1, 1, "queued", "", "", "", 0, 5, 0, "")
	job(11, g2, 1, "running", "submitted", "p2", "old-1", 1, 5, 3, "")
	job(12, g3, 2, "done", "", "p3", "", 1, 5, 3, "")
	job(13, g4, 2, "failed", "", "", "", 5, 5, 0, "boom")
	job(14, g5, 2, "queued", "", "", "", 0, 3, 0, "")
	job(15, g6, 1, "queued", "submitting", "", "", 2, 5, 5, "")

	d := open()
	ctx := context.Background()
	counts, err := d.QueueCounts(ctx)
	if err != nil || len(counts) != 2 || counts[1] != [2]int{2, 1} || counts[2] != [2]int{1, 0} {
		t.Fatalf("queue counts after the migration: %v %v", counts, err)
	}
	j2, err := d.JobForGeneration(ctx, g2)
	if err != nil || j2.ID != 11 || j2.State != db.JobRunning || j2.Phase != db.PhaseSubmitted || j2.PredictionID != "p2" ||
		j2.LeaseOwner != "old-1" || j2.Attempts != 1 || !j2.SubmitStartedAt.Equal(time.UnixMilli(3)) || !j2.CreatedAt.Equal(time.UnixMilli(7)) {
		t.Fatalf("running job: %+v %v", j2, err)
	}
	j6, err := d.JobForGeneration(ctx, g6)
	if err != nil || j6.ID != 15 || j6.State != db.JobQueued || j6.Phase != db.PhaseSubmitting || j6.PredictionID != "" ||
		!j6.SubmitStartedAt.Equal(time.UnixMilli(5)) || j6.Attempts != 2 {
		t.Fatalf("job queued for a new prediction: %+v %v", j6, err)
	}
	if known, err := d.PredictionKnown(ctx, "gone"); err != nil || known {
		t.Fatalf("the ended prediction the job had let go of is known: %v %v", known, err)
	}
	if j3, err := d.JobForPrediction(ctx, "p3"); err != nil || j3.GenerationID != g3 || j3.State != db.JobDone {
		t.Fatalf("job of p3: %+v %v", j3, err)
	}
	if j4, err := d.JobForGeneration(ctx, g4); err != nil || j4.State != db.JobFailed || j4.LastError != "boom" || j4.MaxAttempts != 5 {
		t.Fatalf("failed job: %+v %v", j4, err)
	}
	if g, err := d.GetGeneration(ctx, 2, g5); err != nil || g.Status != db.StatusPending || g.QueuePosition != 2 {
		t.Fatalf("bob's queued generation: %+v %v", g, err)
	}
	if g, err := d.GetGeneration(ctx, 1, g6); err != nil || g.PredictionID != "" {
		t.Fatalf("alice's requeued generation: %+v %v", g, err)
	}

	// The old process's lease is handed back; then one claim per user, oldest job first:
	// alice's job 10 (her running count is back to 0), bob's job 14.
	if n, err := d.ReclaimLeasesNotOwnedBy(ctx, "new-"); err != nil || n != 1 {
		t.Fatalf("reclaimed %d, %v", n, err)
	}
	claimed, err := d.ClaimJobs(ctx, "new-1", time.Now().Add(time.Minute), 3, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %+v %v", claimed, err)
	}
	got := map[int64]db.Job{}
	for _, j := range claimed {
		got[j.ID] = j
	}
	if j := got[10]; j.GenerationID != g1 || !j.SubmitClaimed || j.Generation == nil || j.Generation.Status != db.StatusRunning {
		t.Fatalf("alice's claim: %+v", j)
	}
	if j := got[14]; j.GenerationID != g5 || j.MaxAttempts != 3 || j.Generation == nil {
		t.Fatalf("bob's claim: %+v", j)
	}
	// A new job goes behind the old ones: alice's next claims are 11 (resumed, with its
	// prediction), 15, then the new one.
	g7, err := d.CreateGeneration(ctx, 1, params("after the migration"), db.CreateOptions{})
	if err != nil || g7.QueuePosition != 3 {
		t.Fatalf("created after the migration: %+v %v", g7, err)
	}
	j7, err := d.JobForGeneration(ctx, g7.ID)
	if err != nil || j7.ID <= 15 {
		t.Fatalf("new job: %+v %v", j7, err)
	}
	var order []int64
	for range 3 {
		c, err := d.ClaimJobs(ctx, "new-1", time.Now().Add(time.Minute), 10, 1)
		if err != nil || len(c) != 1 {
			t.Fatalf("claim: %+v %v", c, err)
		}
		if c[0].ID == 11 && (c[0].PredictionID != "p2" || c[0].Phase != db.PhaseSubmitted || c[0].SubmitClaimed || c[0].Generation != nil) {
			t.Fatalf("resumed job: %+v", c[0])
		}
		order = append(order, c[0].ID)
	}
	if order[0] != 11 || order[1] != 15 || order[2] != j7.ID {
		t.Fatalf("claim order after the migration: %v", order)
	}
	// Running again takes a new job id, behind every other.
	g4r, err := d.RetryGeneration(ctx, 2, g4, 0, nil)
	if err != nil || g4r.Status != db.StatusPending {
		t.Fatalf("retry: %+v %v", g4r, err)
	}
	if j, err := d.JobForGeneration(ctx, g4); err != nil || j.ID <= j7.ID || j.Attempts != 0 || j.LastError != "" || j.State != db.JobQueued {
		t.Fatalf("retried job: %+v %v", j, err)
	}
}
