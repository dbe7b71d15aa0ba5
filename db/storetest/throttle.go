package storetest

import (
	"context"
	"testing"
	"time"

	"nanobanana/db"
)

var _ = register("LoginFailuresCountInWindows", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	now := time.UnixMilli(1_800_000_000_000)
	const limit, window = 3, 15 * time.Minute
	for i := range limit {
		if wait, fails, err := d.LoginBlocked(ctx, "acct:alice", limit, now); err != nil || wait != 0 || fails != i {
			t.Fatalf("before failure %d: wait %v, %d failures, %v", i+1, wait, fails, err)
		}
		if err := d.LoginFailed(ctx, "acct:alice", window, now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	at := now.Add(5 * time.Minute)
	if wait, fails, err := d.LoginBlocked(ctx, "acct:alice", limit, at); err != nil || wait != 10*time.Minute || fails != limit {
		t.Fatalf("after %d failures: wait %v, %d failures, %v; want the rest of the window, 10m", limit, wait, fails, err)
	}
	if wait, _, _ := d.LoginBlocked(ctx, "acct:bob", limit, at); wait != 0 {
		t.Fatalf("another key is blocked too: %v", wait)
	}
	// The window ends: a new failure opens a new one with one failure in it.
	later := now.Add(window)
	if wait, _, _ := d.LoginBlocked(ctx, "acct:alice", limit, later); wait != 0 {
		t.Fatalf("still blocked after the window: %v", wait)
	}
	if err := d.LoginFailed(ctx, "acct:alice", window, later); err != nil {
		t.Fatal(err)
	}
	if wait, fails, _ := d.LoginBlocked(ctx, "acct:alice", 2, later); wait != 0 || fails != 1 {
		t.Fatalf("one failure in the new window: wait %v, %d failures; want no wait, 1", wait, fails)
	}
	if err := d.LoginSucceeded(ctx, "acct:alice"); err != nil {
		t.Fatal(err)
	}
	if err := d.LoginFailed(ctx, "acct:alice", window, later); err != nil {
		t.Fatal(err)
	}
	if wait, fails, _ := d.LoginBlocked(ctx, "acct:alice", 2, later); wait != 0 || fails != 1 {
		t.Fatalf("a success did not forget the failures before it: wait %v, %d failures", wait, fails)
	}
	if n, err := d.PruneLoginFailures(ctx, later.Add(window)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
})
