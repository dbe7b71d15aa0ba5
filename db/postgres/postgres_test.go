package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
	"nanobanana/internal/pgtest"
)

// These tests are about what only PostgreSQL does: several processes sharing one
// database. Each *DB stands for one process.

func addUser(t testing.TB, d *DB, name string) int64 {
	t.Helper()
	var id int64
	if err := d.Raw(context.Background(), `INSERT INTO users (username, email, password_hash, created_at, updated_at)
		VALUES (?, ?, 'x', 0, 0) RETURNING id`, []any{name, name + "@example.com"}, &id); err != nil {
		t.Fatal(err)
	}
	return id
}

func params(prompt string) db.Params {
	return db.Params{Prompt: prompt, Resolution: "1K", AspectRatio: "1:1", OutputFormat: "png",
		SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage}
}

func TestMigratesOnceWhenProcessesStartTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			d, err := Open(context.Background(), dsn, db.Options{})
			if err == nil {
				d.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("a process failed to start: %v", err)
		}
	}
	d := openPG(t, dsn, db.Options{})
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var n, distinct int
	if err := d.SQL().QueryRow(`SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil ||
		n != len(files) || distinct != n {
		t.Fatalf("schema_migrations has %d rows, %d distinct (%v); want each of the %d migrations once", n, distinct, err, len(files))
	}
	if again, err := d.Migrate(context.Background()); err != nil || len(again) != 0 {
		t.Fatalf("migrate again applied %v, %v; want nothing", again, err)
	}
}

func TestBadConnectionSaysWhere(t *testing.T) {
	_, err := Open(context.Background(), "host=127.0.0.1 port=1 user=nobody dbname=x sslmode=disable connect_timeout=2", db.Options{})
	if err == nil {
		t.Fatal("connected to port 1")
	}
	for _, want := range []string{"127.0.0.1:1", "nobody"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if !Unreachable(err) {
		t.Errorf("no server on the port is not 'unreachable': %v", err)
	}
	// A server that answers no is not worth waiting for.
	u, _ := url.Parse(pgtest.DSN(t))
	u.User = url.UserPassword(u.User.Username(), "wrong-password")
	_, err = Open(context.Background(), u.String(), db.Options{})
	if err == nil || Unreachable(err) {
		t.Errorf("a wrong password: %v, unreachable %v; want an error that waiting does not fix", err, Unreachable(err))
	}
	// A setting that cannot be parsed is not either.
	if _, err := Open(context.Background(), "postgres://[::1", db.Options{}); err == nil || Unreachable(err) {
		t.Errorf("a malformed DSN: %v, unreachable %v", err, Unreachable(err))
	}
}

// Three processes claim from one queue at once: every job runs exactly once, and no
// user ever has more than the cap running.
func TestProcessesShareOneQueue(t *testing.T) {
	dsn := pgtest.DSN(t)
	procs := []*DB{openPG(t, dsn, db.Options{}), openPG(t, dsn, db.Options{}), openPG(t, dsn, db.Options{})}
	ctx := context.Background()
	const perUser, users, maxPerUser = 30, 4, 2
	const total = perUser * users
	var uids []int64
	for i := range users {
		uids = append(uids, addUser(t, procs[0], fmt.Sprint("user", i)))
	}
	for i := range total {
		if _, err := procs[i%len(procs)].CreateGeneration(ctx, uids[i%users], params(fmt.Sprint("job ", i)), db.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	done := map[int64]string{} // job id -> owner that completed it
	var completed atomic.Int64
	var failures []string
	fail := func(f string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(f, args...))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for p, d := range procs {
		owner := fmt.Sprint("proc", p)
		wg.Go(func() {
			// Until every job is done: a process finding nothing claimable waits for the
			// others to complete theirs.
			for completed.Load() < total {
				jobs, err := d.ClaimJobs(ctx, owner, time.Now().Add(time.Minute), maxPerUser, 3)
				if err != nil {
					fail("%s: claim: %v", owner, err)
					return
				}
				if len(jobs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				counts, err := d.QueueCounts(ctx)
				if err != nil {
					fail("%s: counts: %v", owner, err)
					return
				}
				for _, j := range jobs {
					if c := counts[j.UserID]; c[1] > maxPerUser {
						fail("user %d had %d running (cap %d)", j.UserID, c[1], maxPerUser)
					}
					mu.Lock()
					if prev, ok := done[j.ID]; ok {
						failures = append(failures, fmt.Sprintf("job %d claimed by %s after %s completed it", j.ID, owner, prev))
					}
					done[j.ID] = owner
					mu.Unlock()
					if err := d.CompleteJob(ctx, j.ID, owner, j.GenerationID, db.Result{ImageKey: "k", ImageType: "image/png",
						ThumbKey: "t", Width: 1, Height: 1, Bytes: 1, SHA256: "x"}); err != nil {
						fail("%s completing job %d: %v", owner, j.ID, err)
						return
					}
					completed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if len(done) != total {
		t.Fatalf("%d jobs ran; want %d", len(done), total)
	}
	byOwner := map[string]int{}
	for _, o := range done {
		byOwner[o]++
	}
	t.Logf("jobs per process: %v", byOwner)
	var left int
	if err := procs[0].Raw(ctx, `SELECT count(*) FROM generations WHERE status <> 'completed'`, nil, &left); err != nil || left != 0 {
		t.Fatalf("%d generations not completed (%v)", left, err)
	}
	if counts, _ := procs[0].QueueCounts(ctx); len(counts) != 0 {
		t.Fatalf("queue counts left behind: %v", counts)
	}
}

// An SSE stream in one process hears of another process's events, and a reader that
// follows the event ids misses none, however the writers' commits interleave.
func TestEventsCrossProcessesInOrder(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn, db.Options{}), openPG(t, dsn, db.Options{})
	ctx := context.Background()
	u := addUser(t, a, "alice")
	signal, stop := a.Subscribe(u)
	defer stop()
	if _, err := b.CreateGeneration(ctx, u, params("from b"), db.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-signal:
	case <-time.After(time.Minute): // a notification lost, not a slow machine
		t.Fatal("process a never heard of process b's event")
	}
	select {
	case <-a.QueueSignal():
	case <-time.After(time.Minute):
		t.Fatal("process a's workers never heard of the job process b queued")
	}

	// Writers in both processes; a reader that only ever asks for ids above the last
	// one it saw. With ids given out of commit order it would step over some.
	const writers, each = 6, 25
	readDone := make(chan map[int64]bool)
	stopRead := make(chan struct{})
	go func() {
		seen := map[int64]bool{}
		var last int64
		stopping := false // set before a read: all writes had committed when it began
		for {
			select {
			case <-stopRead:
				stopping = true
			default:
			}
			evs, err := a.EventsSince(ctx, u, last, 1000)
			if err != nil {
				t.Error(err)
			}
			for _, e := range evs {
				seen[e.ID] = true
				last = e.ID
			}
			if stopping && len(evs) == 0 {
				readDone <- seen
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		d := []*DB{a, b}[w%2]
		wg.Go(func() {
			for i := range each {
				if i%2 == 0 {
					if _, err := d.CreateGeneration(ctx, u, params(fmt.Sprint("w", w, " ", i)), db.CreateOptions{}); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				// A slow writer: its event's id is taken long before its commit, which
				// is when an id handed out of commit order would be stepped over.
				err := d.e.Write(ctx, true, func(q sqlstore.Querier) error {
					if _, err := q.Exec(`INSERT INTO events (user_id, generation_id, type, data, created_at)
						VALUES (?, ?, 'pending', '{}', ?)`, u, db.NewID(), time.Now().UnixMilli()); err != nil {
						return err
					}
					time.Sleep(time.Duration(1+(w*7+i)%5) * time.Millisecond)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stopRead)
	seen := <-readDone
	all, err := a.EventsSince(ctx, u, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*each+1 {
		t.Fatalf("%d events stored; want %d", len(all), writers*each+1)
	}
	for _, e := range all {
		if !seen[e.ID] && e.ID > all[0].ID {
			t.Errorf("event %d was never seen by the reader following ids", e.ID)
		}
	}
}

// A lease taken by one process is not the other's to extend, and a prediction belongs
// to one job whichever process asks.
func TestLeasesBelongToOneProcess(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn, db.Options{}), openPG(t, dsn, db.Options{})
	ctx := context.Background()
	u := addUser(t, a, "alice")
	if _, err := a.CreateGeneration(ctx, u, params("x"), db.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	jobs, err := a.ClaimJobs(ctx, "a", time.Now().Add(time.Minute), 3, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if more, err := b.ClaimJobs(ctx, "b", time.Now().Add(time.Minute), 3, 1); err != nil || len(more) != 0 {
		t.Fatalf("process b claimed %v (%v) while a holds the only job", more, err)
	}
	if err := b.ExtendLease(ctx, jobs[0].ID, "b", time.Now().Add(time.Hour)); !errors.Is(err, db.ErrLeaseLost) {
		t.Fatalf("b extended a's lease: %v", err)
	}
	if err := a.SetPrediction(ctx, jobs[0].ID, "a", jobs[0].GenerationID, "pred-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateGeneration(ctx, u, params("y"), db.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j2, err := b.ClaimJobs(ctx, "b", time.Now().Add(time.Minute), 3, 1)
	if err != nil || len(j2) != 1 {
		t.Fatalf("claim 2: %v %v", j2, err)
	}
	err = b.SetPrediction(ctx, j2[0].ID, "b", j2[0].GenerationID, "pred-1")
	if !errors.Is(err, db.ErrConflict) || db.CodeOf(err) != db.CodePredictionOwned {
		t.Fatalf("a second job took prediction pred-1: %v", err)
	}
	if !a.Shared() || a.QueueSignal() == nil {
		t.Fatal("a PostgreSQL store must say it is shared, and signal queued jobs")
	}
}

// A read whose context ends while its statement runs on the server stops with the
// context's error, and the pool serves the next read.
func TestReadInterruptedByItsContext(t *testing.T) {
	// Two connections: the read holds one, the test watches the server on the other.
	d := openPG(t, pgtest.DSN(t), db.Options{Readers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- d.e.Read(ctx, func(q sqlstore.Querier) error {
			var x any
			return q.QueryRow(`SELECT pg_sleep(3600)`).Scan(&x)
		})
	}()
	// Wait until the server runs it (so the cancellation reaches a running statement).
	for {
		var n int
		if err := d.SQL().QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3600)' AND state = 'active'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the read ended before it ran: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
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
	if err := d.Ping(context.Background()); err != nil {
		t.Fatalf("the next read: %v", err)
	}
}
