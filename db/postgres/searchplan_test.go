package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
	"nanobanana/internal/pgtest"
	"nanobanana/internal/population"
)

// literal writes a bound argument into EXPLAIN EXECUTE's text.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return fmt.Sprint(v)
}

// Each filter of the list is read through an index on PostgreSQL too (migration 0019):
// the search through the prompts' GIN index, favorites through their partial index,
// resolution, aspect ratio and mode through theirs, dates through
// generations_user_created. The plans are the generic ones (made without the bound
// values, as a prepared statement reused for every combination gets), with sequential
// scans off: on an empty table one would win, which says nothing about a million rows.
func TestFilteredListUsesAnIndex(t *testing.T) {
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
	// The search: a GIN index is chosen from statistics, so the table holds rows
	// (3,000 of 10 users) and is analyzed.
	if _, err := population.Fill(ctx, d, population.Spec{Total: 3000, Heavy: 1000, Users: 10}); err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{"ANALYZE generations", "SET enable_seqscan = off", "SET plan_cache_mode = force_generic_plan"} {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		f    db.ListFilter
		uses string
		few  bool // a search matching few rows: not through the user's history
	}{
		{db.ListFilter{Query: "zebra"}, "generations_prompt_search", true},
		{db.ListFilter{Query: "lighthouse"}, "generations_prompt_search", false},
		{db.ListFilter{Query: "маяк", Favorite: true, Resolution: "4K"}, "generations_prompt_search", false},
		{db.ListFilter{Favorite: true}, "generations_user_favorite", false},
		{db.ListFilter{Favorite: true, Status: db.StatusFailed, Mode: db.ModeTextToImage}, "generations_user_favorite", false},
		{db.ListFilter{Resolution: "4K"}, "generations_user_resolution", false},
		{db.ListFilter{AspectRatio: "16:9", Status: db.StatusCompleted}, "generations_user_aspect", false},
		{db.ListFilter{Mode: db.ModeImageToImage}, "generations_user_i2i", false},
		{db.ListFilter{From: day, To: day.Add(24 * time.Hour)}, "generations_user_created", false},
	} {
		q, args, err := sqlstore.FilteredListQuery(d.e, 7, tc.f, tc.few)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "PREPARE filterplan AS "+sqlFor(q)); err != nil {
			t.Fatal(err)
		}
		lits := make([]string, len(args))
		for i, a := range args {
			lits[i] = literal(a)
		}
		rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE filterplan("+strings.Join(lits, ", ")+")")
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
		if _, err := conn.ExecContext(ctx, "DEALLOCATE filterplan"); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(plan, "\n")
		if !strings.Contains(got, tc.uses) {
			t.Errorf("%+v: plan\n%s\nwant %s", tc.f, got, tc.uses)
		}
		if tc.few && strings.Contains(got, "generations_user_created") {
			t.Errorf("%+v: plan\n%s\nwalks the user's history", tc.f, got)
		}
		if strings.Contains(got, "Seq Scan on generations") {
			t.Errorf("%+v: plan\n%s\nscans the table", tc.f, got)
		}
	}
}
