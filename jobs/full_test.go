package jobs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/replicate/replicatetest"
	"nanobanana/storage"
)

// fillableStorage is the real fs store whose Put fails, while full is set, as the fs
// adapter does on a full disk: ErrFull wrapping ENOSPC, nothing stored. Everything else
// (the database, the fake Replicate over HTTP, the files once there is room) is real.
type fillableStorage struct {
	storage.Storage
	full  atomic.Bool
	fails atomic.Int64
}

func (s *fillableStorage) Put(ctx context.Context, key string, r io.Reader, contentType string) (storage.Info, error) {
	if s.full.Load() {
		s.fails.Add(1)
		_, _ = io.CopyN(io.Discard, r, 64<<10) // some of it was written before the disk said no
		return storage.Info{}, fmt.Errorf("storage: put %q: %w: %w", key, storage.ErrFull,
			&fs.PathError{Op: "write", Path: ".tmp-1", Err: syscall.ENOSPC})
	}
	return s.Storage.Put(ctx, key, r, contentType)
}

func (e *env) fillable() *fillableStorage {
	st := &fillableStorage{Storage: e.store}
	e.opts.Storage = st
	return st
}

// A disk that fills and frees again. The first generation's prediction succeeds and its
// image cannot be stored: it waits, showing its user why, in the queue (it holds no
// worker: with one worker, the others are taken up meanwhile) and past its attempts (2
// here). The others are not started while storage is known to be full, so nothing more
// is paid for, and say so. Once there is room every image is stored, and the fake
// counts one prediction per generation. Before, a succeeded prediction was given up
// after its attempts (~30 s), and its retry paid for a new one.
func TestFullDiskKeepsEveryPaidImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{})
	st := e.fillable()
	st.full.Store(true)
	s := e.start(func(o *Options) { o.MaxWorkers, o.MaxAttempts = 1, 2 })
	u := e.user("alice")
	ctx := context.Background()
	first, err := s.Enqueue(ctx, u, params("while the disk is full"))
	if err != nil {
		t.Fatal(err)
	}
	g := e.wait(u, first.ID, func(g *db.Generation) bool { return strings.Contains(g.Error, "storage is full") })
	if g.Status != db.StatusRunning || !strings.Contains(g.Error, "kept at Replicate until") {
		t.Fatalf("while the disk is full: %s %q; want running, saying why and until when", g.Status, g.Error)
	}
	ids := []string{first.ID}
	for i := range 2 {
		g, err := s.Enqueue(ctx, u, params(fmt.Sprint("after the disk filled ", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, g.ID)
	}
	for _, id := range ids[1:] {
		g := e.wait(u, id, func(g *db.Generation) bool { return strings.Contains(g.Error, "Waiting for room") })
		if g.Status != db.StatusRunning {
			t.Fatalf("a generation put off: %s %q", g.Status, g.Error)
		}
	}
	e.waitFor("the held job to try more than its attempts", func() bool {
		j, err := e.db.JobForGeneration(ctx, first.ID)
		return err == nil && j.Attempts > 2
	})
	if st := e.fake.Stats(); st.Created != 1 || st.Succeeded != 1 {
		t.Fatalf("while full: %d predictions created, %d succeeded; want only the first's", st.Created, st.Succeeded)
	}

	st.full.Store(false)
	for _, id := range ids {
		g := e.waitDone(u, id)
		if g.Status != db.StatusCompleted || g.Error != "" {
			t.Fatalf("after the disk freed: %s %q", g.Status, g.Error)
		}
		if b := e.readAll(g.ImageKey); len(b) == 0 {
			t.Fatalf("%s: no image stored", id)
		}
	}
	if st := e.fake.Stats(); st.Created != len(ids) {
		t.Fatalf("%d predictions for %d generations; each is paid for once", st.Created, len(ids))
	}
	t.Logf("%d puts refused while full", st.fails.Load())
}

// A generation whose output waits (storage full) and is canceled, then run again once
// there is room, fetches the output it paid for: no second prediction.
func TestRetryOfAPaidGenerationFetchesItsOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{})
	st := e.fillable()
	st.full.Store(true)
	s := e.start(nil)
	u := e.user("alice")
	ctx := context.Background()
	g, err := s.Enqueue(ctx, u, params("canceled while held"))
	if err != nil {
		t.Fatal(err)
	}
	e.wait(u, g.ID, func(g *db.Generation) bool { return strings.Contains(g.Error, "storage is full") })
	if _, err := s.Cancel(ctx, u, g.ID); err != nil {
		t.Fatal(err)
	}
	e.wait(u, g.ID, func(g *db.Generation) bool { return g.Status == db.StatusCanceled })
	e.waitJob(g.ID, db.JobCanceled)
	st.full.Store(false)
	if _, err := s.Retry(ctx, u, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	if done := e.waitDone(u, g.ID); done.Status != db.StatusCompleted {
		t.Fatalf("run again: %s %q", done.Status, done.Error)
	}
	if st := e.fake.Stats(); st.Created != 1 {
		t.Fatalf("%d predictions: the run again paid again", st.Created)
	}
}

// A disk that stays full: the job waits only while Replicate keeps the output
// (OutputLifetime, short here), then fails with a sentence saying why; it does not stay
// running.
func TestFullDiskGivesUpWhenTheOutputIsGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, replicatetest.Config{})
	st := e.fillable()
	st.full.Store(true)
	s := e.start(func(o *Options) { o.OutputLifetime = 2 * time.Second })
	u := e.user("alice")
	g, err := s.Enqueue(context.Background(), u, params("never stored"))
	if err != nil {
		t.Fatal(err)
	}
	done := e.waitDone(u, g.ID)
	if done.Status != db.StatusFailed || !strings.Contains(done.Error, "storage stayed full") {
		t.Fatalf("after the output's lifetime: %s %q", done.Status, done.Error)
	}
}

// waitFor polls cond; the limit only stops a hung test.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("still waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
