package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"nanobanana/db"
)

// A list filtered by each status, page by page, gives exactly the user's generations of
// that status, newest first, whichever index serves it (the rare statuses have one of
// their own since migration 0011).
var _ = register("ListByStatusPagesThroughEveryStatus", func(t *testing.T, open Opener) {
	now, advance := fixedClock(time.Unix(1_700_000_000, 0))
	d := open(t, db.Options{Now: now})
	ctx := context.Background()
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")
	want := map[string][]string{}
	statuses := []string{db.StatusCompleted, db.StatusFailed, db.StatusCanceled, db.StatusRunning, db.StatusPending}
	for i := range 60 {
		advance(time.Millisecond)
		for _, u := range []int64{alice, bob} {
			g, err := d.CreateGeneration(ctx, u, params(fmt.Sprint("g", i)), 0)
			if err != nil {
				t.Fatal(err)
			}
			st := statuses[i%len(statuses)]
			if i%7 == 0 {
				st = db.StatusCompleted // more of the common one
			}
			if st != db.StatusPending {
				if err := d.Raw(ctx, `UPDATE generations SET status = ?, state = ? WHERE id = ?`,
					[]any{st, map[string]string{db.StatusCompleted: "done", db.StatusFailed: "failed",
						db.StatusCanceled: "canceled", db.StatusRunning: "queued"}[st], g.ID}); err != nil {
					t.Fatal(err)
				}
			}
			if u == alice {
				want[st] = append([]string{g.ID}, want[st]...) // newest first
			}
		}
	}
	for _, st := range statuses {
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			items, next, err := d.ListGenerations(ctx, alice, db.ListFilter{Status: st, Limit: 4, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range items {
				if g.Status != st {
					t.Fatalf("status=%s listed a %s generation", st, g.Status)
				}
				got = append(got, g.ID)
			}
			if next == "" {
				break
			}
			if page > 100 {
				t.Fatal("pages never end")
			}
			cursor = next
		}
		if !slices.Equal(got, want[st]) {
			t.Errorf("status=%s: listed %d generations, want %d (newest first, alice's only)", st, len(got), len(want[st]))
		}
	}
})
