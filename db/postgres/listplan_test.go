package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
	"nanobanana/internal/pgtest"
)

// A list filtered by a status reads its rows through an index on PostgreSQL too (the
// queue's for pending and running, the partial index of migration 0010 for failed and
// canceled, whose condition the text names so a generic plan, made without the bound
// status, may use it), never the user's whole history. Sequential scans are turned off for the check: on an empty table one
// would win, which says nothing about a table of a million rows.
func TestListByStatusUsesAnIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := Open(ctx, pgtest.DSN(t), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	conn, err := d.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// plan_cache_mode: the plan PostgreSQL would reuse for any status.
	for _, set := range []string{"SET enable_seqscan = off", "SET plan_cache_mode = force_generic_plan"} {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	for st, want := range map[string][]string{
		db.StatusPending:  {"generations_queued_user_rank"},
		db.StatusRunning:  {"generations_queued_user_rank", "generations_running_lease"},
		db.StatusFailed:   {"generations_user_status_ended"},
		db.StatusCanceled: {"generations_user_status_ended"},
	} {
		q, args, err := sqlstore.ListQuery(7, db.ListFilter{Status: st})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "PREPARE listplan AS "+sqlFor(q)); err != nil {
			t.Fatal(err)
		}
		// EXPLAIN takes no parameters of its own: the values go in its text.
		rows, err := conn.QueryContext(ctx, fmt.Sprintf("EXPLAIN EXECUTE listplan(%d, '%s', %d)", args[0], args[1], args[2]))
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		if _, err := conn.ExecContext(ctx, "DEALLOCATE listplan"); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(plan, "\n")
		for _, index := range want {
			if !strings.Contains(got, index) {
				t.Errorf("status %s: plan\n%s\nwant %s", st, got, index)
			}
		}
		if strings.Contains(got, "generations_user_created") {
			t.Errorf("status %s: plan\n%s\nwalks the user's history", st, got)
		}
	}
}
