package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"nanobanana/db"
)

var _ = register("CreateGetAndOwnership", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")

	u1, u2 := upload(alice, 1), upload(alice, 1)
	if err := d.CreateUploads(ctx, []db.Upload{u1, u2}, 0); err != nil {
		t.Fatal(err)
	}
	p := params("a red fox")
	p.Mode, p.ReferenceIDs = db.ModeImageToImage, []string{u1.ID, u2.ID}
	g, err := d.CreateGeneration(ctx, alice, p, db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != db.StatusPending || g.QueuePosition != 1 || len(g.ID) != 32 || g.UserID != alice {
		t.Fatalf("created %+v", g)
	}
	got, err := d.GetGeneration(ctx, alice, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Prompt != "a red fox" || got.Mode != db.ModeImageToImage || len(got.ReferenceIDs) != 2 ||
		got.ReferenceIDs[1] != u2.ID || got.QueuePosition != 1 || !got.CreatedAt.Equal(g.CreatedAt) ||
		got.Resolution != "1K" || got.AspectRatio != "1:1" || got.OutputFormat != "png" ||
		got.SafetyFilterLevel != "block_only_high" || got.Status != db.StatusPending {
		t.Fatalf("read back %+v", got)
	}
	if j, err := d.JobForGeneration(ctx, g.ID); err != nil || j.State != db.JobQueued || j.MaxAttempts != db.DefaultMaxAttempts || j.UserID != alice {
		t.Fatalf("its job: %+v %v", j, err)
	}
	if _, err := d.GetGeneration(ctx, bob, g.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("other user's generation: %v, want ErrNotFound", err)
	}
	if _, err := d.GetGeneration(ctx, alice, db.NewID()); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("missing generation: %v", err)
	}
	if _, err := d.CancelGeneration(ctx, bob, g.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("cancel other's: %v", err)
	}
	if _, err := d.RetryGeneration(ctx, bob, g.ID, 0, nil); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("retry other's: %v", err)
	}
	if _, err := d.DeleteGeneration(ctx, bob, g.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("delete other's: %v", err)
	}
	if still, err := d.GetGeneration(ctx, alice, g.ID); err != nil || still.Status != db.StatusPending {
		t.Fatalf("after bob's attempts: %+v %v", still, err)
	}
	// The attempts asked for are the job's.
	g3, err := d.CreateGeneration(ctx, alice, params("three tries"), db.CreateOptions{MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := d.JobForGeneration(ctx, g3.ID); err != nil || j.MaxAttempts != 3 {
		t.Fatalf("job with 3 attempts: %+v %v", j, err)
	}
})

var _ = register("ListKeyset", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	want := map[string]bool{}
	for i := range 25 {
		want[create(t, d, u, fmt.Sprint("p", i)).ID] = true
	}
	create(t, d, other, "not alice's")
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	var prev *db.Generation
	for {
		page, next, err := d.ListGenerations(ctx, u, db.ListFilter{Limit: 10, Cursor: cursor})
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
			if g.QueuePosition < 1 || g.UserID != u || g.Status != db.StatusPending || g.Prompt == "" {
				t.Fatalf("listed %+v", g)
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
	// The default page is 20, and the largest 100.
	if page, next, err := d.ListGenerations(ctx, u, db.ListFilter{}); err != nil || len(page) != 20 || next == "" {
		t.Fatalf("default page: %d items, next %q, %v", len(page), next, err)
	}
	if page, next, err := d.ListGenerations(ctx, u, db.ListFilter{Limit: 1000}); err != nil || len(page) != 25 || next != "" {
		t.Fatalf("a page larger than everything: %d items, next %q, %v", len(page), next, err)
	}
	if _, _, err := d.ListGenerations(ctx, u, db.ListFilter{Cursor: "garbage!"}); !errors.Is(err, db.ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, _, err := d.ListGenerations(ctx, u, db.ListFilter{Status: "done"}); db.CodeOf(err) != db.CodeInvalid {
		t.Fatalf("bad status: %v", err)
	}
	page, _, _ := d.ListGenerations(ctx, u, db.ListFilter{Status: db.StatusCompleted})
	if len(page) != 0 {
		t.Fatalf("completed filter returned %d", len(page))
	}
	// The status filter and the cursor together.
	first := prev // the oldest
	if _, err := d.CancelGeneration(ctx, u, first.ID); err != nil {
		t.Fatal(err)
	}
	page, _, err := d.ListGenerations(ctx, u, db.ListFilter{Status: db.StatusCanceled})
	if err != nil || len(page) != 1 || page[0].ID != first.ID || page[0].QueuePosition != 0 {
		t.Fatalf("canceled filter: %+v %v", page, err)
	}
	page, next, err := d.ListGenerations(ctx, u, db.ListFilter{Status: db.StatusPending, Limit: 20})
	if err != nil || len(page) != 20 || next == "" {
		t.Fatalf("pending, first page: %d %q %v", len(page), next, err)
	}
	page, next, err = d.ListGenerations(ctx, u, db.ListFilter{Status: db.StatusPending, Limit: 20, Cursor: next})
	if err != nil || len(page) != 4 || next != "" {
		t.Fatalf("pending, second page: %d %q %v; want the 4 left", len(page), next, err)
	}
})

var _ = register("CancelRetryDelete", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u := addUser(t, d, "alice")
	g1 := create(t, d, u, "pending one")
	out, err := d.CancelGeneration(ctx, u, g1.ID)
	if err != nil || out.WasRunning || out.Generation.Status != db.StatusCanceled || out.Generation.CompletedAt.IsZero() {
		t.Fatalf("cancel pending: %+v %v", out, err)
	}
	if jobs, _ := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 3); len(jobs) != 0 {
		t.Fatalf("canceled job was claimed: %+v", jobs)
	}
	_, err = d.CancelGeneration(ctx, u, g1.ID)
	if !errors.Is(err, db.ErrConflict) || db.CodeOf(err) != db.CodeAlreadyFinished {
		t.Fatalf("cancel twice: %v (code %s)", err, db.CodeOf(err))
	}
	g, err := d.RetryGeneration(ctx, u, g1.ID, 5, nil)
	if err != nil || g.Status != db.StatusPending || g.QueuePosition != 1 || !g.CompletedAt.IsZero() {
		t.Fatalf("retry: %+v %v", g, err)
	}
	_, err = d.RetryGeneration(ctx, u, g1.ID, 5, nil)
	if !errors.Is(err, db.ErrConflict) || db.CodeOf(err) != db.CodeNotRetryable {
		t.Fatalf("retry a pending one: %v (code %s)", err, db.CodeOf(err))
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
	_, err = d.RetryGeneration(ctx, u, g1.ID, 5, nil)
	if !errors.Is(err, db.ErrConflict) || db.CodeOf(err) != db.CodeStillStopping {
		t.Fatalf("retry while stopping: %v (code %s)", err, db.CodeOf(err))
	}
	j, _ := d.GetJob(ctx, jobs[0].ID)
	if !j.CancelRequested {
		t.Fatal("cancel not flagged on the running job")
	}
	// The canceled run cannot complete.
	if err := d.CompleteJob(ctx, j.ID, "w", g1.ID, result()); !errors.Is(err, db.ErrLeaseLost) {
		t.Fatalf("complete a canceled generation: %v", err)
	}
	if err := d.FinishCanceled(ctx, j.ID, "w"); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.GetGeneration(ctx, u, g1.ID); got.Status != db.StatusCanceled || got.ImageKey != "" {
		t.Fatalf("after the worker let go: %+v", got)
	}
	gone, err := d.DeleteGeneration(ctx, u, g1.ID)
	if err != nil || gone.ID != g1.ID || gone.Status != db.StatusCanceled {
		t.Fatalf("delete: %+v %v", gone, err)
	}
	if _, err := d.GetGeneration(ctx, u, g1.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := d.JobForGeneration(ctx, g1.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("job after delete: %v", err)
	}
	if _, err := d.DeleteGeneration(ctx, u, g1.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if counts, _ := d.QueueCounts(ctx); len(counts) != 0 {
		t.Fatalf("queue counts left: %v", counts)
	}
	// A failed generation is retried with a fresh job, at the back of the queue.
	g2 := create(t, d, u, "fails")
	jobs, _ = d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 3)
	if len(jobs) != 1 {
		t.Fatalf("claim: %+v", jobs)
	}
	if err := d.FailJob(ctx, jobs[0].ID, "w", g2.ID, "it broke", "technical cause"); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.GetGeneration(ctx, u, g2.ID); got.Status != db.StatusFailed || got.Error != "it broke" {
		t.Fatalf("failed: %+v", got)
	}
	if j, _ := d.GetJob(ctx, jobs[0].ID); j.State != db.JobFailed || j.LastError != "technical cause" {
		t.Fatalf("failed job: %+v", j)
	}
	r, err := d.RetryGeneration(ctx, u, g2.ID, 2, nil)
	if err != nil || r.Status != db.StatusPending || r.Error != "" || r.QueuePosition != 1 {
		t.Fatalf("retry a failed one: %+v %v", r, err)
	}
	j2, err := d.JobForGeneration(ctx, g2.ID)
	if err != nil || j2.ID <= jobs[0].ID || j2.Attempts != 0 || j2.MaxAttempts != 2 || j2.LastError != "" || j2.State != db.JobQueued {
		t.Fatalf("the retried job: %+v %v; want a fresh one after job %d", j2, err, jobs[0].ID)
	}
})

var _ = register("Uploads", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	up := db.Upload{ID: db.NewID(), UserID: u, Key: "uploads/1/a.png", ContentType: "image/png", Width: 3, Height: 4, Bytes: 10, SHA256: "00"}
	up2 := up
	up2.ID = db.NewID()
	for _, x := range []db.Upload{up, up2} {
		if err := d.CreateUploads(ctx, []db.Upload{x}, 0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.GetUploads(ctx, u, []string{up2.ID, up.ID})
	if err != nil || len(got) != 2 || got[0].ID != up2.ID || got[1].Width != 3 || got[1].Key != up.Key ||
		got[1].ContentType != "image/png" || got[1].Bytes != 10 || got[1].SHA256 != "00" || got[1].CreatedAt.IsZero() {
		t.Fatalf("get uploads %+v %v", got, err)
	}
	if _, err := d.GetUploads(ctx, other, []string{up.ID}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("other's upload: %v", err)
	}
	if _, err := d.GetUploads(ctx, u, []string{up.ID, db.NewID()}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("one missing: %v", err)
	}
	if err := d.CreateUploads(ctx, []db.Upload{up}, 0); err == nil {
		t.Fatal("an upload id stored twice")
	}
	if err := d.CreateUploads(ctx, []db.Upload{{UserID: u, Key: "k"}}, 0); err == nil {
		t.Fatal("an upload without an id was stored")
	}
})
