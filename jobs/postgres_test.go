package jobs

import (
	"context"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/internal/dbtest"
	"nanobanana/replicate/replicatetest"
)

// Two processes on one PostgreSQL database: a user cancels, through process A, a
// generation process B is running. The prediction is canceled at Replicate, B's worker
// lets go, and the job ends canceled, not running until its lease runs out. Queued work
// goes to whichever process has a free worker.
func TestCancelAcrossProcesses(t *testing.T) {
	dbtest.PostgresOnly(t)
	e := newEnv(t, replicatetest.Config{SlowRunTime: 30 * time.Second})
	u := e.user("alice")
	ctx := context.Background()
	// B runs the jobs; A only takes requests (no free workers: MaxWorkers applies to a
	// started service, and A is never started).
	e.start(func(o *Options) {
		o.DB = dbtest.Another(t, e.db, db.Options{})
		o.MaxWorkers = 2
		o.LeaseDuration = time.Minute // the cancel must not wait for a lease to run out
	})
	a := e.service(nil)
	g, err := a.Enqueue(ctx, u, params("long [[slow]]"))
	if err != nil {
		t.Fatal(err)
	}
	e.wait(u, g.ID, func(g *db.Generation) bool { return g.PredictionID != "" })
	start := time.Now()
	if c, err := a.Cancel(ctx, u, g.ID); err != nil || c.Status != db.StatusCanceled {
		t.Fatalf("cancel through A: %+v %v", c, err)
	}
	e.waitJob(g.ID, db.JobCanceled)
	t.Logf("job canceled %v after the cancel (lease %v)", time.Since(start).Round(time.Millisecond), time.Minute)
	if st := e.fake.Stats(); st.Created != 1 || st.Canceled != 1 {
		t.Fatalf("fake stats %+v: want one prediction, canceled", st)
	}
	// A second job, queued through A, is run by B (A has no workers running).
	g2, err := a.Enqueue(ctx, u, params("quick"))
	if err != nil {
		t.Fatal(err)
	}
	e.fake.Configure(func(c *replicatetest.Config) { c.SlowRunTime = 10 * time.Millisecond })
	if done := e.waitDone(u, g2.ID); done.Status != db.StatusCompleted {
		t.Fatalf("the job queued through A: %s %s", done.Status, done.Error)
	}
}
