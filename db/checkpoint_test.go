package db

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// A writer that never pauses still gets its WAL started over: the file stays near
// restartFrames pages instead of holding everything ever written.
func TestWALStartsOverUnderConstantWrites(t *testing.T) {
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
	// Each write is about sixteen pages (a 64 KB blob); eight writers keep the committer
	// busy so it never waits for work. In all, four times restartFrames pages.
	const writers, blobPages = 8, 16
	per := 4 * restartFrames / blobPages / writers
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range per {
				if err := d.writeTx(ctx, func(tx *wtx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO t (b) VALUES (randomblob(64000))`)
					return err
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	const frame = 4096 + 24
	if limit := int64(5 * restartFrames * frame / 2); st.Size() > limit {
		t.Fatalf("WAL is %d bytes after %d writes of ~%d pages, want at most %d (2.5 x restartFrames)",
			st.Size(), writers*per, blobPages, limit)
	}
}
