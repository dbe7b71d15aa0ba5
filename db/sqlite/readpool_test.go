package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

// holdReaders takes n read connections and keeps them until release is called.
func holdReaders(t testing.TB, d *DB, n int) (release func()) {
	t.Helper()
	rel := make(chan struct{})
	held := make(chan error, n)
	done := make(chan error, n)
	for range n {
		go func() {
			done <- d.e.Read(context.Background(), func(q sqlstore.Querier) error {
				held <- nil
				<-rel
				return nil
			})
		}()
	}
	for range n {
		select {
		case <-held:
		case err := <-done:
			t.Fatalf("taking a reader: %v", err)
		}
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(rel)
			for range n {
				if err := <-done; err != nil {
					t.Error(err)
				}
			}
		})
	}
	t.Cleanup(release)
	return release
}

// More readers than connections all get their answers: a read waits for a connection
// another gives back, and no more connections than the pool's are ever used.
func TestReadPoolShared(t *testing.T) {
	d := openTest(t, db.Options{Readers: 2})
	ctx := context.Background()
	u, err := d.CreateUser(ctx, "alice", "alice@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := d.CreateGeneration(ctx, u.ID, db.Params{Prompt: fmt.Sprint(i), Mode: db.ModeTextToImage}, db.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Go(func() {
			page, _, err := d.ListGenerations(ctx, u.ID, db.ListFilter{Limit: 100})
			positions := map[int]bool{}
			for _, g := range page {
				positions[g.QueuePosition] = true
			}
			if err != nil || len(page) != 10 || len(positions) != 10 || !positions[1] || !positions[10] {
				errs <- fmt.Errorf("list: %d items at positions %v, %v", len(page), positions, err)
			}
			if got, err := d.UserByID(ctx, u.ID); err != nil || got.Username != "alice" {
				errs <- fmt.Errorf("user: %+v %v", got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, readers := d.Prepared(); len(readers) > 2 {
		t.Errorf("%d read connections used, more than the pool's 2", len(readers))
	}
}

// A read that waits for a connection stops waiting when its context ends; once a
// connection is given back, reads run again.
func TestReadWaitingForAConnectionStopsWithItsContext(t *testing.T) {
	d := openTest(t, db.Options{Readers: 2})
	release := holdReaders(t, d, 2)
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { waited <- d.Ping(ctx) }()
	cancel()
	select {
	case err := <-waited:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a read waiting with every connection held, its context canceled: %v", err)
		}
	case <-time.After(time.Minute): // a hang, not a slow machine
		t.Fatal("a read still waits for a connection after its context ended")
	}
	release()
	if err := d.Ping(context.Background()); err != nil {
		t.Fatalf("after the connections were given back: %v", err)
	}
}

// A read whose context ends while its statement runs is interrupted, and answers the
// context's error; the connection serves the next read.
func TestReadInterruptedByItsContext(t *testing.T) {
	d := openTest(t, db.Options{Readers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	running := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.e.Read(ctx, func(q sqlstore.Querier) error {
			// Counting to 10^12 takes hours: only an interrupt ends it.
			rows, err := q.Query(`WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000000000)
				SELECT count(*) FROM c`)
			if err != nil {
				return err
			}
			defer rows.Close()
			close(running)
			if rows.Next() {
				return errors.New("the count finished")
			}
			return rows.Err()
		})
	}()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("the read ended before it ran: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted read: %v; want context.Canceled", err)
		}
	case <-time.After(time.Minute): // a hang, not a slow machine
		t.Fatal("a read whose context ended still runs")
	}
	// The one connection is back and clean.
	if err := d.Ping(context.Background()); err != nil {
		t.Fatalf("the next read: %v", err)
	}
	if _, _, err := d.ListGenerations(context.Background(), 1, db.ListFilter{}); err != nil {
		t.Fatalf("the next list: %v", err)
	}
}

// After Close, reads fail with ErrClosed instead of waiting, and a read that was
// waiting for a connection stops waiting; a read that held one finishes first.
func TestReadPoolClosed(t *testing.T) {
	d, err := Open(context.Background(), t.TempDir()+"/t.db", db.Options{Readers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	release := holdReaders(t, d, 1)
	waited := make(chan error, 1)
	go func() { waited <- d.Ping(ctx) }()
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	select {
	case err := <-waited:
		if !errors.Is(err, db.ErrClosed) {
			t.Errorf("the waiting read after Close: %v; want ErrClosed", err)
		}
	case <-time.After(time.Minute): // a hang, not a slow machine
		t.Fatal("a read waiting for a connection still waits after Close")
	}
	release() // the holder gives its connection back to a closed pool
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close has not returned after the last read ended")
	}
	if err := d.Ping(ctx); !errors.Is(err, db.ErrClosed) {
		t.Errorf("a read after Close: %v; want ErrClosed", err)
	}
}

// A read still running when Close begins finishes its statements (or is interrupted),
// without crashing the process, and Close waits for it.
func TestReadRunningDuringClose(t *testing.T) {
	// Reads that prepare statement after statement while Close runs. Close used to drop
	// the readers' statement caches before it interrupted them: a read that prepared a
	// statement in between panicked (assignment to a nil map), within a few rounds.
	for range 50 {
		d, err := Open(context.Background(), t.TempDir()+"/t.db", db.Options{Readers: 1})
		if err != nil {
			t.Fatal(err)
		}
		started := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- d.e.Read(context.Background(), func(q sqlstore.Querier) error {
				close(started)
				for i := 0; ; i++ {
					var n int
					if err := q.QueryRow(fmt.Sprintf(`SELECT count(*) FROM users WHERE id > %d`, i)).Scan(&n); err != nil {
						return err
					}
				}
			})
		}()
		<-started
		if err := d.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if err := <-done; sqlite.ErrCode(err) != sqlite.ResultInterrupt {
			t.Fatalf("a read running through Close ended with %v; want an interrupt", err)
		}
	}

	d, err := Open(context.Background(), t.TempDir()+"/t.db", db.Options{Readers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inRead, goOn := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.e.Read(ctx, func(q sqlstore.Querier) error {
			close(inRead)
			<-goOn
			// Statements this connection has not prepared yet.
			var n int
			if err := q.QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil {
				return err
			}
			return q.QueryRow(`SELECT count(*) FROM generations`).Scan(&n)
		})
	}()
	<-inRead
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	// Once reads are refused the pool is closing, and Close has done what it does before
	// it waits for the connections still held.
	for d.Ping(ctx) == nil {
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a read still held its connection", err)
	default:
	}
	close(goOn)
	if err := <-done; err != nil && sqlite.ErrCode(err) != sqlite.ResultInterrupt {
		t.Errorf("the read during Close: %v; want its answer or an interrupt", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("close: %v", err)
	}
}
