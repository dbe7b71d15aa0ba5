package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"nanobanana/db"
)

var _ = register("InvitationsAreSingleUseAndExpire", func(t *testing.T, open Opener) {
	clock, advance := fixedClock(time.UnixMilli(1_800_000_000_000).UTC())
	d := open(t, db.Options{Now: clock})
	ctx := context.Background()
	first, err := d.Register(ctx, db.NewAccount{Username: "root", Email: "root@example.com", PasswordHash: "x", Unapproved: true})
	if err != nil || !first.IsAdmin || !first.Approved {
		t.Fatalf("the first account: %+v %v; want admin and approved", first, err)
	}
	inv, err := d.CreateInvitation(ctx, db.Invitation{CreatedBy: first.ID, Note: "for ann", ExpiresAt: clock().Add(time.Hour)}, "tok-ann")
	if err != nil || inv.ID == 0 || inv.CreatedByName != "root" || inv.State(clock()) != "open" {
		t.Fatalf("created %+v %v", inv, err)
	}
	if n := count(t, d, `SELECT count(*) FROM invitations WHERE token_hash = ?`, []byte("tok-ann")); n != 0 {
		t.Fatal("the invitation's token is stored in clear")
	}
	// Two sign-ups with one invitation at once: exactly one account.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"ann", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = d.Register(ctx, db.NewAccount{Username: name, Email: name + "@example.com", PasswordHash: "x", Invitation: "tok-ann", Unapproved: true})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case db.CodeOf(err) != db.CodeInvitationInvalid:
			t.Fatalf("second sign-up: %v, want invitation_invalid", err)
		}
	}
	if ok != 1 || count(t, d, `SELECT count(*) FROM users`) != 2 {
		t.Fatalf("%d sign-ups with one invitation succeeded", ok)
	}
	list, err := d.Invitations(ctx, 0)
	if err != nil || len(list) != 1 || list[0].State(clock()) != "used" || list[0].UsedByName == "" {
		t.Fatalf("after use: %+v %v", list, err)
	}
	u, err := d.UserByLogin(ctx, list[0].UsedByName)
	if err != nil || u.Approved || u.IsAdmin {
		t.Fatalf("the invited account: %+v %v; want not approved, not admin", u, err)
	}
	if err := d.SetApproved(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if u, _ = d.UserByID(ctx, u.ID); !u.Approved {
		t.Fatal("approval not stored")
	}
	if err := d.RevokeInvitation(ctx, inv.ID); db.CodeOf(err) != db.CodeConflict {
		t.Fatalf("revoking a used invitation: %v", err)
	}

	// Expiry and revocation.
	late, _ := d.CreateInvitation(ctx, db.Invitation{ExpiresAt: clock().Add(time.Hour)}, "tok-late")
	gone, _ := d.CreateInvitation(ctx, db.Invitation{ExpiresAt: clock().Add(3 * time.Hour)}, "tok-gone")
	if err := d.RevokeInvitation(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Hour)
	for _, tok := range []string{"tok-late", "tok-gone", "tok-none"} {
		if _, err := d.Register(ctx, db.NewAccount{Username: "u-" + tok, Email: tok + "@example.com", PasswordHash: "x", Invitation: tok}); db.CodeOf(err) != db.CodeInvitationInvalid {
			t.Errorf("sign-up with %s: %v, want invitation_invalid", tok, err)
		}
	}
	list, _ = d.Invitations(ctx, 0)
	states := map[int64]string{}
	for _, i := range list {
		states[i.ID] = i.State(clock())
	}
	if states[late.ID] != "expired" || states[gone.ID] != "revoked" {
		t.Fatalf("states %v", states)
	}
	if err := d.RevokeInvitation(ctx, 99999); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("revoking an unknown invitation: %v", err)
	}
})

var _ = register("AdminFlagAndUserSearch", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	root, _ := d.Register(ctx, db.NewAccount{Username: "root", Email: "root@example.com", PasswordHash: "x"})
	for _, n := range []string{"alice", "alan", "bob", "al_x", "alpha"} {
		if _, err := d.Register(ctx, db.NewAccount{Username: n, Email: n + "@mail.example.com", PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.SetAdmin(ctx, root.ID, false); db.CodeOf(err) != db.CodeLastAdmin {
		t.Fatalf("removing the last admin: %v", err)
	}
	bob, _ := d.UserByLogin(ctx, "bob")
	if err := d.SetAdmin(ctx, bob.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAdmin(ctx, root.ID, false); err != nil {
		t.Fatalf("removing an admin while another is left: %v", err)
	}
	if err := d.SetAdmin(ctx, 99999, true); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	// Prefix search, paged; _ is a character, not a wildcard.
	var names []string
	cursor := ""
	for range 5 {
		page, next, err := d.SearchUsers(ctx, db.UserFilter{Query: "AL", Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page {
			names = append(names, u.Username)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if strings.Join(names, ",") != "alice,alan,al_x,alpha" {
		t.Fatalf("search al: %v", names)
	}
	page, _, _ := d.SearchUsers(ctx, db.UserFilter{Query: "al_"})
	if len(page) != 1 || page[0].Username != "al_x" {
		t.Fatalf("search al_: %+v", page)
	}
	page, _, _ = d.SearchUsers(ctx, db.UserFilter{Query: "bob@mail"})
	if len(page) != 1 {
		t.Fatalf("search by email: %+v", page)
	}
	if _, _, err := d.SearchUsers(ctx, db.UserFilter{Cursor: "x"}); !errors.Is(err, db.ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
})

var _ = register("AuditLogFiltersPagesAndPrunes", func(t *testing.T, open Opener) {
	clock, advance := fixedClock(time.UnixMilli(1_800_000_000_000).UTC())
	d := open(t, db.Options{Now: clock})
	ctx := context.Background()
	start := clock()
	for i := range 6 {
		actor := "root"
		if i%2 == 1 {
			actor = "Ann"
		}
		if err := d.AddAudit(ctx, db.AuditEntry{Action: "user.disable", ActorID: 1, Actor: actor, SubjectID: 2, Subject: "bob",
			Client: "127.0.0.1", Detail: json.RawMessage(`{"n":` + string(rune('0'+i)) + `}`)}); err != nil {
			t.Fatal(err)
		}
		advance(time.Hour)
	}
	if err := d.AddAudit(ctx, db.AuditEntry{Action: "auth.login"}); err != nil {
		t.Fatal(err)
	}
	all, next, err := d.AuditLog(ctx, db.AuditFilter{})
	if err != nil || len(all) != 7 || next != "" || all[0].Action != "auth.login" || string(all[0].Detail) != "{}" {
		t.Fatalf("all: %+v %q %v", all, next, err)
	}
	ann, _, _ := d.AuditLog(ctx, db.AuditFilter{Actor: "ann", Action: "user.disable"})
	if len(ann) != 3 || ann[0].Actor != "Ann" || ann[0].Client != "127.0.0.1" || ann[0].SubjectID != 2 {
		t.Fatalf("actor ann: %+v", ann)
	}
	window, _, _ := d.AuditLog(ctx, db.AuditFilter{Subject: "BOB", From: start.Add(time.Hour), To: start.Add(3 * time.Hour)})
	if len(window) != 2 {
		t.Fatalf("from/to: %+v", window)
	}
	var paged []int64
	cursor := ""
	for range 10 {
		page, n, err := d.AuditLog(ctx, db.AuditFilter{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			paged = append(paged, e.ID)
		}
		if cursor = n; cursor == "" {
			break
		}
	}
	if len(paged) != 7 || paged[0] <= paged[6] {
		t.Fatalf("pages: %v", paged)
	}
	n, err := d.PruneAudit(ctx, start.Add(2*time.Hour+time.Minute))
	if err != nil || n != 3 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if left, _, _ := d.AuditLog(ctx, db.AuditFilter{}); len(left) != 4 {
		t.Fatalf("after prune: %d entries", len(left))
	}
})

var _ = register("QueueOfAllUsers", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	a, b := addUser(t, d, "alice"), addUser(t, d, "bob")
	g1 := create(t, d, a, "one")
	create(t, d, b, "two")
	done := create(t, d, b, "three")
	if _, err := d.CancelGeneration(ctx, b, done.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 1, 1); err != nil {
		t.Fatal(err)
	}
	q, err := d.QueueOfAll(ctx, 0)
	if err != nil || len(q) != 2 {
		t.Fatalf("queue: %+v %v", q, err)
	}
	if q[0].GenerationID != g1.ID || q[0].Username != "alice" || q[0].Status != db.StatusRunning || q[0].Attempts != 1 ||
		q[1].Username != "bob" || q[1].Status != db.StatusPending {
		t.Fatalf("queue: %+v", q)
	}
})
