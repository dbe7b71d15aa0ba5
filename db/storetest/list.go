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
			g, err := d.CreateGeneration(ctx, u, params(fmt.Sprint("g", i)), db.CreateOptions{})
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

// A generation whose prediction succeeded but whose output waits to be stored
// (Store.Wait with OutputUntil) keeps that prediction when run again before the output
// is gone, so the job fetches it instead of paying for another; after, it does not.
var _ = register("RetryKeepsAFetchableOutput", func(t *testing.T, open Opener) {
	now, advance := fixedClock(time.Unix(1_700_000_000, 0))
	d := open(t, db.Options{Now: now})
	ctx := context.Background()
	cases := []struct {
		name  string
		until time.Duration
		keep  bool
		user  int64
		gen   string
	}{{name: "fetchable", until: time.Hour, keep: true}, {name: "gone", until: time.Minute}}
	for i := range cases {
		cases[i].user = addUser(t, d, cases[i].name)
		g, err := d.CreateGeneration(ctx, cases[i].user, params(cases[i].name), db.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cases[i].gen = g.ID
	}
	jobs, err := d.ClaimJobs(ctx, "w", now().Add(time.Minute), 5, 2)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	for _, j := range jobs {
		tc := cases[0]
		if j.GenerationID != tc.gen {
			tc = cases[1]
		}
		if err := d.SetPrediction(ctx, j.ID, "w", tc.gen, "pred-"+tc.name); err != nil {
			t.Fatal(err)
		}
		err = d.Wait(ctx, j.ID, "w", db.Wait{RunAfter: now().Add(time.Second), OutputUntil: now().Add(tc.until),
			Message: "Storage is full.", LastError: "ENOSPC"})
		if err != nil {
			t.Fatal(err)
		}
		held, err := d.GetGeneration(ctx, tc.user, tc.gen)
		if err != nil || held.Status != db.StatusRunning || held.Error != "Storage is full." {
			t.Fatalf("%s: while waiting: %+v %v", tc.name, held, err)
		}
		if _, err := d.CancelGeneration(ctx, tc.user, tc.gen); err != nil {
			t.Fatal(err)
		}
	}
	advance(2 * time.Minute)
	for _, tc := range cases {
		if _, err := d.RetryGeneration(ctx, tc.user, tc.gen, 0, nil); err != nil {
			t.Fatal(err)
		}
		j, err := d.JobForGeneration(ctx, tc.gen)
		if err != nil {
			t.Fatal(err)
		}
		if kept := j.PredictionID == "pred-"+tc.name && j.Phase == db.PhaseSubmitted; kept != tc.keep {
			t.Errorf("%s: after run again, prediction %q phase %q; want kept: %v", tc.name, j.PredictionID, j.Phase, tc.keep)
		}
	}
})
