package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"nanobanana/db"
)

var _ = register("SharesLifecycle", func(t *testing.T, open Opener) {
	clock, advance := fixedClock(time.UnixMilli(1_800_000_000_000).UTC())
	d := open(t, db.Options{Now: clock})
	ctx := context.Background()
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")
	g := create(t, d, alice, "a shared lighthouse")
	other := create(t, d, alice, "kept to herself")

	// Only the owner can share an image; a missing one cannot be shared.
	if _, err := d.CreateShare(ctx, db.Share{Token: db.NewID(), UserID: bob, GenerationID: g.ID}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob shares alice's image: %v", err)
	}
	if _, err := d.CreateShare(ctx, db.Share{Token: db.NewID(), UserID: alice, GenerationID: db.NewTimeID()}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a missing image: %v", err)
	}
	forever, err := d.CreateShare(ctx, db.Share{Token: db.NewID(), UserID: alice, GenerationID: g.ID})
	if err != nil || forever.GenerationID != g.ID || forever.UserID != alice || !forever.CreatedAt.Equal(clock()) || !forever.ExpiresAt.IsZero() {
		t.Fatalf("created %+v %v", forever, err)
	}
	advance(time.Second)
	hour, err := d.CreateShare(ctx, db.Share{Token: db.NewID(), UserID: alice, GenerationID: g.ID, ExpiresAt: clock().Add(time.Hour)})
	if err != nil || !hour.ExpiresAt.Equal(clock().Add(time.Hour)) {
		t.Fatalf("expiring link: %+v %v", hour, err)
	}

	sh, got, err := d.SharedGeneration(ctx, forever.Token)
	if err != nil || sh.Token != forever.Token || got.ID != g.ID || got.Prompt != "a shared lighthouse" {
		t.Fatalf("SharedGeneration: %+v %+v %v", sh, got, err)
	}
	if _, _, err := d.SharedGeneration(ctx, forever.Token+"0"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("an unknown token: %v", err)
	}
	if list, err := d.Shares(ctx, alice); err != nil || len(list) != 2 || list[0].Token != hour.Token || list[1].Token != forever.Token {
		t.Fatalf("alice's links, newest first: %+v %v", list, err)
	}
	if list, err := d.Shares(ctx, bob); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("bob's links: %#v %v; want empty, not nil", list, err)
	}

	// Expiry: the link stops at its time.
	if _, _, err := d.SharedGeneration(ctx, hour.Token); err != nil {
		t.Fatalf("before its expiry: %v", err)
	}
	advance(time.Hour)
	if _, _, err := d.SharedGeneration(ctx, hour.Token); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("at its expiry: %v", err)
	}

	// Revocation: not by another user; then at once.
	if err := d.DeleteShare(ctx, bob, forever.Token); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob revokes alice's link: %v", err)
	}
	if err := d.DeleteShare(ctx, alice, forever.Token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.SharedGeneration(ctx, forever.Token); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a revoked link: %v", err)
	}
	if err := d.DeleteShare(ctx, alice, forever.Token); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("revoked twice: %v", err)
	}

	// A disabled owner's links stop; deleting the image takes its links.
	last, err := d.CreateShare(ctx, db.Share{Token: db.NewID(), UserID: alice, GenerationID: other.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetDisabled(ctx, alice, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.SharedGeneration(ctx, last.Token); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a disabled owner's link: %v", err)
	}
	if _, err := d.SetDisabled(ctx, alice, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.SharedGeneration(ctx, last.Token); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
	if _, err := d.DeleteGeneration(ctx, alice, other.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, `SELECT count(*) FROM shares WHERE generation_id = ?`, other.ID); n != 0 {
		t.Fatalf("%d links outlive their image", n)
	}
})
