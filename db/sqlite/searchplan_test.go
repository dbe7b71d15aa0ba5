package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

// explain is the plan SQLite makes for q (EXPLAIN QUERY PLAN), its lines joined.
func explain(t *testing.T, d *DB, q string, args []any) string {
	t.Helper()
	var plan []string
	err := d.e.Read(context.Background(), func(x sqlstore.Querier) error {
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
	return strings.Join(plan, "; ")
}

// Each filter of the list is read through an index (migration 0020): the search through
// the prompts' FTS5 table, favorites through their partial index, resolution, aspect
// ratio and mode through theirs, dates through generations_user_created's range; the
// other filters are checked on the rows the driving index gives. A search reads the
// FTS5 index once for the matching rowids, then the user's rows newest first until the
// page is full; no page is sorted. A search matching few rows (counted first) reads them
// by rowid and sorts them instead.
func TestFilteredListUsesAnIndex(t *testing.T) {
	t.Parallel()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "plan.db"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cursor := cursorFor(t, d)
	day := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		f     db.ListFilter
		uses  string
		order bool
		few   bool // a search matching few rows
	}{
		// few matches: read by rowid and sorted, not by walking the history
		{db.ListFilter{Query: "zebra"}, "SEARCH generations USING INTEGER PRIMARY KEY (rowid=?)", false, true},
		{db.ListFilter{Query: "маяк", Favorite: true, Cursor: cursor}, "SEARCH generations USING INTEGER PRIMARY KEY (rowid=?)", false, true},
		{db.ListFilter{Query: "lighthouse"}, "SCAN generations_fts VIRTUAL TABLE INDEX", true, false},
		{db.ListFilter{Query: "маяк", Favorite: true, Resolution: "4K", Cursor: cursor}, "SCAN generations_fts VIRTUAL TABLE INDEX", true, false},
		{db.ListFilter{Favorite: true}, "USING INDEX generations_user_favorite (user_id=? AND (created_at,id)<(?,?))", true, false},
		{db.ListFilter{Favorite: true, Status: db.StatusFailed, Mode: db.ModeTextToImage, Cursor: cursor}, "USING INDEX generations_user_favorite", true, false},
		{db.ListFilter{Resolution: "4K"}, "USING INDEX generations_user_resolution (user_id=? AND resolution=? AND (created_at,id)<(?,?))", true, false},
		{db.ListFilter{Resolution: "4K", AspectRatio: "16:9", Status: db.StatusCompleted}, "USING INDEX generations_user_resolution", true, false},
		{db.ListFilter{AspectRatio: "16:9", Cursor: cursor}, "USING INDEX generations_user_aspect (user_id=? AND aspect_ratio=?", true, false},
		{db.ListFilter{Mode: db.ModeImageToImage}, "USING INDEX generations_user_i2i (user_id=? AND (created_at,id)<(?,?))", true, false},
		{db.ListFilter{Mode: db.ModeTextToImage}, "USING INDEX generations_user_created (user_id=?", true, false},
		{db.ListFilter{From: day, To: day.Add(24 * time.Hour)}, "USING INDEX generations_user_created (user_id=? AND created_at>? AND (created_at,id)<(?,?))", true, false},
		{db.ListFilter{From: day, Status: db.StatusPending}, "USING INDEX generations_user_created (user_id=?", true, false},
	} {
		q, args, err := sqlstore.FilteredListQuery(d.e, 7, tc.f, tc.few)
		if err != nil {
			t.Fatal(err)
		}
		got := explain(t, d, q, args)
		name := fmt.Sprintf("%+v", tc.f)
		if !strings.Contains(strings.ReplaceAll(got, ">=", ">"), tc.uses) {
			t.Errorf("%s: plan %q; want %s", name, got, tc.uses)
		}
		if strings.Contains(got+";", "SCAN generations;") || strings.Contains(got, "SCAN generations ") {
			t.Errorf("%s: plan %q scans the table", name, got)
		}
		if tc.few && strings.Contains(got, "generations_user_created") {
			t.Errorf("%s: plan %q walks the user's history", name, got)
		}
		if tc.order && strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%s: plan %q sorts", name, got)
		}
	}
}

// Whatever combination of filters a list asks for, a reader prepares no more than the
// fixed texts: the status lists (listStatements) and the filtered ones.
func TestFilteredListStatementsStayFixed(t *testing.T) {
	d := openTest(t, db.Options{Readers: 1})
	user, _ := listVariants(t, d)
	_, cursor, err := d.ListGenerations(context.Background(), user, db.ListFilter{Limit: 1})
	if err != nil || cursor == "" {
		t.Fatalf("a cursor: %q %v", cursor, err)
	}
	n := 0
	day := time.Now().Add(-time.Hour)
	for _, q := range []string{"", "1", "2 3", "нет", "cafe"} {
		for _, status := range []string{"", db.StatusPending, db.StatusFailed} {
			for _, fav := range []bool{false, true} {
				for _, res := range []string{"", "1K"} {
					for _, ar := range []string{"", "1:1"} {
						for _, mode := range []string{"", db.ModeTextToImage} {
							for _, dates := range [][2]time.Time{{}, {day, {}}, {{}, day.Add(2 * time.Hour)}} {
								for limit := 1; limit <= 3; limit++ {
									for _, c := range []string{"", cursor} {
										f := db.ListFilter{Query: q, Status: status, Favorite: fav, Resolution: res,
											AspectRatio: ar, Mode: mode, From: dates[0], To: dates[1], Limit: limit * 17, Cursor: c}
										if _, _, err := d.ListGenerations(context.Background(), user, f); err != nil {
											t.Fatalf("%+v: %v", f, err)
										}
										n++
									}
								}
							}
						}
					}
				}
			}
		}
	}
	filtered := len(sqlstore.FilterQueries(d.e))
	_, readers := d.Prepared()
	if len(readers) != 1 || readers[0] > listStatements+filtered {
		t.Fatalf("after %d list requests of every combination, the reader keeps %v statements; want at most %d", n, readers, listStatements+filtered)
	}
	t.Logf("%d requests, %d statements prepared (%d filtered texts)", n, readers[0], filtered)
}
