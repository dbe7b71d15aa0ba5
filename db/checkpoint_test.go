package db

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// What the checkpointer guarantees, whatever the machine's speed: once a round has seen
// the WAL past restartFrames, the writer starts it over between two write transactions,
// so the writes after that overwrite the WAL from its beginning instead of growing it.
// (How long the WAL gets under a given load depends on how fast the disk is, and is
// measured, not tested: docs/PERFORMANCE.md.)
func TestWALStartsOverAfterACheckpointRound(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.db")
	d, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if _, err := d.W.ExecContext(ctx, `CREATE TABLE t (x INTEGER PRIMARY KEY, b BLOB)`); err != nil {
		t.Fatal(err)
	}
	write := func(n int) {
		t.Helper()
		for range n {
			if err := d.writeTx(ctx, func(tx *wtx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO t (b) VALUES (randomblob(64000))`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	walSize := func() int64 {
		t.Helper()
		st, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	// A reader that keeps its snapshot from before the writes holds the round back, as
	// writes arriving during a round would: the round copies none of them.
	rtx, err := d.R.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rtx.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	// Each write is about sixteen pages (a 64 KB blob): past restartFrames in all.
	write(restartFrames/16 + 64)
	d.ckpt.round()
	if !d.ckpt.restartWanted.Load() {
		t.Fatalf("a round over a WAL of %d bytes (more than %d frames) did not ask for a restart", walSize(), restartFrames)
	}
	_ = rtx.Rollback()
	// The next write still appends (the WAL holds frames not yet copied); the committer
	// restarts the WAL after that write's batch, before it takes another, so once a
	// second write is acknowledged the restart is done.
	write(2)
	if d.ckpt.restartWanted.Load() {
		t.Fatal("the writer did not take up the restart")
	}
	before := walSize()
	// A few hundred frames more, far fewer than the WAL holds: they overwrite its start.
	write(32)
	if after := walSize(); after > before {
		t.Fatalf("the WAL grew from %d to %d bytes after it was started over", before, after)
	}
}
