package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"nanobanana/db"
)

// listStatements is how many statement texts list requests run: the ten list texts
// (five kinds of status filter, each with and without a cursor; db/sqlstore), and the
// queue position of pending items.
const listStatements = 11

// listVariant is one kind of list request: its limit, status filter and cursor.
type listVariant struct {
	limit  int
	status string
	cursor string
}

// listVariants fills d with a user's generations of every status and returns the user
// and every variant of the list request: limits 1 to 100, each status filter and none,
// with and without a cursor.
func listVariants(t *testing.T, d *DB) (int64, []listVariant) {
	t.Helper()
	ctx := context.Background()
	u, err := d.CreateUser(ctx, "alice", "alice@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if _, err := d.CreateGeneration(ctx, u.ID, db.Params{Prompt: fmt.Sprint(i), Mode: db.ModeTextToImage}, db.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// One running, one completed, one failed, one canceled; the rest pending.
	jobs, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	more, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 1)
	if err != nil || len(more) != 1 {
		t.Fatalf("claim: %v %v", more, err)
	}
	if err := d.CompleteJob(ctx, jobs[0].ID, "w", jobs[0].GenerationID, db.Result{ImageKey: "k", Width: 1, Height: 1, Bytes: 1}); err != nil {
		t.Fatal(err)
	}
	if err := d.FailJob(ctx, more[0].ID, "w", more[0].GenerationID, "no", "no"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 1); err != nil {
		t.Fatal(err)
	}
	page, cursor, err := d.ListGenerations(ctx, u.ID, db.ListFilter{Limit: 3, Status: db.StatusPending})
	if err != nil || cursor == "" {
		t.Fatalf("a cursor: %v %q %v", page, cursor, err)
	}
	if _, err := d.CancelGeneration(ctx, u.ID, page[0].ID); err != nil {
		t.Fatal(err)
	}
	var out []listVariant
	for limit := 1; limit <= 100; limit++ {
		for _, status := range []string{"", db.StatusPending, db.StatusRunning, db.StatusCompleted, db.StatusFailed, db.StatusCanceled} {
			for _, c := range []string{"", cursor} {
				out = append(out, listVariant{limit, status, c})
			}
		}
	}
	return u.ID, out
}

func list(t *testing.T, d *DB, user int64, v listVariant) {
	t.Helper()
	page, _, err := d.ListGenerations(context.Background(), user, db.ListFilter{Limit: v.limit, Status: v.status, Cursor: v.cursor})
	if err != nil || len(page) > v.limit {
		t.Fatalf("list %+v: %d items, %v", v, len(page), err)
	}
}

// Every list request runs one of a fixed few statements, whatever its limit, status
// filter and cursor: a reader connection that served every variant keeps no more
// prepared than those (a text per variant would fill each connection's cache).
func TestListStatementsStayFixed(t *testing.T) {
	d := openTest(t, db.Options{})
	user, variants := listVariants(t, d)
	writer, _ := d.Prepared()
	for range 3 {
		for _, v := range variants {
			list(t, d, user, v)
		}
	}
	w, readers := d.Prepared()
	if len(readers) == 0 {
		t.Fatal("no reader connection was used")
	}
	for i, n := range readers {
		if n > listStatements {
			t.Errorf("reader %d keeps %d statements prepared after %d list requests; want at most %d", i, n, 3*len(variants), listStatements)
		}
	}
	if w != writer {
		t.Errorf("the writer's statements went from %d to %d, though lists are reads", writer, w)
	}
}

// 10,000 list requests over every variant leave the statement caches as a warm-up of
// one request per variant left them.
func TestStatementCacheStaysBounded(t *testing.T) {
	d := openTest(t, db.Options{Readers: 1})
	user, variants := listVariants(t, d)
	for _, v := range variants {
		list(t, d, user, v)
	}
	writer, readers := d.Prepared()
	if len(readers) != 1 || readers[0] == 0 || readers[0] > listStatements {
		t.Fatalf("after the warm-up, the reader keeps %v statements; want 1 to %d", readers, listStatements)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		list(t, d, user, variants[rnd.IntN(len(variants))])
	}
	w, r := d.Prepared()
	if w != writer || !slices.Equal(r, readers) {
		t.Fatalf("statements prepared: writer %d, readers %v after 10,000 lists; %d, %v after the warm-up", w, r, writer, readers)
	}
}
