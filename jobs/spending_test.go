package jobs

import (
	"context"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/replicate/replicatetest"
)

// Settlement: what a generation books, run by a real worker against the fake Replicate
// over HTTP, as its user and the books see it. The price is 0.15: 150000 micros.
const price = 150_000

func shared() *db.Budget { return &db.Budget{PaidBy: db.PaidShared, PriceUSD: 0.15} }

// settle enqueues prompt for a new user with a budget, waits until its job has ended,
// and returns the generation and what the user's books hold.
func (e *env) settle(s *Service, name, prompt string) (*db.Generation, int64, int) {
	e.t.Helper()
	u := e.user(name)
	g, err := s.EnqueueOnce(context.Background(), u, params(prompt), "", "", shared())
	if err != nil {
		e.t.Fatal(err)
	}
	if g.BookedMicros != price {
		e.t.Errorf("%s: a queued generation holds %d, want its reservation %d", name, g.BookedMicros, price)
	}
	g = e.waitDone(u, g.ID)
	e.waitJobEnded(g.ID)
	g, err = e.db.GetGeneration(context.Background(), u, g.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	m, n := e.books(u)
	return g, m, n
}

func (e *env) waitJobEnded(id string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := e.db.JobForGeneration(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if j.State == db.JobDone || j.State == db.JobFailed || j.State == db.JobCanceled {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job still %s", j.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) books(u int64) (int64, int) {
	e.t.Helper()
	var m int64
	var n int
	if err := e.db.Raw(context.Background(), `SELECT coalesce(sum(micros), 0), coalesce(sum(images), 0)
		FROM spending WHERE user_id = ?`, []any{u}, &m, &n); err != nil {
		e.t.Fatal(err)
	}
	return m, n
}

func TestBooksCompletedIsChargedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{})
	s := e.start(nil)
	g, m, n := e.settle(s, "okay", "a cat")
	if g.Status != db.StatusCompleted || g.BookedMicros != price || m != price || n != 1 {
		t.Errorf("completed: status %s, booked %d, books %d/%d; want one charge", g.Status, g.BookedMicros, m, n)
	}
	if len(g.Metrics) == 0 {
		t.Errorf("no metrics kept from Replicate")
	}
}

// Replicate refused the create (402, no credit): nothing reached Replicate, released.
func TestBooksFailedBeforeReplicateAcceptedIsReleased(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{NoCreditTokens: []string{"r8_broke"}})
	s := e.start(nil)
	g, m, n := e.settle(s, "broke", "a cat")
	if g.Status != db.StatusFailed || g.BookedMicros != 0 || m != 0 || n != 0 {
		t.Errorf("refused create: status %s, booked %d, books %d/%d; want released", g.Status, g.BookedMicros, m, n)
	}
	if c := e.fake.Stats().Created; c != 0 {
		t.Errorf("%d predictions created", c)
	}
}

// The prediction was accepted, then failed: Replicate charged it, so do the books.
func TestBooksFailedAfterReplicateAcceptedIsCharged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{})
	s := e.start(nil)
	g, m, n := e.settle(s, "failed", "a cat [[fail]]")
	if g.Status != db.StatusFailed || g.BookedMicros != price || m != price || n != 1 {
		t.Errorf("failed prediction: status %s, booked %d, books %d/%d; want charged", g.Status, g.BookedMicros, m, n)
	}
}

// Each new prediction books again: a transient failure (E6716) retried with a new
// prediction is two charges.
func TestBooksEachNewPredictionBooksAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{})
	s := e.start(func(o *Options) { o.MaxAttempts = 2 })
	g, m, n := e.settle(s, "twice", "a cat [[E6716]]")
	created := e.fake.Stats().Created
	if g.Status != db.StatusFailed || created != 2 || g.BookedMicros != 2*price || m != 2*price || n != 2 {
		t.Errorf("two failed predictions: status %s, %d created, booked %d, books %d/%d", g.Status, created, g.BookedMicros, m, n)
	}
}

// Retried creates (a 503 that may hide a prediction, then a create whose answer was
// lost, found again by reconciliation): one prediction, charged once.
func TestBooksRetriedIsChargedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{UnavailableNextCreates: 1, LoseNextCreates: 1, ListWithInput: true})
	s := e.start(nil)
	g, m, n := e.settle(s, "retried", "a cat")
	if g.Status != db.StatusCompleted || g.BookedMicros != price || m != price || n != 1 {
		t.Errorf("retried: status %s, booked %d, books %d/%d; want charged once", g.Status, g.BookedMicros, m, n)
	}
	if c := e.fake.Stats().Created; c != 1 {
		t.Errorf("%d predictions created, want 1", c)
	}
}

// Never started before its Cancel-After: aborted, not charged by Replicate, released.
func TestBooksAbortedIsReleased(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{})
	s := e.start(func(o *Options) { o.MaxAttempts, o.CancelAfter = 1, 5*time.Second })
	g, m, n := e.settle(s, "aborted", "a cat [[stuck]]")
	if g.Status != db.StatusFailed || g.BookedMicros != 0 || m != 0 || n != 0 {
		t.Errorf("aborted: status %s, booked %d, books %d/%d; want released", g.Status, g.BookedMicros, m, n)
	}
	if a := e.fake.Stats().Aborted; a != 1 {
		t.Errorf("%d aborted at the fake, want 1", a)
	}
}

// Canceled while pending (no worker yet): released at once; canceled while running
// after the prediction was accepted: charged.
func TestBooksCanceled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{})
	s := e.service(nil)
	ctx := context.Background()
	u := e.user("canceler")
	g, err := s.EnqueueOnce(ctx, u, params("a cat"), "", "", shared())
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Cancel(ctx, u, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if out.BookedMicros != 0 {
		t.Errorf("the canceled answer holds %d", out.BookedMicros)
	}
	if m, n := e.books(u); m != 0 || n != 0 {
		t.Errorf("canceled while pending: books %d/%d, want released", m, n)
	}

	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	g, err = s.EnqueueOnce(ctx, u, params("a slow cat [[stuck]]"), "", "", shared())
	if err != nil {
		t.Fatal(err)
	}
	e.wait(u, g.ID, func(g *db.Generation) bool { return g.Status == db.StatusRunning })
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := e.db.JobForGeneration(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.PredictionID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no prediction")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.Cancel(ctx, u, g.ID); err != nil {
		t.Fatal(err)
	}
	e.waitJobEnded(g.ID)
	if m, n := e.books(u); m != price || n != 1 {
		t.Errorf("canceled after Replicate accepted: books %d/%d, want charged", m, n)
	}
}
