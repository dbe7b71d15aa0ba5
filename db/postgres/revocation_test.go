package postgres

import (
	"context"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/internal/pgtest"
)

// A revocation made through one process reaches the event streams of another at once:
// each kind signals the user's subscribers there (migration 0007), as an event does, so
// the streams check their callers again.
func TestRevocationsReachOtherProcesses(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn, db.Options{}), openPG(t, dsn, db.Options{})
	ctx := context.Background()
	u := addUser(t, a, "revoked")
	if err := a.AddRefreshToken(ctx, u, "fam", "tok", time.Hour); err != nil {
		t.Fatal(err)
	}
	wake, stop := b.Subscribe(u)
	defer stop()
	signalled := func(what string) {
		t.Helper()
		select {
		case <-wake:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s through one process did not signal the other", what)
		}
	}
	for _, c := range []struct {
		what string
		do   func() error
	}{
		{"a sign-out", func() error { _, err := a.RevokeRefreshFamily(ctx, "tok"); return err }},
		{"a password change", func() error { return a.SetPassword(ctx, u, "h2", "") }},
		{"sign out everywhere", func() error { return a.SignOutEverywhere(ctx, u) }},
		{"a disable", func() error { _, err := a.SetDisabled(ctx, u, true); return err }},
	} {
		// Drain a signal left by the previous case's own writes.
		select {
		case <-wake:
		default:
		}
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		signalled(c.what)
	}
	// And the session check reads the revocation in the other process at once.
	if _, err := b.UserForSession(ctx, u, "fam"); db.CodeOf(err) != db.CodeSessionEnded {
		t.Errorf("the ended session read in the other process: %v", err)
	}
}

// A setting stored through one process is announced to the others at once (migration
// 0014's trigger): their SettingsVersion moves, and they read the new value.
func TestSettingsReachOtherProcesses(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn, db.Options{}), openPG(t, dsn, db.Options{})
	ctx := context.Background()
	for _, c := range []struct {
		what string
		do   func() error
		want string
	}{
		{"a put", func() error { return a.PutSetting(ctx, "queue_paused", []byte(`true`), 0) }, "true"},
		{"a delete", func() error { return a.DeleteSetting(ctx, "queue_paused") }, ""},
	} {
		before := b.SettingsVersion()
		if err := c.do(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for b.SettingsVersion() == before {
			if time.Now().After(deadline) {
				t.Fatalf("%s through one process did not reach the other", c.what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		m, err := b.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m["queue_paused"]) != c.want {
			t.Errorf("after %s the other process reads queue_paused=%s, want %q", c.what, m["queue_paused"], c.want)
		}
	}
}
