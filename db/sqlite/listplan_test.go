package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

// The list's plans, as SQLite makes them (EXPLAIN QUERY PLAN): no status filter reads
// a user's whole history any more. Before migration 0011 every one walked it
// (SEARCH generations USING INDEX generations_user_created (user_id=?)) and skipped the
// other statuses: 240 ms for ?status=running of a user with 100,000 generations.
// Pending and running are read from the queue's indexes (the user's queued jobs, the
// jobs running now), failed and canceled from their partial index, completed and
// everything among the newest rows.
func TestListByStatusUsesAnIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	queued := "SEARCH generations USING COVERING INDEX generations_queued_user_rank (user_id=?)"
	running := "SCAN generations USING COVERING INDEX generations_running_lease"
	byID := "SEARCH generations USING INTEGER PRIMARY KEY (rowid=?)"
	cursor := cursorFor(t, d)
	for _, tc := range []struct {
		f     db.ListFilter
		uses  []string
		order bool // the index gives the order: no sort
	}{
		{db.ListFilter{Status: db.StatusPending}, []string{byID, queued}, false},
		{db.ListFilter{Status: db.StatusRunning}, []string{byID, queued, running}, false},
		{db.ListFilter{Status: db.StatusRunning, Cursor: cursor}, []string{byID, queued, running}, false},
		{db.ListFilter{Status: db.StatusFailed}, []string{"USING INDEX generations_user_status_ended (user_id=? AND status=?)"}, true},
		{db.ListFilter{Status: db.StatusCanceled, Cursor: cursor}, []string{"USING INDEX generations_user_status_ended (user_id=? AND status=? AND (created_at,id)<(?,?))"}, true},
		// Completed is most of every history: the newest rows hold its page.
		{db.ListFilter{Status: db.StatusCompleted}, []string{"USING INDEX generations_user_created (user_id=?)"}, true},
		{db.ListFilter{}, []string{"USING INDEX generations_user_created (user_id=?)"}, true},
	} {
		q, args, err := sqlstore.ListQuery(7, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		err = d.e.Read(ctx, func(x sqlstore.Querier) error {
			rows, err := x.Query("EXPLAIN QUERY PLAN "+q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id, parent, unused int64
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					return err
				}
				plan = append(plan, detail)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(plan, "; ")
		for _, want := range tc.uses {
			if !strings.Contains(got, want) {
				t.Errorf("status %q cursor %v: plan %q; want %s", tc.f.Status, tc.f.Cursor != "", got, want)
			}
		}
		if strings.Contains(got, "generations_user_created") && tc.f.Status != "" && tc.f.Status != db.StatusCompleted {
			t.Errorf("status %q: plan %q walks the user's history", tc.f.Status, got)
		}
		if tc.order && strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("status %q: plan %q sorts", tc.f.Status, got)
		}
	}
}

// cursorFor is a valid list cursor (of a generation made for it).
func cursorFor(t *testing.T, d *DB) string {
	t.Helper()
	ctx := context.Background()
	u, err := d.CreateUser(ctx, "cursor", "cursor@example.com", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	p := db.Params{Prompt: "p", Resolution: "1K", AspectRatio: "1:1", OutputFormat: "png", SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage}
	for range 2 {
		if _, err := d.CreateGeneration(ctx, u.ID, p, db.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, next, err := d.ListGenerations(ctx, u.ID, db.ListFilter{Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("no cursor: %v", err)
	}
	return next
}
