package db

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func TestFirstUserIsAdminAndNamesAreCaseInsensitive(t *testing.T) {
	d := MustOpen(t)
	ctx := context.Background()
	a, err := d.CreateUser(ctx, "Alice", "alice@example.com", "h", false)
	if err != nil || !a.IsAdmin {
		t.Fatalf("first user: %+v %v; want admin", a, err)
	}
	b, err := d.CreateUser(ctx, "bob", "bob@example.com", "h", false)
	if err != nil || b.IsAdmin {
		t.Fatalf("second user: %+v %v; want not admin", b, err)
	}
	if _, err := d.CreateUser(ctx, "ALICE", "other@example.com", "h", false); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate username in other case: %v; want ErrConflict", err)
	}
	if _, err := d.CreateUser(ctx, "carol", "BOB@example.com", "h", false); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate email in other case: %v; want ErrConflict", err)
	}
	u, err := d.UserByLogin(ctx, "aLiCe@EXAMPLE.com")
	if err != nil || u.ID != a.ID {
		t.Errorf("login by email: %v %v", u, err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	d := MustOpen(t)
	ctx := context.Background()
	u, _ := d.CreateUser(ctx, "alice", "a@example.com", "h", false)
	if err := d.AddRefreshToken(ctx, u.ID, "fam", "t1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.RotateRefreshToken(ctx, "t1", "t2", time.Hour); err != nil {
		t.Fatal(err)
	}
	// t1 is spent: presenting it again revokes the family, t2 included.
	if _, _, err := d.RotateRefreshToken(ctx, "t1", "t3", time.Hour); !errors.Is(err, ErrTokenReused) {
		t.Fatalf("reuse: %v; want ErrTokenReused", err)
	}
	if _, _, err := d.RotateRefreshToken(ctx, "t2", "t4", time.Hour); !errors.Is(err, ErrNotFound) {
		t.Fatalf("t2 after reuse: %v; want revoked", err)
	}
}

func TestAPIKeyIsSealed(t *testing.T) {
	d := MustOpen(t)
	ctx := context.Background()
	s, err := NewSealer("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := d.CreateUser(ctx, "alice", "a@example.com", "h", false)
	b, _ := d.CreateUser(ctx, "bob", "b@example.com", "h", false)
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
	// Moving the sealed value to another user's row must not open it.
	if _, err := d.exec(ctx, "UPDATE users SET api_key_sealed = (SELECT api_key_sealed FROM users WHERE id = ?) WHERE id = ?", a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.APIKey(ctx, s, b.ID); err == nil {
		t.Error("a sealed key copied to another user opened")
	}
	other, _ := NewSealer("another-secret-another-secret-123456")
	if _, err := d.APIKey(ctx, other, a.ID); err == nil {
		t.Error("a sealed key opened with another secret")
	}
	if d.pg {
		// The server's files are not ours to read: look at what it stores instead.
		var n int
		if err := d.queryRow(ctx, `SELECT count(*) FROM users WHERE position(? IN api_key_sealed) > 0
			OR api_key_last4 <> '1234'`, []byte("PlaintextShouldNeverBeOnDisk")).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows holding the plaintext: %d (%v)", n, err)
		}
		return
	}
	d.W.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	for _, f := range []string{d.Path, d.Path + "-wal"} {
		raw, _ := os.ReadFile(f)
		if bytes.Contains(raw, []byte("PlaintextShouldNeverBeOnDisk")) {
			t.Fatalf("%s holds the plaintext key", f)
		}
	}
}
