package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"nanobanana/db"
)

var _ = register("AccessTokensLifecycle", func(t *testing.T, open Opener) {
	clock, advance := fixedClock(time.UnixMilli(1_800_000_000_000).UTC())
	d := open(t, db.Options{Now: clock})
	ctx := context.Background()
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")
	const secret = "nbp_secret-of-alice-0123456789"
	tok, err := d.CreateAccessToken(ctx, db.AccessToken{UserID: alice, Name: "backup script", Prefix: "nbp_secr",
		Scopes: []string{"read", "generate"}}, secret)
	if err != nil {
		t.Fatal(err)
	}
	if tok.ID == 0 || tok.Name != "backup script" || !slices.Equal(tok.Scopes, []string{"read", "generate"}) ||
		!tok.CreatedAt.Equal(clock()) || !tok.ExpiresAt.IsZero() || !tok.LastUsedAt.IsZero() {
		t.Fatalf("created %+v", tok)
	}
	// The secret is not stored in clear.
	var n int
	if err := d.Raw(ctx, `SELECT count(*) FROM access_tokens WHERE token_hash = ? OR prefix = ? OR name = ?`,
		[]any{[]byte(secret), secret, secret}, &n); err != nil || n != 0 {
		t.Fatalf("the secret is stored in clear: %d rows, %v", n, err)
	}

	u, got, err := d.UserForAccessToken(ctx, secret)
	if err != nil || u.ID != alice || got.ID != tok.ID {
		t.Fatalf("UserForAccessToken: %+v %+v %v", u, got, err)
	}
	if _, _, err := d.UserForAccessToken(ctx, secret+"x"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a wrong secret: %v", err)
	}

	// A use is recorded, and a second one soon after is not written.
	used := clock()
	if err := d.TouchAccessToken(ctx, tok.ID, used, used.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	advance(10 * time.Second)
	if err := d.TouchAccessToken(ctx, tok.ID, clock(), clock().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, err := d.AccessTokens(ctx, alice)
	if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(used) {
		t.Fatalf("list after uses: %+v %v; want last used %v", list, err, used)
	}

	// An expiring token stops at its expiry.
	exp, err := d.CreateAccessToken(ctx, db.AccessToken{UserID: alice, Name: "short", Prefix: "nbp_shor",
		Scopes: []string{"read"}, ExpiresAt: clock().Add(time.Hour)}, "nbp_short-lived")
	if err != nil || !exp.ExpiresAt.Equal(clock().Add(time.Hour)) {
		t.Fatalf("expiring token: %+v %v", exp, err)
	}
	if _, _, err := d.UserForAccessToken(ctx, "nbp_short-lived"); err != nil {
		t.Fatalf("before its expiry: %v", err)
	}
	advance(time.Hour)
	if _, _, err := d.UserForAccessToken(ctx, "nbp_short-lived"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("at its expiry: %v", err)
	}
	if list, _ := d.AccessTokens(ctx, alice); len(list) != 2 || list[0].ID != exp.ID {
		t.Fatalf("list, newest first: %+v", list)
	}
	if list, err := d.AccessTokens(ctx, bob); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("bob's list: %#v %v; want empty, not nil", list, err)
	}

	// Revocation: not by another user; then the secret finds nothing.
	if err := d.DeleteAccessToken(ctx, bob, tok.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob revokes alice's token: %v", err)
	}
	if err := d.DeleteAccessToken(ctx, alice, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.UserForAccessToken(ctx, secret); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a revoked token: %v", err)
	}
	if err := d.DeleteAccessToken(ctx, alice, tok.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("revoked twice: %v", err)
	}
})
