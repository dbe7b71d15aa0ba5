package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"nanobanana/db"
)

// A read whose caller has gone away stops with the context's error instead of running
// (a list request whose client hung up), and a write not yet started is withdrawn:
// nothing of it is stored. (A read interrupted while it runs is each engine's test:
// that needs a query that runs long enough, which only the engine can write.)
var _ = register("ReadStopsWhenContextEnds", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	u := addUser(t, d, "alice")
	g := create(t, d, u, "x")
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"past its deadline", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, context.DeadlineExceeded},
	} {
		ctx, cancel := c.ctx()
		defer cancel()
		for name, call := range map[string]func() error{
			"ListGenerations": func() error { _, _, err := d.ListGenerations(ctx, u, db.ListFilter{}); return err },
			"GetGeneration":   func() error { _, err := d.GetGeneration(ctx, u, g.ID); return err },
			"EventsSince":     func() error { _, err := d.EventsSince(ctx, u, 0, 10); return err },
			"UserByID":        func() error { _, err := d.UserByID(ctx, u); return err },
			"QueueCounts":     func() error { _, err := d.QueueCounts(ctx); return err },
			"Ping":            func() error { return d.Ping(ctx) },
			"ListUsers":       func() error { _, err := d.ListUsers(ctx); return err },
			"CreateGeneration": func() error {
				_, err := d.CreateGeneration(ctx, u, params("withdrawn"), db.CreateOptions{})
				return err
			},
			"CancelGeneration": func() error { _, err := d.CancelGeneration(ctx, u, g.ID); return err },
			"ClaimJobs": func() error {
				_, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 1)
				return err
			},
		} {
			done := make(chan error, 1)
			go func() { done <- call() }()
			select {
			case err := <-done:
				if !errors.Is(err, c.want) {
					t.Errorf("%s with a context %s: %v; want %v", name, c.name, err, c.want)
				}
			case <-time.After(time.Minute): // a hang, not a slow machine
				t.Fatalf("%s with a context %s has not returned after a minute", name, c.name)
			}
		}
	}
	// Nothing the withdrawn writes would have done was done.
	ctx := context.Background()
	got, err := d.GetGeneration(ctx, u, g.ID)
	if err != nil || got.Status != db.StatusPending {
		t.Fatalf("the generation after withdrawn writes: %+v %v", got, err)
	}
	if page, _, err := d.ListGenerations(ctx, u, db.ListFilter{}); err != nil || len(page) != 1 {
		t.Fatalf("generations after withdrawn writes: %d %v; want the one created before", len(page), err)
	}
	if evs, err := d.EventsSince(ctx, u, 0, 10); err != nil || len(evs) != 1 {
		t.Fatalf("events after withdrawn writes: %+v %v; want the first only", evs, err)
	}
})
