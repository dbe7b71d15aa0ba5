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

	sh, got, err := d.SharedGeneration(ctx, forever.Token, "")
	if err != nil || sh.Token != forever.Token || got.ID != g.ID || got.Prompt != "a shared lighthouse" {
		t.Fatalf("SharedGeneration: %+v %+v %v", sh, got, err)
	}
	if _, _, err := d.SharedGeneration(ctx, forever.Token+"0", ""); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("an unknown token: %v", err)
	}
	if list, err := d.Shares(ctx, alice); err != nil || len(list) != 2 || list[0].Token != hour.Token || list[1].Token != forever.Token {
		t.Fatalf("alice's links, newest first: %+v %v", list, err)
	}
	if list, err := d.Shares(ctx, bob); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("bob's links: %#v %v; want empty, not nil", list, err)
	}

	// Expiry: the link stops at its time.
	if _, _, err := d.SharedGeneration(ctx, hour.Token, ""); err != nil {
		t.Fatalf("before its expiry: %v", err)
	}
	advance(time.Hour)
	if _, _, err := d.SharedGeneration(ctx, hour.Token, ""); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("at its expiry: %v", err)
	}

	// Revocation: not by another user; then at once.
	if err := d.DeleteShare(ctx, bob, forever.Token); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob revokes alice's link: %v", err)
	}
	if err := d.DeleteShare(ctx, alice, forever.Token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.SharedGeneration(ctx, forever.Token, ""); !errors.Is(err, db.ErrNotFound) {
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
	if _, _, err := d.SharedGeneration(ctx, last.Token, ""); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a disabled owner's link: %v", err)
	}
	if _, err := d.SetDisabled(ctx, alice, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.SharedGeneration(ctx, last.Token, ""); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
	if _, err := d.DeleteGeneration(ctx, alice, other.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, `SELECT count(*) FROM shares WHERE generation_id = ?`, other.ID); n != 0 {
		t.Fatalf("%d links outlive their image", n)
	}
})

var _ = register("SharesOfBoards", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")
	on, off := create(t, d, alice, "on the board"), create(t, d, alice, "not on the board")
	b, err := d.CreateBoard(ctx, alice, "trip")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddToBoard(ctx, alice, b.ID, on.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateShare(ctx, db.Share{Token: db.NewID(), UserID: bob, BoardID: b.ID}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob shares alice's board: %v", err)
	}
	sh, err := d.CreateShare(ctx, db.Share{Token: db.NewID(), UserID: alice, BoardID: b.ID})
	if err != nil || sh.BoardID != b.ID || sh.GenerationID != "" {
		t.Fatalf("board link: %+v %v", sh, err)
	}
	if live, err := d.LiveShare(ctx, sh.Token); err != nil || live.BoardID != b.ID {
		t.Fatalf("LiveShare: %+v %v", live, err)
	}
	// Only the board's images are reachable through its link.
	if _, g, err := d.SharedGeneration(ctx, sh.Token, on.ID); err != nil || g.ID != on.ID {
		t.Fatalf("an image on the board: %+v %v", g, err)
	}
	for _, id := range []string{off.ID, ""} {
		if _, _, err := d.SharedGeneration(ctx, sh.Token, id); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("image %q not on the board: %v", id, err)
		}
	}
	// An image link answers its own image only.
	img, err := d.CreateShare(ctx, db.Share{Token: db.NewID(), UserID: alice, GenerationID: off.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.SharedGeneration(ctx, img.Token, on.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("another image through an image link: %v", err)
	}
	if _, _, err := d.SharedGeneration(ctx, img.Token, off.ID); err != nil {
		t.Fatalf("the image through its link by id: %v", err)
	}
	// Taken off the board, an image is no longer shown; deleting the board ends its links.
	if err := d.RemoveFromBoard(ctx, alice, b.ID, on.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.SharedGeneration(ctx, sh.Token, on.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("an image taken off the board: %v", err)
	}
	if err := d.DeleteBoard(ctx, alice, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LiveShare(ctx, sh.Token); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a deleted board's link: %v", err)
	}
})
