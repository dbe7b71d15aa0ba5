package db

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MustOpen opens a fresh database (see openTestDB) and closes it when the test ends.
func MustOpen(t testing.TB) *DB { return openTestDB(t) }

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	sqliteOnly(t) // TestPostgresMigratesOnce is its twin
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no migration recorded")
	}
	d.Close()
	d, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	again, err := d.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, err %v; want nothing", again, err)
	}
}

func TestPragmasOnEveryConnection(t *testing.T) {
	sqliteOnly(t)
	d := MustOpen(t)
	ctx := context.Background()
	for _, pool := range []struct {
		name string
		q    func() (string, int, error)
	}{
		{"writer", func() (string, int, error) {
			var mode string
			var fk int
			err := d.W.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
			if err == nil {
				err = d.W.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
			}
			return mode, fk, err
		}},
		{"reader", func() (string, int, error) {
			var mode string
			var fk int
			err := d.R.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
			if err == nil {
				err = d.R.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
			}
			return mode, fk, err
		}},
	} {
		mode, fk, err := pool.q()
		if err != nil || mode != "wal" || fk != 1 {
			t.Errorf("%s: journal_mode=%q foreign_keys=%d err=%v; want wal, 1", pool.name, mode, fk, err)
		}
	}
	if _, err := d.R.ExecContext(ctx, "CREATE TABLE x (a INTEGER)"); err == nil {
		t.Error("reader pool accepted a write; it must be query_only")
	}
}

func TestBackupIsAReadableCopy(t *testing.T) {
	sqliteOnly(t)
	d := MustOpen(t)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "backup.db")
	if err := d.Backup(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := d.Backup(ctx, out); err == nil {
		t.Error("backup over an existing file succeeded; it must refuse")
	}
	c, err := Open(ctx, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if applied, err := c.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Fatalf("backup lacks migrations: applied %v err %v", applied, err)
	}
}

// Generation ids start with the time they were made, so later ones sort after earlier
// ones, and keep 80 random bits: no two are alike and none can be predicted.
func TestNewTimeIDIsOrderedHexWithRandomTail(t *testing.T) {
	before := time.Now().UnixMilli()
	a := NewTimeID()
	time.Sleep(2 * time.Millisecond)
	b := NewTimeID()
	after := time.Now().UnixMilli()
	for _, id := range []string{a, b} {
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 32 lowercase hex characters", id)
		}
	}
	if a >= b {
		t.Fatalf("an id made later sorts first: %s then %s", a, b)
	}
	ts, err := strconv.ParseInt(a[:12], 16, 64)
	if err != nil || ts < before || ts > after {
		t.Fatalf("id %s: time prefix %d not within [%d, %d] (%v)", a, ts, before, after, err)
	}
	seen := map[string]bool{}
	tails := map[string]bool{}
	for range 1000 {
		id := NewTimeID()
		if seen[id] {
			t.Fatalf("id %s made twice", id)
		}
		seen[id] = true
		tails[id[12:]] = true
	}
	if len(tails) != 1000 {
		t.Fatalf("only %d distinct random parts in 1000 ids", len(tails))
	}
}
