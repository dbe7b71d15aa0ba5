package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"nanobanana/db"
)

// upload is an upload row of user of n bytes, with a fresh id.
func upload(user int64, n int64) db.Upload {
	id := db.NewID()
	return db.Upload{ID: id, UserID: user, Key: "u/x/uploads/" + id + ".png", ContentType: "image/png",
		Width: 2, Height: 2, Bytes: n, SHA256: "00"}
}

// i2i is image-to-image params naming refs.
func i2i(prompt string, refs ...string) db.Params {
	p := params(prompt)
	p.Mode, p.AspectRatio, p.ReferenceIDs = db.ModeImageToImage, "match_input_image", refs
	return p
}

func uploadBytes(t testing.TB, d Store, user int64) int64 {
	t.Helper()
	n, err := d.UploadBytes(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The quota counts every byte a user's uploads hold: a batch that would pass it is
// refused whole, deleting frees its bytes, and concurrent batches cannot pass it
// together.
var _ = register("UploadQuota", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	const quota = 100
	if n := uploadBytes(t, d, u); n != 0 {
		t.Fatalf("a new user's uploads hold %d bytes", n)
	}
	if err := d.CreateUploads(ctx, []db.Upload{upload(u, 101)}, quota); db.CodeOf(err) != db.CodeUploadQuota {
		t.Fatalf("a first upload over the quota: %v", err)
	}
	a, b := upload(u, 40), upload(u, 40)
	if err := d.CreateUploads(ctx, []db.Upload{a, b}, quota); err != nil {
		t.Fatal(err)
	}
	c, e := upload(u, 10), upload(u, 11)
	err := d.CreateUploads(ctx, []db.Upload{c, e}, quota)
	if db.CodeOf(err) != db.CodeUploadQuota || db.CodeOf(err).Kind() != db.KindTooLarge {
		t.Fatalf("a batch past the quota: %v", err)
	}
	if _, err := d.GetUploads(ctx, u, []string{c.ID}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a refused batch was partly recorded: %v", err)
	}
	if n := uploadBytes(t, d, u); n != 80 {
		t.Fatalf("after a refused batch: %d bytes, want 80", n)
	}
	if err := d.CreateUploads(ctx, []db.Upload{c, upload(u, 10)}, quota); err != nil {
		t.Fatalf("a batch that fills the quota exactly: %v", err)
	}
	// Another user's quota is theirs; no quota is no limit.
	if err := d.CreateUploads(ctx, []db.Upload{upload(other, 100)}, quota); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateUploads(ctx, []db.Upload{upload(other, 1000)}, 0); err != nil {
		t.Fatal(err)
	}
	if n := uploadBytes(t, d, other); n != 1100 {
		t.Fatalf("bob: %d bytes", n)
	}
	// Quotas and sizes past 32 bits.
	if err := d.CreateUploads(ctx, []db.Upload{upload(other, 3<<30)}, 5<<30); err != nil {
		t.Fatalf("3 GiB under a 5 GiB quota: %v", err)
	}
	if err := d.CreateUploads(ctx, []db.Upload{upload(other, 3<<30)}, 5<<30); db.CodeOf(err) != db.CodeUploadQuota {
		t.Fatalf("6 GiB under a 5 GiB quota: %v", err)
	}
	// Deleting frees the space; another user cannot delete it.
	if _, err := d.DeleteUpload(ctx, other, a.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("delete another user's upload: %v", err)
	}
	gone, err := d.DeleteUpload(ctx, u, a.ID)
	if err != nil || gone.ID != a.ID || gone.Key != a.Key || gone.Bytes != 40 {
		t.Fatalf("delete: %+v %v", gone, err)
	}
	if _, err := d.DeleteUpload(ctx, u, a.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if n := uploadBytes(t, d, u); n != 60 {
		t.Fatalf("after a delete: %d bytes, want 60", n)
	}
	if err := d.CreateUploads(ctx, []db.Upload{upload(u, 40)}, quota); err != nil {
		t.Fatalf("an upload into freed space: %v", err)
	}
	if err := d.CreateUploads(ctx, []db.Upload{{UserID: u, Key: "k", Bytes: 1}}, 0); err == nil {
		t.Fatal("an upload without an id was stored")
	}

	// Concurrent uploads: 16 of 10 bytes into 50 free bytes.
	racer := addUser(t, d, "carol")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 16 {
		wg.Go(func() {
			err := d.CreateUploads(ctx, []db.Upload{upload(racer, 10)}, 50)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case db.CodeOf(err) != db.CodeUploadQuota:
				t.Errorf("a concurrent upload: %v", err)
			}
		})
	}
	wg.Wait()
	if n := uploadBytes(t, d, racer); ok != 5 || n != 50 {
		t.Fatalf("concurrent uploads: %d recorded, %d bytes; want 5 and 50", ok, n)
	}
	if rows := count(t, d, `SELECT count(*) FROM uploads WHERE user_id = ?`, racer); rows != 5 {
		t.Fatalf("%d rows for 5 recorded uploads", rows)
	}
})

// A generation's references are recorded with it, from the uploads of its user only,
// and go with it; an upload a pending or running generation uses cannot be deleted.
var _ = register("UploadReferences", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	a, b, theirs := upload(u, 5), upload(u, 5), upload(other, 5)
	for _, x := range []db.Upload{a, b, theirs} {
		if err := d.CreateUploads(ctx, []db.Upload{x}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, refs := range [][]string{{a.ID, theirs.ID}, {a.ID, db.NewID()}} {
		if _, err := d.CreateGeneration(ctx, u, i2i("bad refs", refs...), db.CreateOptions{}); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("a generation naming %v: %v", refs, err)
		}
	}
	if n := count(t, d, `SELECT count(*) FROM generations`); n != 0 {
		t.Fatalf("%d generations after refused creates", n)
	}
	g1, err := d.CreateGeneration(ctx, u, i2i("both", a.ID, b.ID, a.ID), db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := d.CreateGeneration(ctx, u, i2i("one", b.ID), db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	refs := func() map[string]int {
		t.Helper()
		ups, next, err := d.ListUploads(ctx, u, 0, "")
		if err != nil || next != "" {
			t.Fatalf("list: %v %q", err, next)
		}
		m := map[string]int{}
		for _, x := range ups {
			m[x.ID] = x.Refs
		}
		return m
	}
	if got := refs(); got[a.ID] != 1 || got[b.ID] != 2 || len(got) != 2 {
		t.Fatalf("references: %v", got)
	}
	// Pending: not deletable; running: neither.
	if _, err := d.DeleteUpload(ctx, u, b.ID); db.CodeOf(err) != db.CodeUploadInUse || !errors.Is(err, db.ErrConflict) {
		t.Fatalf("delete an upload of a pending generation: %v", err)
	}
	jobs, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 1)
	if err != nil || len(jobs) != 1 || jobs[0].GenerationID != g1.ID {
		t.Fatalf("claim: %+v %v", jobs, err)
	}
	if _, err := d.DeleteUpload(ctx, u, a.ID); db.CodeOf(err) != db.CodeUploadInUse {
		t.Fatalf("delete an upload of a running generation: %v", err)
	}
	// Finished: the upload may go; the generation keeps the id it was made from.
	if err := d.CompleteJob(ctx, jobs[0].ID, "w", g1.ID, result()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteUpload(ctx, u, a.ID); err != nil {
		t.Fatalf("delete an upload of a completed generation: %v", err)
	}
	if g, err := d.GetGeneration(ctx, u, g1.ID); err != nil || len(g.ReferenceIDs) != 3 || g.ReferenceIDs[0] != a.ID {
		t.Fatalf("the completed generation after its upload went: %+v %v", g, err)
	}
	// A deleted generation frees its references.
	if _, err := d.CancelGeneration(ctx, u, g2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteGeneration(ctx, u, g2.ID); err != nil {
		t.Fatal(err)
	}
	if got := refs(); got[b.ID] != 1 {
		t.Fatalf("references after deleting a generation: %v", got)
	}
	if _, err := d.DeleteGeneration(ctx, u, g1.ID); err != nil {
		t.Fatal(err)
	}
	if got := refs(); got[b.ID] != 0 {
		t.Fatalf("references after deleting both: %v", got)
	}
	if n := count(t, d, `SELECT count(*) FROM upload_refs`); n != 0 {
		t.Fatalf("%d references left", n)
	}
})

// Expiry removes the unreferenced uploads made before its time, oldest first, and
// never one that a generation uses, whatever that generation's status.
var _ = register("UploadExpiry", func(t *testing.T, open Opener) {
	now, advance := fixedClock(time.UnixMilli(1_800_000_000_000))
	d := open(t, db.Options{Now: now})
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	mk := func(user int64) db.Upload {
		t.Helper()
		x := upload(user, 7)
		if err := d.CreateUploads(ctx, []db.Upload{x}, 0); err != nil {
			t.Fatal(err)
		}
		advance(time.Second)
		return x
	}
	idle, idle2, theirs := mk(u), mk(u), mk(other)
	pending, running, done, failed := mk(u), mk(u), mk(u), mk(u)
	gp, _ := d.CreateGeneration(ctx, u, i2i("pending", pending.ID), db.CreateOptions{})
	gr, _ := d.CreateGeneration(ctx, u, i2i("running", running.ID), db.CreateOptions{})
	gd, _ := d.CreateGeneration(ctx, u, i2i("done", done.ID), db.CreateOptions{})
	gf, _ := d.CreateGeneration(ctx, u, i2i("failed", failed.ID), db.CreateOptions{})
	for _, want := range []*db.Generation{gp, gr, gd, gf} {
		if want == nil {
			t.Fatal("a generation was not created")
		}
	}
	var claimed []db.Job
	for len(claimed) < 3 {
		js, err := d.ClaimJobs(ctx, "w", now().Add(time.Hour), 3, 3)
		if err != nil || len(js) == 0 {
			t.Fatalf("claim: %v %v", js, err)
		}
		claimed = append(claimed, js...)
	}
	for _, j := range claimed {
		switch j.GenerationID {
		case gd.ID:
			if err := d.CompleteJob(ctx, j.ID, "w", gd.ID, result()); err != nil {
				t.Fatal(err)
			}
		case gf.ID:
			if err := d.FailJob(ctx, j.ID, "w", gf.ID, "no", "no"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if ups, err := d.ExpireUploads(ctx, now().Add(-time.Hour), 0); err != nil || len(ups) != 0 {
		t.Fatalf("expire before any is old enough: %+v %v", ups, err)
	}
	before := now()
	fresh := mk(u) // made at the time, not before it: stays
	first, err := d.ExpireUploads(ctx, before, 2)
	if err != nil || len(first) != 2 || first[0].ID != idle.ID || first[1].ID != idle2.ID {
		t.Fatalf("expire 2: %+v %v", first, err)
	}
	rest, err := d.ExpireUploads(ctx, before, 10)
	if err != nil || len(rest) != 1 || rest[0].ID != theirs.ID || rest[0].Key != theirs.Key || rest[0].UserID != other {
		t.Fatalf("expire the rest: %+v %v", rest, err)
	}
	if n := uploadBytes(t, d, u); n != 5*7 {
		t.Fatalf("alice's bytes after expiry: %d, want %d", n, 5*7)
	}
	if n := uploadBytes(t, d, other); n != 0 {
		t.Fatalf("bob's bytes after expiry: %d", n)
	}
	if _, err := d.GetUploads(ctx, u, []string{pending.ID, running.ID, done.ID, failed.ID, fresh.ID}); err != nil {
		t.Fatalf("a referenced or recent upload expired: %v", err)
	}
	// Once the generation is deleted, its upload is unreferenced and goes.
	if _, err := d.DeleteGeneration(ctx, u, gd.ID); err != nil {
		t.Fatal(err)
	}
	freed, err := d.ExpireUploads(ctx, before, 10)
	if err != nil || len(freed) != 1 || freed[0].ID != done.ID {
		t.Fatalf("expire after deleting a generation: %+v %v", freed, err)
	}
})

var _ = register("ListUploads", func(t *testing.T, open Opener) {
	now, advance := fixedClock(time.UnixMilli(1_800_000_000_000))
	d := open(t, db.Options{Now: now})
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	var ids []string
	for i := range 5 {
		x := upload(u, int64(i+1))
		if i == 3 {
			x.CreatedAt = now().Add(-time.Second) // the same millisecond as the one before
		}
		if err := d.CreateUploads(ctx, []db.Upload{x}, 0); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.ID)
		if i != 2 {
			advance(time.Second)
		}
	}
	if err := d.CreateUploads(ctx, []db.Upload{upload(other, 1)}, 0); err != nil {
		t.Fatal(err)
	}
	var got []db.Upload
	cursor := ""
	for range 4 {
		page, next, err := d.ListUploads(ctx, u, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(got) != 5 {
		t.Fatalf("listed %d uploads, want 5", len(got))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID) {
			t.Fatalf("not newest first: %v %s before %v %s", a.CreatedAt, a.ID, b.CreatedAt, b.ID)
		}
		if a.UserID != u || a.Key == "" || a.Bytes == 0 {
			t.Fatalf("listed %+v", a)
		}
	}
	if _, _, err := d.ListUploads(ctx, u, 2, "not-a-cursor"); !errors.Is(err, db.ErrInvalidCursor) {
		t.Fatalf("a bad cursor: %v", err)
	}
})
