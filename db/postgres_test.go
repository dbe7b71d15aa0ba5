package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"nanobanana/internal/pgtest"
)

// These tests always use a real PostgreSQL server (pgtest): they are about what only
// that backend does, several processes sharing one database. Each *DB stands for one
// process. The rest of the package's tests run on PostgreSQL too with
// NANOBANANA_TEST_DB=postgres (make test does both).

func openPG(t testing.TB, dsn string) *DB {
	t.Helper()
	d, err := OpenPostgres(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestPostgresMigratesOnceWhenProcessesStartTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			d, err := OpenPostgres(context.Background(), dsn, Options{})
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
	d := openPG(t, dsn)
	files, err := fs.Glob(migrationPGFS, "migrations_pg/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var n, distinct int
	if err := d.queryRow(context.Background(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil ||
		n != len(files) || distinct != n {
		t.Fatalf("schema_migrations has %d rows, %d distinct (%v); want each of the %d migrations once", n, distinct, err, len(files))
	}
	if again, err := d.Migrate(context.Background()); err != nil || len(again) != 0 {
		t.Fatalf("migrate again applied %v, %v; want nothing", again, err)
	}
}

func TestPostgresBadConnectionSaysWhere(t *testing.T) {
	_, err := OpenPostgres(context.Background(), "host=127.0.0.1 port=1 user=nobody dbname=x sslmode=disable connect_timeout=2", Options{})
	if err == nil {
		t.Fatal("connected to port 1")
	}
	for _, want := range []string{"127.0.0.1:1", "nobody"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if !PostgresUnreachable(err) {
		t.Errorf("no server on the port is not 'unreachable': %v", err)
	}
	// A server that answers no is not worth waiting for.
	u, _ := url.Parse(pgtest.DSN(t))
	u.User = url.UserPassword(u.User.Username(), "wrong-password")
	_, err = OpenPostgres(context.Background(), u.String(), Options{})
	if err == nil || PostgresUnreachable(err) {
		t.Errorf("a wrong password: %v, unreachable %v; want an error that waiting does not fix", err, PostgresUnreachable(err))
	}
}

// Three processes claim from one queue at once: every job runs exactly once, and no
// user ever has more than the cap running.
func TestPostgresProcessesShareOneQueue(t *testing.T) {
	dsn := pgtest.DSN(t)
	procs := []*DB{openPG(t, dsn), openPG(t, dsn), openPG(t, dsn)}
	ctx := context.Background()
	const perUser, users, maxPerUser = 30, 4, 2
	var uids []int64
	for i := range users {
		uids = append(uids, addUser(t, procs[0], fmt.Sprint("user", i)))
	}
	for i := range perUser * users {
		if _, err := procs[i%len(procs)].CreateGeneration(ctx, uids[i%users], params(fmt.Sprint("job ", i))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	done := map[int64]string{} // job id -> owner that completed it
	var failures []string
	var wg sync.WaitGroup
	for p, d := range procs {
		owner := fmt.Sprint("proc", p)
		wg.Go(func() {
			idle := 0
			for idle < 20 {
				jobs, err := d.ClaimJobs(ctx, owner, time.Now().Add(time.Minute), maxPerUser, 3)
				if err != nil {
					mu.Lock()
					failures = append(failures, owner+": claim: "+err.Error())
					mu.Unlock()
					return
				}
				if len(jobs) == 0 {
					idle++
					time.Sleep(5 * time.Millisecond)
					continue
				}
				idle = 0
				counts, err := d.QueueCounts(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				for _, j := range jobs {
					mu.Lock()
					if c := counts[j.UserID]; c[1] > maxPerUser {
						failures = append(failures, fmt.Sprintf("user %d had %d running (cap %d)", j.UserID, c[1], maxPerUser))
					}
					if prev, ok := done[j.ID]; ok {
						failures = append(failures, fmt.Sprintf("job %d claimed by %s after %s completed it", j.ID, owner, prev))
					}
					done[j.ID] = owner
					mu.Unlock()
					err := d.CompleteJob(ctx, j.ID, owner, j.GenerationID, Result{ImageKey: "k", ImageType: "image/png",
						ThumbKey: "t", Width: 1, Height: 1, Bytes: 1, SHA256: "x"})
					if err != nil {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("%s completing job %d: %v", owner, j.ID, err))
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if len(done) != perUser*users {
		t.Fatalf("%d jobs ran; want %d", len(done), perUser*users)
	}
	byOwner := map[string]int{}
	for _, o := range done {
		byOwner[o]++
	}
	t.Logf("jobs per process: %v", byOwner)
	var left int
	if err := procs[0].queryRow(ctx, `SELECT count(*) FROM generations WHERE status <> 'completed'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d generations not completed (%v)", left, err)
	}
	if counts, _ := procs[0].QueueCounts(ctx); len(counts) != 0 {
		t.Fatalf("queue counts left behind: %v", counts)
	}
}

// An SSE stream in one process hears of another process's events, and a reader that
// follows the event ids misses none, however the writers' commits interleave.
func TestPostgresEventsCrossProcessesInOrder(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	ctx := context.Background()
	u := addUser(t, a, "alice")
	signal, stop := a.Subscribe(u)
	defer stop()
	if _, err := b.CreateGeneration(ctx, u, params("from b")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-signal:
	case <-time.After(10 * time.Second):
		t.Fatal("process a never heard of process b's event")
	}
	select {
	case <-a.QueueSignal():
	case <-time.After(10 * time.Second):
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
					if _, err := d.CreateGeneration(ctx, u, params(fmt.Sprint("w", w, " ", i))); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				// A slow writer: its event's id is taken long before its commit, which
				// is when an id handed out of commit order would be stepped over.
				g := &Generation{ID: NewID(), UserID: u, Status: StatusPending, Params: params("slow")}
				err := d.eventTx(ctx, func(tx *wtx) error {
					if err := insertEvent(ctx, tx, g, StatusPending, time.Now()); err != nil {
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

// A deadlock or serialization failure between two processes' writes is retried, and
// a lease taken by one process is not the other's to extend.
func TestPostgresLeasesBelongToOneProcess(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	ctx := context.Background()
	u := addUser(t, a, "alice")
	if _, err := a.CreateGeneration(ctx, u, params("x")); err != nil {
		t.Fatal(err)
	}
	jobs, err := a.ClaimJobs(ctx, "a", time.Now().Add(time.Minute), 3, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if more, err := b.ClaimJobs(ctx, "b", time.Now().Add(time.Minute), 3, 1); err != nil || len(more) != 0 {
		t.Fatalf("process b claimed %v (%v) while a holds the only job", more, err)
	}
	if err := b.ExtendLease(ctx, jobs[0].ID, "b", time.Now().Add(time.Hour)); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("b extended a's lease: %v", err)
	}
	if err := a.SetPrediction(ctx, jobs[0].ID, "a", jobs[0].GenerationID, "pred-1"); err != nil {
		t.Fatal(err)
	}
	// The same prediction cannot belong to a second job, whichever process asks.
	if _, err := b.CreateGeneration(ctx, u, params("y")); err != nil {
		t.Fatal(err)
	}
	j2, err := b.ClaimJobs(ctx, "b", time.Now().Add(time.Minute), 3, 1)
	if err != nil || len(j2) != 1 {
		t.Fatalf("claim 2: %v %v", j2, err)
	}
	if err := b.SetPrediction(ctx, j2[0].ID, "b", j2[0].GenerationID, "pred-1"); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second job took prediction pred-1: %v", err)
	}
}
