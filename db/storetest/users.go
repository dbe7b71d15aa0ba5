package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"nanobanana/db"
)

var _ = register("FirstUserIsAdminAndNamesAreCaseInsensitive", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a, err := d.CreateUser(ctx, "Alice", "alice@example.com", "h", false)
	if err != nil || !a.IsAdmin {
		t.Fatalf("first user: %+v %v; want admin", a, err)
	}
	b, err := d.CreateUser(ctx, "bob", "bob@example.com", "h", false)
	if err != nil || b.IsAdmin {
		t.Fatalf("second user: %+v %v; want not admin", b, err)
	}
	if c, err := d.CreateUser(ctx, "carol", "carol@example.com", "h", true); err != nil || !c.IsAdmin {
		t.Errorf("forced admin: %+v %v", c, err)
	}
	_, err = d.CreateUser(ctx, "ALICE", "other@example.com", "h", false)
	if !errors.Is(err, db.ErrConflict) || db.CodeOf(err) != db.CodeUsernameTaken {
		t.Errorf("duplicate username in other case: %v (code %s); want %s", err, db.CodeOf(err), db.CodeUsernameTaken)
	}
	_, err = d.CreateUser(ctx, "dave", "BOB@example.com", "h", false)
	if !errors.Is(err, db.ErrConflict) || db.CodeOf(err) != db.CodeEmailTaken {
		t.Errorf("duplicate email in other case: %v (code %s); want %s", err, db.CodeOf(err), db.CodeEmailTaken)
	}
	u, err := d.UserByLogin(ctx, "aLiCe@EXAMPLE.com")
	if err != nil || u.ID != a.ID {
		t.Errorf("login by email: %+v %v", u, err)
	}
	if u, err := d.UserByLogin(ctx, "BOB"); err != nil || u.ID != b.ID || u.PasswordHash != "h" {
		t.Errorf("login by username: %+v %v", u, err)
	}
	if _, err := d.UserByLogin(ctx, "nobody"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown login: %v", err)
	}
	if _, err := d.UserByID(ctx, 999999); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	all, err := d.ListUsers(ctx)
	if err != nil || len(all) != 3 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Errorf("list users: %+v %v; want alice, bob, carol", all, err)
	}
})

var _ = register("RefreshRotationAndReuse", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u, err := d.CreateUser(ctx, "alice", "a@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddRefreshToken(ctx, u.ID, "fam", "t1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if uid, fam, err := d.RotateRefreshToken(ctx, "t1", "t2", time.Hour); err != nil || uid != u.ID || fam != "fam" {
		t.Fatalf("rotate: %d %q %v", uid, fam, err)
	}
	if uid, fam, err := d.RefreshFamily(ctx, "t2"); err != nil || uid != u.ID || fam != "fam" {
		t.Fatalf("family of the new token: %d %q %v", uid, fam, err)
	}
	if _, _, err := d.RefreshFamily(ctx, "t1"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("family of the spent token: %v; want ErrNotFound", err)
	}
	// t1 is spent: presenting it again revokes the family, t2 included.
	if _, _, err := d.RotateRefreshToken(ctx, "t1", "t3", time.Hour); !errors.Is(err, db.ErrTokenReused) {
		t.Fatalf("reuse: %v; want ErrTokenReused", err)
	}
	if _, _, err := d.RotateRefreshToken(ctx, "t2", "t4", time.Hour); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("t2 after reuse: %v; want revoked", err)
	}
	if _, _, err := d.RotateRefreshToken(ctx, "never-issued", "t5", time.Hour); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	// An expired token does not rotate.
	if err := d.AddRefreshToken(ctx, u.ID, "fam2", "short", -time.Second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.RotateRefreshToken(ctx, "short", "t6", time.Hour); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("expired token: %v; want ErrNotFound", err)
	}
})

// Each way of ending sessions ends the ones it names and bumps the token version, which
// ends every access token at once.
var _ = register("SessionsEnd", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u, err := d.CreateUser(ctx, "alice", "a@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	version := func() int64 {
		t.Helper()
		got, err := d.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.TokenVersion
	}
	live := func(token string) bool {
		t.Helper()
		_, _, err := d.RefreshFamily(ctx, token)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	for _, f := range []string{"a", "b"} {
		if err := d.AddRefreshToken(ctx, u.ID, f, "tok-"+f, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	v0 := version()
	// A password change keeps the caller's own session only.
	if err := d.SetPassword(ctx, u.ID, "h2", "a"); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != v0+1 || !live("tok-a") || live("tok-b") {
		t.Fatalf("after a password change: version %d (was %d), a live %v, b live %v", v, v0, live("tok-a"), live("tok-b"))
	}
	if got, _ := d.UserByID(ctx, u.ID); got.PasswordHash != "h2" {
		t.Fatalf("password hash %q", got.PasswordHash)
	}
	if err := d.SignOutEverywhere(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != v0+2 || live("tok-a") {
		t.Fatalf("after signing out everywhere: version %d, a live %v", v, live("tok-a"))
	}
	if err := d.AddRefreshToken(ctx, u.ID, "c", "tok-c", time.Hour); err != nil {
		t.Fatal(err)
	}
	if uid, err := d.RevokeRefreshFamily(ctx, "tok-c"); err != nil || uid != u.ID || live("tok-c") {
		t.Fatalf("revoke: %d %v, still live %v", uid, err, live("tok-c"))
	}
	if _, err := d.RevokeRefreshFamily(ctx, "never-issued"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("revoke an unknown token: %v", err)
	}
	if err := d.AddRefreshToken(ctx, u.ID, "d", "tok-d", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.UserByID(ctx, u.ID); !got.Disabled || got.TokenVersion != v0+3 || live("tok-d") {
		t.Fatalf("disabled: %+v, session live %v", got, live("tok-d"))
	}
	if _, err := d.SetDisabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.UserByID(ctx, u.ID); got.Disabled {
		t.Fatal("still disabled after enabling")
	}
	_, errDisable := d.SetDisabled(ctx, 999999, true)
	for name, err := range map[string]error{
		"SetPassword":       d.SetPassword(ctx, 999999, "h", ""),
		"SetDisabled":       errDisable,
		"SignOutEverywhere": d.SignOutEverywhere(ctx, 999999),
	} {
		if !errors.Is(err, db.ErrNotFound) {
			t.Errorf("%s of an unknown user: %v; want ErrNotFound", name, err)
		}
	}
	// Spent and revoked tokens are kept for reuse detection until long expired.
	if n, err := d.PruneRefreshTokens(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("prune tokens that have not expired: %d %v", n, err)
	}
	if n, err := d.PruneRefreshTokens(ctx, -2*time.Hour); err != nil || n != 4 {
		t.Fatalf("prune every token expired an hour before now+2h: %d %v; want 4", n, err)
	}
})

var _ = register("APIKeyIsSealed", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	s, err := db.NewSealer("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := d.CreateUser(ctx, "alice", "a@example.com", "h", false)
	b, _ := d.CreateUser(ctx, "bob", "b@example.com", "h", false)
	if key, err := d.APIKey(ctx, s, a.ID); err != nil || key != "" {
		t.Fatalf("no key set: %q %v", key, err)
	}
	const key = "r8_PlaintextShouldNeverBeOnDisk1234"
	if err := d.SetAPIKey(ctx, s, a.ID, key, true); err != nil {
		t.Fatal(err)
	}
	got, err := d.APIKey(ctx, s, a.ID)
	if err != nil || got != key {
		t.Fatalf("round trip: %q %v", got, err)
	}
	u, _ := d.UserByID(ctx, a.ID)
	if !u.HasAPIKey || u.APIKeyLast4 != "1234" || !u.APIKeyVerified {
		t.Errorf("user row: %+v", u)
	}
	// What the database holds is not the plaintext.
	var sealed []byte
	if err := d.Raw(ctx, `SELECT api_key_sealed FROM users WHERE id = ?`, []any{a.ID}, &sealed); err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 || bytes.Contains(sealed, []byte("PlaintextShouldNeverBeOnDisk")) {
		t.Fatalf("stored key %q holds the plaintext (or nothing)", sealed)
	}
	// Moving the sealed value to another user's row must not open it.
	if err := d.Raw(ctx, `UPDATE users SET api_key_sealed = (SELECT api_key_sealed FROM users WHERE id = ?) WHERE id = ?`,
		[]any{a.ID, b.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.APIKey(ctx, s, b.ID); err == nil {
		t.Error("a sealed key copied to another user opened")
	}
	other, _ := db.NewSealer("another-secret-another-secret-123456")
	if _, err := d.APIKey(ctx, other, a.ID); err == nil {
		t.Error("a sealed key opened with another secret")
	}
	if err := d.ClearAPIKey(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if u, _ := d.UserByID(ctx, a.ID); u.HasAPIKey || u.APIKeyLast4 != "" || u.APIKeyVerified {
		t.Errorf("after clearing: %+v", u)
	}
	if key, err := d.APIKey(ctx, s, a.ID); err != nil || key != "" {
		t.Errorf("key after clearing: %q %v", key, err)
	}
	if _, err := d.APIKey(ctx, s, 999999); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("key of an unknown user: %v", err)
	}
})
