package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"nanobanana/db"
)

// Reads never wait on a connection that is being opened: the pool opens its
// connections when the database opens, so a read that finds them all busy waits only
// for one to be given back. (The pool before the split opened connections on demand,
// and a waiter was never woken when another goroutine's open failed: with the
// database's folder gone, reads waited until their deadline.)
func TestReadsDoNotWaitForFailingOpens(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(dir, "x.db"), db.Options{Readers: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u, err := d.CreateUser(ctx, "alice", "alice@example.com", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing can be opened any more: the folder and the files are gone.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	// Rounds of 200 reads let loose at once: the old pool left some of them waiting in
	// about one round of three.
	for round := range 5 {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		start := make(chan struct{})
		for range 200 {
			wg.Go(func() {
				<-start
				if _, err := d.UserByID(rctx, u.ID); err != nil {
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		cancel()
		close(errs)
		n := 0
		for err := range errs {
			n++
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("round %d: a read waited until its deadline", round)
			}
			t.Log(err)
		}
		if n > 0 {
			t.Fatalf("round %d: %d of 200 reads failed", round, n)
		}
	}
}
