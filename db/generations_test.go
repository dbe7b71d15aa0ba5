package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nanobanana/internal/pgtest"
)

// openTestDB opens a fresh database: SQLite in a temporary directory, or, with
// NANOBANANA_TEST_DB=postgres, a new database on a real PostgreSQL server (pgtest).
func openTestDB(t testing.TB) *DB { t.Helper(); return openTestDBWith(t, Options{}) }

func openTestDBWith(t testing.TB, o Options) *DB {
	t.Helper()
	var d *DB
	var err error
	if testPostgres() {
		d, err = OpenPostgres(context.Background(), pgtest.DSN(t), o)
	} else {
		d, err = Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), o)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func testPostgres() bool { return os.Getenv("NANOBANANA_TEST_DB") == "postgres" }

// sqliteOnly skips a test of something only the SQLite backend has.
func sqliteOnly(t testing.TB) {
	t.Helper()
	if testPostgres() {
		t.Skip("SQLite only; this run tests the PostgreSQL backend")
	}
}

// addUser inserts a bare account row; the accounts API is not under test here.
func addUser(t testing.TB, d *DB, name string) int64 {
	t.Helper()
	var id int64
	err := d.W.QueryRow(d.sqlFor(`INSERT INTO users (username, email, password_hash, created_at, updated_at)
		VALUES (?, ?, 'x', 0, 0) RETURNING id`), name, name+"@example.com").Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func params(prompt string) Params {
	return Params{Prompt: prompt, Resolution: "1K", AspectRatio: "1:1", OutputFormat: "png",
		SafetyFilterLevel: "block_only_high", Mode: ModeTextToImage}
}

func TestCreateGetAndOwnership(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")

	p := params("a red fox")
	p.Mode, p.ReferenceIDs = ModeImageToImage, []string{"u1", "u2"}
	g, err := d.CreateGeneration(ctx, alice, p)
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != StatusPending || g.QueuePosition != 1 || len(g.ID) != 32 {
		t.Fatalf("created %+v", g)
	}
	got, err := d.GetGeneration(ctx, alice, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Prompt != "a red fox" || got.Mode != ModeImageToImage || len(got.ReferenceIDs) != 2 ||
		got.ReferenceIDs[1] != "u2" || got.QueuePosition != 1 || !got.CreatedAt.Equal(g.CreatedAt) {
		t.Fatalf("read back %+v", got)
	}
	if _, err := d.GetGeneration(ctx, bob, g.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other user's generation: %v, want ErrNotFound", err)
	}
	if _, err := d.GetGeneration(ctx, alice, NewID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing generation: %v", err)
	}
	if _, err := d.CancelGeneration(ctx, bob, g.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancel other's: %v", err)
	}
	if _, err := d.DeleteGeneration(ctx, bob, g.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete other's: %v", err)
	}
}

func TestQueuePositionIsFair(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	var last *Generation
	for i := range 10 {
		g, err := d.CreateGeneration(ctx, a, params(fmt.Sprint("a", i)))
		if err != nil {
			t.Fatal(err)
		}
		if g.QueuePosition != i+1 {
			t.Fatalf("alice's job %d at position %d", i, g.QueuePosition)
		}
		last = g
	}
	gb, err := d.CreateGeneration(ctx, b, params("b"))
	if err != nil {
		t.Fatal(err)
	}
	// Round-robin: bob's first job goes right after alice's first.
	if gb.QueuePosition != 2 {
		t.Fatalf("bob's job at %d, want 2", gb.QueuePosition)
	}
	got, _ := d.GetGeneration(ctx, a, last.ID)
	if got.QueuePosition != 11 {
		t.Fatalf("alice's last job at %d, want 11", got.QueuePosition)
	}
}

// The position the enqueue returns (from its INSERT) is the one a read right after
// gives, with users of every kind in the queue: more queued jobs, fewer, none queued but
// some running, and a user enqueueing for the first time.
func TestEnqueuePositionMatchesRead(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	var users []int64
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		users = append(users, addUser(t, d, n))
	}
	check := func(u int64, what string) {
		t.Helper()
		g, err := d.CreateGeneration(ctx, u, params(what))
		if err != nil {
			t.Fatal(err)
		}
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
}

func TestClaimFairAndCapped(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	for i := range 50 {
		if _, err := d.CreateGeneration(ctx, a, params(fmt.Sprint("a", i))); err != nil {
			t.Fatal(err)
		}
	}
	gb, _ := d.CreateGeneration(ctx, b, params("b"))
	lease := time.Now().Add(time.Minute)
	jobs, err := d.ClaimJobs(ctx, "w1", lease, 3, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].UserID != a || jobs[1].UserID != b || jobs[1].GenerationID != gb.ID {
		t.Fatalf("first claim took %+v, want one of alice's then bob's", jobs)
	}
	if jobs[0].Attempts != 1 || jobs[0].LeaseOwner != "w1" {
		t.Fatalf("claimed job %+v", jobs[0])
	}
	g, _ := d.GetGeneration(ctx, b, gb.ID)
	if g.Status != StatusRunning || g.StartedAt.IsZero() {
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
	var running int
	if err := d.queryRow(context.Background(), `SELECT count(*) FROM generations WHERE state = 'running' AND user_id = ?`, a).Scan(&running); err != nil {
		t.Fatal(err)
	}
	if running != 3 {
		t.Fatalf("alice running %d, want 3", running)
	}
}

func TestLeaseLifecycle(t *testing.T) {
	now := time.Now()
	d := openTestDBWith(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	u := addUser(t, d, "alice")
	g, _ := d.CreateGeneration(ctx, u, params("x"))
	jobs, _ := d.ClaimJobs(ctx, "w1", now.Add(time.Minute), 3, 3)
	j := jobs[0]
	if err := d.MarkSubmitting(ctx, j.ID, "w1", now); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPrediction(ctx, j.ID, "w1", g.ID, "pred1"); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkSubmitting(ctx, j.ID, "other", now); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("foreign owner: %v", err)
	}
	// The holder dies: after the lease ends the job is reclaimed, with its prediction.
	now = now.Add(2 * time.Minute)
	if n, err := d.ReclaimExpiredLeases(ctx); err != nil || n != 1 {
		t.Fatalf("reclaim: %d %v", n, err)
	}
	if err := d.ExtendLease(ctx, j.ID, "w1", now.Add(time.Minute)); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("extend after reclaim: %v", err)
	}
	jobs, _ = d.ClaimJobs(ctx, "w2", now.Add(time.Minute), 3, 3)
	if len(jobs) != 1 || jobs[0].PredictionID != "pred1" || jobs[0].Phase != PhaseSubmitted || jobs[0].Attempts != 2 {
		t.Fatalf("reclaimed job %+v", jobs)
	}
	// A second job can never adopt the same prediction.
	g2, _ := d.CreateGeneration(ctx, u, params("y"))
	jobs2, _ := d.ClaimJobs(ctx, "w3", now.Add(time.Minute), 3, 3)
	if err := d.SetPrediction(ctx, jobs2[0].ID, "w3", g2.ID, "pred1"); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate prediction: %v", err)
	}
	res := Result{ImageKey: "u/1/x.png", ImageType: "image/png", ThumbKey: "u/1/x_thumb.jpg", Width: 10, Height: 20, Bytes: 99, SHA256: "ab"}
	if err := d.CompleteJob(ctx, jobs[0].ID, "w2", g.ID, res); err != nil {
		t.Fatal(err)
	}
	got, _ := d.GetGeneration(ctx, u, g.ID)
	if got.Status != StatusCompleted || got.Width != 10 || got.ImageKey != res.ImageKey || got.PredictionID != "pred1" {
		t.Fatalf("completed %+v", got)
	}
	if _, err := d.RetryGeneration(ctx, u, g.ID, 5); !errors.Is(err, ErrConflict) {
		t.Fatalf("retry completed: %v", err)
	}
}

func TestCancelRetryDelete(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	u := addUser(t, d, "alice")
	g1, _ := d.CreateGeneration(ctx, u, params("pending one"))
	out, err := d.CancelGeneration(ctx, u, g1.ID)
	if err != nil || out.WasRunning || out.Generation.Status != StatusCanceled {
		t.Fatalf("cancel pending: %+v %v", out, err)
	}
	if jobs, _ := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 3); len(jobs) != 0 {
		t.Fatalf("canceled job was claimed: %+v", jobs)
	}
	if _, err := d.CancelGeneration(ctx, u, g1.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("cancel twice: %v", err)
	}
	g, err := d.RetryGeneration(ctx, u, g1.ID, 5)
	if err != nil || g.Status != StatusPending || g.QueuePosition != 1 {
		t.Fatalf("retry: %+v %v", g, err)
	}
	jobs, _ := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 3)
	if len(jobs) != 1 || jobs[0].GenerationID != g1.ID || jobs[0].Attempts != 1 {
		t.Fatalf("retried job claim %+v", jobs)
	}
	out, err = d.CancelGeneration(ctx, u, g1.ID)
	if err != nil || !out.WasRunning {
		t.Fatalf("cancel running: %+v %v", out, err)
	}
	// The worker has not let go yet: no retry until it does.
	if _, err := d.RetryGeneration(ctx, u, g1.ID, 5); !errors.Is(err, ErrConflict) {
		t.Fatalf("retry while stopping: %v", err)
	}
	j, _ := d.GetJob(ctx, jobs[0].ID)
	if !j.CancelRequested {
		t.Fatal("cancel not flagged on the running job")
	}
	if err := d.FinishCanceled(ctx, j.ID, "w"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteGeneration(ctx, u, g1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetGeneration(ctx, u, g1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := d.JobForGeneration(ctx, g1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("job after delete: %v", err)
	}
	if counts, _ := d.QueueCounts(ctx); len(counts) != 0 {
		t.Fatalf("queue counts left: %v", counts)
	}
}

func TestListKeyset(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	want := map[string]bool{}
	for i := range 25 {
		g, err := d.CreateGeneration(ctx, u, params(fmt.Sprint("p", i)))
		if err != nil {
			t.Fatal(err)
		}
		want[g.ID] = true
	}
	d.CreateGeneration(ctx, other, params("not alice's"))
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	var prev *Generation
	for {
		page, next, err := d.ListGenerations(ctx, u, ListFilter{Limit: 10, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for i := range page {
			g := &page[i]
			if !want[g.ID] || seen[g.ID] {
				t.Fatalf("unexpected or repeated %s", g.ID)
			}
			seen[g.ID] = true
			if prev != nil && (g.CreatedAt.After(prev.CreatedAt) || (g.CreatedAt.Equal(prev.CreatedAt) && g.ID > prev.ID)) {
				t.Fatal("not newest first")
			}
			if g.QueuePosition < 1 {
				t.Fatalf("pending without a queue position: %+v", g)
			}
			prev = g
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 25 || pages != 3 {
		t.Fatalf("saw %d in %d pages", len(seen), pages)
	}
	if _, _, err := d.ListGenerations(ctx, u, ListFilter{Cursor: "garbage!"}); !errors.Is(err, ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, _, err := d.ListGenerations(ctx, u, ListFilter{Status: "done"}); CodeOf(err) != CodeInvalid {
		t.Fatalf("bad status: %v", err)
	}
	page, _, _ := d.ListGenerations(ctx, u, ListFilter{Status: StatusCompleted})
	if len(page) != 0 {
		t.Fatalf("completed filter returned %d", len(page))
	}
}

func TestEventsAndSubscribe(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	ch, cancel := d.Subscribe(u)
	defer cancel()
	otherCh, cancelOther := d.Subscribe(other)
	defer cancelOther()

	g, _ := d.CreateGeneration(ctx, u, params("hello"))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no signal after create")
	}
	select {
	case <-otherCh:
		t.Fatal("another user was signalled")
	default:
	}
	d.CancelGeneration(ctx, u, g.ID)
	evs, err := d.EventsSince(ctx, u, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != StatusPending || evs[1].Type != StatusCanceled || evs[1].ID <= evs[0].ID {
		t.Fatalf("events %+v", evs)
	}
	var data EventData
	if err := json.Unmarshal(evs[1].Data, &data); err != nil || data.ID != g.ID || data.Status != StatusCanceled || data.Prompt != "hello" {
		t.Fatalf("event data %s: %v", evs[1].Data, err)
	}
	if more, _ := d.EventsSince(ctx, u, evs[1].ID, 10); len(more) != 0 {
		t.Fatalf("events after the last: %+v", more)
	}
	if evs, _ := d.EventsSince(ctx, other, 0, 10); len(evs) != 0 {
		t.Fatalf("bob sees alice's events: %+v", evs)
	}
	// Everything is older than the cutoff, but the newest event stays so ids never go
	// back: a stream that saw evs[1] must see the next event.
	if n, err := d.PruneEvents(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if _, err := d.CreateGeneration(ctx, u, params("after prune")); err != nil {
		t.Fatal(err)
	}
	if more, err := d.EventsSince(ctx, u, evs[1].ID, 10); err != nil || len(more) != 1 || more[0].Type != StatusPending {
		t.Fatalf("events after a prune: %+v %v", more, err)
	}
}

func TestUploads(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	up := Upload{ID: NewID(), UserID: u, Key: "uploads/1/a.png", ContentType: "image/png", Width: 3, Height: 4, Bytes: 10, SHA256: "00"}
	up2 := up
	up2.ID = NewID()
	for _, x := range []Upload{up, up2} {
		if err := d.CreateUpload(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.GetUploads(ctx, u, []string{up2.ID, up.ID})
	if err != nil || len(got) != 2 || got[0].ID != up2.ID || got[1].Width != 3 {
		t.Fatalf("get uploads %+v %v", got, err)
	}
	if _, err := d.GetUploads(ctx, other, []string{up.ID}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other's upload: %v", err)
	}
	if _, err := d.GetUploads(ctx, u, []string{up.ID, NewID()}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("one missing: %v", err)
	}
}

// A fresh claim records 'submitting' in its own commit, so the worker can create at once;
// a job left 'submitting' by a dead holder keeps the old submit time reconciliation needs.
func TestClaimRecordsSubmitting(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	d := openTestDBWith(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	u := addUser(t, d, "alice")
	if _, err := d.CreateGeneration(ctx, u, params("x")); err != nil {
		t.Fatal(err)
	}
	jobs, err := d.ClaimJobs(ctx, "w1", now.Add(time.Minute), 3, 3)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	j := jobs[0]
	if !j.SubmitClaimed || j.Phase != PhaseNone || !j.SubmitStartedAt.Equal(now) {
		t.Fatalf("fresh claim %+v", j)
	}
	stored, _ := d.GetJob(ctx, j.ID)
	if stored.Phase != PhaseSubmitting || !stored.SubmitStartedAt.Equal(now) {
		t.Fatalf("stored after claim: phase %q at %v", stored.Phase, stored.SubmitStartedAt)
	}
	first := now
	now = now.Add(2 * time.Minute)
	if n, err := d.ReclaimExpiredLeases(ctx); err != nil || n != 1 {
		t.Fatalf("reclaim: %d %v", n, err)
	}
	jobs, _ = d.ClaimJobs(ctx, "w2", now.Add(time.Minute), 3, 3)
	if len(jobs) != 1 || jobs[0].SubmitClaimed || jobs[0].Phase != PhaseSubmitting || !jobs[0].SubmitStartedAt.Equal(first) {
		t.Fatalf("reclaimed job %+v, want the old submitting phase and time", jobs)
	}

	// Within one millisecond: a job a claim marked 'submitting' and handed back (a
	// shutdown) is, claimed again at that same time, still one to reconcile, not a fresh
	// one: its submit time alone could not tell.
	b := addUser(t, d, "bob")
	if _, err := d.CreateGeneration(ctx, b, params("y")); err != nil {
		t.Fatal(err)
	}
	jobs, _ = d.ClaimJobs(ctx, "w3", now.Add(time.Minute), 3, 3)
	if len(jobs) != 1 || !jobs[0].SubmitClaimed {
		t.Fatalf("bob's fresh claim %+v", jobs)
	}
	if err := d.ReleaseJob(ctx, jobs[0].ID, "w3"); err != nil {
		t.Fatal(err)
	}
	jobs, _ = d.ClaimJobs(ctx, "w4", now.Add(time.Minute), 3, 3)
	if len(jobs) != 1 || jobs[0].SubmitClaimed || jobs[0].Phase != PhaseSubmitting || !jobs[0].SubmitStartedAt.Equal(now) {
		t.Fatalf("bob's job claimed again in the same millisecond %+v, want it left to reconcile", jobs)
	}
}

// TestEventIDsSurviveMigration0003 holds the events rebuild to the SSE rule that ids
// never go back: a database whose events were all pruned under AUTOINCREMENT must hand
// out ids above the last one any client could have seen.
func TestEventIDsSurviveMigration0003(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"0001_accounts", "0002_generations"} {
		body, err := migrationFS.ReadFile("migrations/" + v + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(body)); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, v); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if _, err := raw.Exec(`INSERT INTO events (user_id, generation_id, type, data, created_at) VALUES (1, 'g', 'pending', '{}', 0)`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec(`DELETE FROM events`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := addUser(t, d, "alice")
	if _, err := d.CreateGeneration(ctx, u, params("after the rebuild")); err != nil {
		t.Fatal(err)
	}
	evs, err := d.EventsSince(ctx, u, 0, 10)
	if err != nil || len(evs) != 1 || evs[0].ID <= 5 {
		t.Fatalf("first event after the migration: %+v %v (want an id above 5)", evs, err)
	}
}
