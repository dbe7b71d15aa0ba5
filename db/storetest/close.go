package storetest

import (
	"context"
	"testing"
	"time"

	"nanobanana/db"
)

// Closing twice is harmless, and a closed store answers every call with an error: it
// neither hangs nor panics (a request that arrives during shutdown).
var _ = register("CloseTwice", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u := addUser(t, d, "alice")
	g := create(t, d, u, "x")
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	closeAgain := make(chan struct{})
	go func() {
		defer close(closeAgain)
		_ = d.Close() // its answer may repeat the first's; it must return
	}()
	select {
	case <-closeAgain:
	case <-time.After(time.Minute):
		t.Fatal("a second Close has not returned after a minute")
	}
	for name, call := range map[string]func() error{
		"Ping":             func() error { return d.Ping(ctx) },
		"GetGeneration":    func() error { _, err := d.GetGeneration(ctx, u, g.ID); return err },
		"ListGenerations":  func() error { _, _, err := d.ListGenerations(ctx, u, db.ListFilter{}); return err },
		"EventsSince":      func() error { _, err := d.EventsSince(ctx, u, 0, 10); return err },
		"UserByLogin":      func() error { _, err := d.UserByLogin(ctx, "alice"); return err },
		"LastEventID":      func() error { _, err := d.LastEventID(ctx, u); return err },
		"CreateGeneration": func() error { _, err := d.CreateGeneration(ctx, u, params("y"), db.CreateOptions{}); return err },
		"CreateUser":       func() error { _, err := d.CreateUser(ctx, "bob", "bob@example.com", "h", false); return err },
		"ClaimJobs": func() error {
			_, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 1)
			return err
		},
		"LoginAttempt":     func() error { _, err := d.LoginAttempt(ctx, "k", "", testPolicy, time.Now()); return err },
		"ReclaimExpired":   func() error { _, err := d.ReclaimExpiredLeases(ctx); return err },
		"Raw":              func() error { return d.Raw(ctx, `DELETE FROM events`, nil) },
		"CancelGeneration": func() error { _, err := d.CancelGeneration(ctx, u, g.ID); return err },
	} {
		done := make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- errPanic{p}
				}
			}()
			done <- call()
		}()
		select {
		case err := <-done:
			if p, ok := err.(errPanic); ok {
				t.Errorf("%s after Close panicked: %v", name, p.v)
			} else if err == nil {
				t.Errorf("%s after Close succeeded; want an error", name)
			}
		case <-time.After(time.Minute): // a hang, not a slow machine
			t.Fatalf("%s after Close has not returned after a minute", name)
		}
	}
	// Subscribing still works, and ending the subscription too (streams end on their own).
	_, stop := d.Subscribe(u)
	stop()
})

type errPanic struct{ v any }

func (e errPanic) Error() string { return "panic" }
