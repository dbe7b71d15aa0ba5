package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"nanobanana/db"
)

// A database that cannot grow (here SQLite's max_page_count set to the file's size, which
// is what a full disk does to it) refuses writes with db.ErrStorageFull, code
// storage_full, and says so to the readiness check; once it can grow again, writes go
// through, and the check is ready again 30 s after the last refusal.
func TestFullDatabaseRefusesWritesAndIsNotReady(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	d, err := Open(ctx, filepath.Join(t.TempDir(), "full.db"), db.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u, err := d.CreateUser(ctx, "alice", "alice@example.com", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	p := db.Params{Prompt: "fill the disk", Resolution: "1K", AspectRatio: "1:1", OutputFormat: "png",
		SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage}
	var pages int64
	if err := d.Raw(ctx, `PRAGMA page_count`, nil, &pages); err != nil {
		t.Fatal(err)
	}
	var max int64
	if err := d.Raw(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages), nil, &max); err != nil || max != pages {
		t.Fatalf("max_page_count = %d (%v); want %d", max, err, pages)
	}
	if err := d.Ping(ctx); err != nil {
		t.Fatalf("ready before any refusal: %v", err)
	}
	made := 0
	for ; made < 100_000; made++ {
		if _, err = d.CreateGeneration(ctx, u.ID, p, db.CreateOptions{}); err != nil {
			break
		}
	}
	if !errors.Is(err, db.ErrStorageFull) || db.CodeOf(err) != db.CodeStorageFull || db.ReasonOf(err) == "" {
		t.Fatalf("after %d generations, a write into a full database: %v (code %s); want storage_full with a sentence", made, err, db.CodeOf(err))
	}
	if err := d.Ping(ctx); db.CodeOf(err) != db.CodeStorageFull {
		t.Fatalf("readiness while writes fail: %v; want storage_full", err)
	}
	items, _, err := d.ListGenerations(ctx, u.ID, db.ListFilter{Limit: 100})
	if err != nil || len(items) != min(made, 100) {
		t.Fatalf("the refused write left something behind: %d listed, %d made (%v)", len(items), made, err)
	}

	if err := d.Raw(ctx, `PRAGMA max_page_count = 1073741823`, nil, &max); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateGeneration(ctx, u.ID, p, db.CreateOptions{}); err != nil {
		t.Fatalf("a write once there is room: %v", err)
	}
	now = now.Add(31 * time.Second)
	if err := d.Ping(ctx); err != nil {
		t.Fatalf("readiness 31 s after the last refusal: %v", err)
	}
}
