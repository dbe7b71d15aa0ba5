package sqlite

import (
	"context"
	"os"
	"testing"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

// ownCheckpointer stops d's checkpointer and puts one in its place that runs no rounds
// of its own: the test calls round itself, on its goroutine, which the checkpointer's
// connection requires.
func ownCheckpointer(t testing.TB, d *DB) *checkpointer {
	t.Helper()
	c, err := openConn(d.e.path, pragmas)
	if err != nil {
		t.Fatal(err)
	}
	k := &checkpointer{c: newConn(c), nudge: make(chan struct{}, 1), stop: make(chan struct{})}
	var old *checkpointer
	// The committer reads e.ckpt after each batch: swapped between two batches.
	if !d.e.commit.pause(func() { old, d.e.ckpt = d.e.ckpt, k }) {
		t.Fatal("closed")
	}
	if err := old.close(); err != nil {
		t.Fatal(err)
	}
	return k
}

// What the checkpointer guarantees, whatever the machine's speed: once a round has seen
// the WAL past restartFrames, the writer starts it over between two write transactions,
// so the writes after that overwrite the WAL from its beginning instead of growing it.
// (How long the WAL gets under a given load depends on how fast the disk is, and is
// measured, not tested: docs/PERFORMANCE.md.)
func TestWALStartsOverAfterACheckpointRound(t *testing.T) {
	t.Parallel()
	d := openTest(t, db.Options{})
	k := ownCheckpointer(t, d)
	ctx := context.Background()
	exec(t, d, `CREATE TABLE t (x INTEGER PRIMARY KEY, b BLOB)`)
	write := func(n int) {
		t.Helper()
		for range n {
			exec(t, d, `INSERT INTO t (b) VALUES (randomblob(64000))`)
		}
	}
	walSize := func() int64 {
		t.Helper()
		st, err := os.Stat(d.Path() + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	// A reader that keeps its snapshot from before the writes holds the round back, as
	// writes arriving during a round would: the round copies none of them.
	inTx, endTx, readDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		readDone <- d.e.Read(ctx, func(q sqlstore.Querier) error {
			if _, err := q.Exec(`BEGIN`); err != nil {
				return err
			}
			var n int
			if err := q.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
				return err
			}
			close(inTx)
			<-endTx
			_, err := q.Exec(`ROLLBACK`)
			return err
		})
	}()
	select {
	case <-inTx:
	case err := <-readDone:
		t.Fatalf("the reader: %v", err)
	}
	// Each write is about sixteen pages (a 64 KB blob): past restartFrames in all.
	write(restartFrames/16 + 64)
	k.round()
	if !k.restartWanted.Load() {
		t.Fatalf("a round over a WAL of %d bytes (more than %d frames) did not ask for a restart", walSize(), restartFrames)
	}
	close(endTx)
	if err := <-readDone; err != nil {
		t.Fatal(err)
	}
	// The next write still appends (the WAL holds frames not yet copied); the committer
	// restarts the WAL after that write's batch, before it takes another, so once a
	// second write is acknowledged the restart is done.
	write(2)
	if k.restartWanted.Load() {
		t.Fatal("the writer did not take up the restart")
	}
	before := walSize()
	// A few hundred frames more, far fewer than the WAL holds: they overwrite its start.
	write(32)
	if after := walSize(); after > before {
		t.Fatalf("the WAL grew from %d to %d bytes after it was started over", before, after)
	}
}
