package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nanobanana/db"
)

// countGenerations counts the user's generation rows.
func countGenerations(t testing.TB, d Store, user int64) int {
	t.Helper()
	var n int
	if err := d.Raw(context.Background(), `SELECT count(*) FROM generations WHERE user_id = ?`, []any{user}, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The same idempotency key from the same user answers the generation it made, as it is
// now, and inserts nothing; with another request hash it is refused; another user's
// same key is their own; a deleted generation takes its key with it.
var _ = register("IdempotencyKeySameGeneration", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	o := db.CreateOptions{IdempotencyKey: "k-1", RequestHash: "h1"}
	g1, err := d.CreateGeneration(ctx, a, params("a cat"), o)
	if err != nil || g1.Replayed {
		t.Fatalf("first: %+v, %v", g1, err)
	}
	if _, err := d.CancelGeneration(ctx, a, g1.ID); err != nil {
		t.Fatal(err)
	}
	g2, err := d.CreateGeneration(ctx, a, params("a cat"), o)
	if err != nil || g2.ID != g1.ID || !g2.Replayed || g2.Status != db.StatusCanceled {
		t.Fatalf("again: %+v, %v; want %s replayed, canceled", g2, err, g1.ID)
	}
	if n := countGenerations(t, d, a); n != 1 {
		t.Fatalf("%d generations, want 1", n)
	}
	_, err = d.CreateGeneration(ctx, a, params("a dog"), db.CreateOptions{IdempotencyKey: "k-1", RequestHash: "h2"})
	if db.CodeOf(err) != db.CodeIdempotencyKeyReused {
		t.Fatalf("other parameters: %v, want %s", err, db.CodeIdempotencyKeyReused)
	}
	gb, err := d.CreateGeneration(ctx, b, params("a cat"), o)
	if err != nil || gb.ID == g1.ID || gb.Replayed {
		t.Fatalf("bob's same key: %+v, %v", gb, err)
	}
	if _, err := d.DeleteGeneration(ctx, a, g1.ID); err != nil {
		t.Fatal(err)
	}
	g3, err := d.CreateGeneration(ctx, a, params("a cat"), o)
	if err != nil || g3.ID == g1.ID || g3.Replayed {
		t.Fatalf("after delete: %+v, %v; want a new generation", g3, err)
	}
})

// A key older than db.IdempotencyTTL is ignored (a new generation takes it over) and
// pruned.
var _ = register("IdempotencyKeyExpires", func(t *testing.T, open Opener) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	d := open(t, db.Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	ctx := context.Background()
	a := addUser(t, d, "alice")
	o := db.CreateOptions{IdempotencyKey: "old", RequestHash: "h"}
	g1, err := d.CreateGeneration(ctx, a, params("a cat"), o)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(db.IdempotencyTTL + time.Minute))
	g2, err := d.CreateGeneration(ctx, a, params("a dog"), db.CreateOptions{IdempotencyKey: "old", RequestHash: "other"})
	if err != nil || g2.ID == g1.ID || g2.Replayed {
		t.Fatalf("expired key: %+v, %v; want a new generation", g2, err)
	}
	if _, err := d.CreateGeneration(ctx, a, params("a bird"), db.CreateOptions{IdempotencyKey: "other", RequestHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if n, err := d.PruneIdempotencyKeys(ctx, time.Unix(0, clock.Load()).Add(-db.IdempotencyTTL)); err != nil || n != 0 {
		t.Fatalf("pruned %d live keys (%v)", n, err)
	}
	clock.Add(int64(db.IdempotencyTTL + time.Minute))
	n, err := d.PruneIdempotencyKeys(ctx, time.Unix(0, clock.Load()).Add(-db.IdempotencyTTL))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want 2", n, err)
	}
	var left int
	if err := d.Raw(ctx, `SELECT count(*) FROM idempotency_keys`, nil, &left); err != nil || left != 0 {
		t.Fatalf("%d keys left (%v)", left, err)
	}
})

// Concurrent requests with one key make one generation, and every one answers it.
var _ = register("IdempotencyKeyConcurrent", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a := addUser(t, d, "alice")
	const n = 20
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			g, err := d.CreateGeneration(ctx, a, params("a cat"), db.CreateOptions{IdempotencyKey: "one click", RequestHash: "h"})
			errs[i] = err
			if err == nil {
				ids[i] = g.ID
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("request %d answered %s, request 0 %s", i, ids[i], ids[0])
		}
	}
	if c := countGenerations(t, d, a); c != 1 {
		t.Fatalf("%d generations, want 1", c)
	}
})
