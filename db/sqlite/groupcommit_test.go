package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

// exec runs statements as one write of their own.
func exec(t testing.TB, d *DB, qs ...string) {
	t.Helper()
	if err := d.e.Write(context.Background(), false, func(q sqlstore.Querier) error {
		for _, s := range qs {
			if _, err := q.Exec(s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// holdWriter stops the committer between two batches until release is called: writes
// queued meanwhile form the next batch, in the order they were queued.
func holdWriter(t testing.TB, d *DB) (release func()) {
	t.Helper()
	held, rel := make(chan struct{}), make(chan struct{})
	go d.e.commit.pause(func() { close(held); <-rel })
	<-held
	var once sync.Once
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(release)
	return release
}

// waitQueued waits until n writes are queued for the held writer.
func waitQueued(d *DB, n int) {
	for len(d.e.commit.reqs) < n {
		time.Sleep(time.Millisecond)
	}
}

// Writes that share a group commit stay independent: one that fails after writing is
// rolled back alone and its caller gets its error; the others are stored.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	d, err := Open(context.Background(), t.TempDir()+"/t.db", db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()
	ctx := context.Background()
	exec(t, d, `CREATE TABLE t (x INTEGER PRIMARY KEY)`)
	errOdd := errors.New("odd")
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = d.e.Write(ctx, false, func(q sqlstore.Querier) error {
				if _, err := q.Exec(`INSERT INTO t (x) VALUES (?)`, i); err != nil {
					return err
				}
				if i%2 == 1 {
					return fmt.Errorf("write %d: %w", i, errOdd)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%2 == 1) != errors.Is(err, errOdd) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	var count, odd int
	if err := d.Raw(ctx, `SELECT count(*), count(*) FILTER (WHERE x % 2 = 1) FROM t`, nil, &count, &odd); err != nil {
		t.Fatal(err)
	}
	if count != n/2 || odd != 0 {
		t.Fatalf("stored %d rows (%d odd), want %d even ones", count, odd, n/2)
	}
	// A write that panics is its caller's error, not the process's end.
	if err := d.e.Write(ctx, false, func(q sqlstore.Querier) error { panic("boom") }); err == nil {
		t.Fatal("a panicking write succeeded")
	}
	// A caller whose context is already done is never run.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := d.e.Write(cctx, false, func(q sqlstore.Querier) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("canceled write: ran=%v err=%v", ran, err)
	}
	// After Close a write is refused instead of hanging.
	closed = true
	d.Close()
	ran = false
	if err := d.e.Write(ctx, false, func(q sqlstore.Querier) error { ran = true; return nil }); !errors.Is(err, db.ErrClosed) || ran {
		t.Fatalf("write after close: ran=%v err=%v; want ErrClosed", ran, err)
	}
}

// A batch in which one write fails runs again (each write in a savepoint): the writes
// before the failing one run twice. They are safe to, by construction: each run starts
// from the state the rollback restored and from the function's arguments, and what a
// caller gets is the result of the run that committed. So each leaves exactly one
// effect, the one its answer describes.
func TestGroupCommitRetriedWriteLeavesOneEffect(t *testing.T) {
	d := openTest(t, db.Options{})
	ctx := context.Background()
	exec(t, d, `CREATE TABLE t (id INTEGER PRIMARY KEY, w INTEGER NOT NULL, run INTEGER NOT NULL)`)
	errFail := errors.New("fails after writing")
	const n, failing = 4, 2
	type answer struct{ id, run int64 }
	runs := make([]int64, n)
	answers := make([]answer, n)
	errs := make([]error, n)
	release := holdWriter(t, d)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var out answer
			errs[i] = d.e.Write(ctx, false, func(q sqlstore.Querier) error {
				// As the store's writes do: the result is this run's, replacing any
				// earlier run's (sqlstore.write).
				runs[i]++
				var a answer
				if err := q.QueryRow(`INSERT INTO t (w, run) VALUES (?, ?) RETURNING id, run`, i, runs[i]).Scan(&a.id, &a.run); err != nil {
					return err
				}
				out = a
				if i == failing {
					return errFail
				}
				return nil
			})
			answers[i] = out
		})
		waitQueued(d, i+1) // queued in order: 0, 1, 2 (fails), 3
	}
	release()
	wg.Wait()
	if runs[0] != 2 || runs[1] != 2 {
		t.Fatalf("the writes before the failing one ran %d and %d times: the batch was not run again, so this test no longer covers a write run twice", runs[0], runs[1])
	}
	for i := range n {
		if (i == failing) != errors.Is(errs[i], errFail) || (i != failing && errs[i] != nil) {
			t.Fatalf("write %d: %v", i, errs[i])
		}
	}
	for i := range n {
		var rows int
		var id, run int64
		if err := d.Raw(ctx, `SELECT count(*), coalesce(max(id), 0), coalesce(max(run), 0) FROM t WHERE w = ?`, []any{i}, &rows, &id, &run); err != nil {
			t.Fatal(err)
		}
		if i == failing {
			if rows != 0 {
				t.Errorf("the failing write left %d rows", rows)
			}
			continue
		}
		if rows != 1 {
			t.Errorf("write %d (run %d times) left %d rows; want exactly one", i, runs[i], rows)
			continue
		}
		if answers[i] != (answer{id, run}) {
			t.Errorf("write %d answered %+v, but the committed run stored id %d in run %d", i, answers[i], id, run)
		}
		if run != runs[i] {
			t.Errorf("write %d: the committed row is from run %d of %d; want the last", i, run, runs[i])
		}
	}
}

// The same through the store: a generation enqueued in a batch that a failing write
// made run again is stored once, with one event, and its caller's answer is what was
// committed.
func TestGroupCommitRetriedStoreWrites(t *testing.T) {
	d := openTest(t, db.Options{})
	ctx := context.Background()
	alice, err := d.CreateUser(ctx, "alice", "alice@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, d)
	var wg sync.WaitGroup
	var first, second *db.Generation
	var errFirst, errDup, errSecond error
	wg.Go(func() {
		first, errFirst = d.CreateGeneration(ctx, alice.ID, db.Params{Prompt: "first", Mode: db.ModeTextToImage}, db.CreateOptions{})
	})
	waitQueued(d, 1)
	wg.Go(func() { _, errDup = d.CreateUser(ctx, "ALICE", "other@example.com", "h", false) })
	waitQueued(d, 2)
	wg.Go(func() {
		second, errSecond = d.CreateGeneration(ctx, alice.ID, db.Params{Prompt: "second", Mode: db.ModeTextToImage}, db.CreateOptions{})
	})
	waitQueued(d, 3)
	release()
	wg.Wait()
	if errFirst != nil || errSecond != nil {
		t.Fatalf("the enqueues: %v, %v", errFirst, errSecond)
	}
	if db.CodeOf(errDup) != db.CodeUsernameTaken {
		t.Fatalf("the duplicate account: %v; want %s", errDup, db.CodeUsernameTaken)
	}
	if first.QueuePosition != 1 || second.QueuePosition != 2 {
		t.Fatalf("positions answered %d and %d; want 1 and 2", first.QueuePosition, second.QueuePosition)
	}
	list, _, err := d.ListGenerations(ctx, alice.ID, db.ListFilter{})
	// (Made in the same millisecond, they may list in either order.)
	if err != nil || len(list) != 2 || list[0].ID == list[1].ID ||
		(list[0].ID != first.ID && list[0].ID != second.ID) || (list[1].ID != first.ID && list[1].ID != second.ID) {
		t.Fatalf("stored generations: %+v %v; want the two, once each", list, err)
	}
	for _, g := range []*db.Generation{first, second} {
		got, err := d.GetGeneration(ctx, alice.ID, g.ID)
		if err != nil || got.QueuePosition != g.QueuePosition {
			t.Fatalf("%s: read position %d (%v), answered %d", g.Prompt, got.QueuePosition, err, g.QueuePosition)
		}
	}
	evs, err := d.EventsSince(ctx, alice.ID, 0, 100)
	if err != nil || len(evs) != 2 || evs[0].GenerationID != first.ID || evs[1].GenerationID != second.ID {
		t.Fatalf("events: %+v %v; want one pending event each", evs, err)
	}
	if counts, _ := d.QueueCounts(ctx); counts[alice.ID] != [2]int{2, 0} {
		t.Fatalf("queue counts %v", counts)
	}
	if users, _ := d.ListUsers(ctx); len(users) != 1 {
		t.Fatalf("%d accounts; want alice alone", len(users))
	}
}
