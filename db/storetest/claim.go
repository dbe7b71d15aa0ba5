package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"nanobanana/db"
)

// What a worker may claim: nothing while the queue is paused (settings queue_paused),
// nothing of a disabled account, and no new prediction of the shared token while its
// month's books are over a cap an admin stored; each resumes when its cause is gone.
var _ = register("ClaimPredicatePauseDisabledBudget", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	claim := func() int {
		t.Helper()
		jobs, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 9, 8)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if err := d.ReleaseJob(ctx, j.ID, "w"); err != nil {
				t.Fatal(err)
			}
		}
		return len(jobs)
	}
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	create(t, d, a, "a")
	if _, err := d.CreateGeneration(ctx, b, params("b"), db.CreateOptions{Budget: budget(db.Limits{})}); err != nil {
		t.Fatal(err)
	}

	if err := d.PutSetting(ctx, "queue_paused", json.RawMessage(`true`), 0); err != nil {
		t.Fatal(err)
	}
	if n := claim(); n != 0 {
		t.Errorf("paused: %d claimed", n)
	}
	if err := d.PutSetting(ctx, "queue_paused", json.RawMessage(`false`), 0); err != nil {
		t.Fatal(err)
	}
	if n := claim(); n != 2 {
		t.Errorf("resumed: %d claimed, want 2", n)
	}

	if err := d.Raw(ctx, `UPDATE users SET disabled = 1 WHERE id = ?`, []any{a}); err != nil {
		t.Fatal(err)
	}
	if n := claim(); n != 1 {
		t.Errorf("alice disabled: %d claimed, want bob's 1", n)
	}
	if err := d.Raw(ctx, `UPDATE users SET disabled = 0 WHERE id = ?`, []any{a}); err != nil {
		t.Fatal(err)
	}

	// Bob's job holds 0.15 of the shared token's month; a cap of 0.10 stored after it
	// was queued holds it back (alice's job, with no books, still runs).
	if err := d.PutSetting(ctx, "shared_month_cap_usd", json.RawMessage(`0.10`), 0); err != nil {
		t.Fatal(err)
	}
	if n := claim(); n != 1 {
		t.Errorf("over the stored cap: %d claimed, want alice's 1", n)
	}
	if err := d.PutSetting(ctx, "shared_month_cap_usd", json.RawMessage(`0.15`), 0); err != nil {
		t.Fatal(err)
	}
	if n := claim(); n != 2 {
		t.Errorf("at the cap: %d claimed, want 2", n)
	}
	if err := d.PutSetting(ctx, "shared_month_cap_usd", json.RawMessage(`null`), 0); err != nil {
		t.Fatal(err)
	}
	if n := claim(); n != 2 {
		t.Errorf("no cap: %d claimed, want 2", n)
	}
})
