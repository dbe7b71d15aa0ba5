package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Writes that share a group commit stay independent: one that fails after writing is
// rolled back alone and its caller gets its error; the others are stored.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	sqliteOnly(t) // group commit is the SQLite writer's
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()
	ctx := context.Background()
	if _, err := d.W.ExecContext(ctx, `CREATE TABLE t (x INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	errOdd := errors.New("odd")
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = d.writeTx(ctx, func(tx *wtx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO t (x) VALUES (?)`, i); err != nil {
					return err
				}
				if i%2 == 1 {
					return fmt.Errorf("write %d: %w", i, errOdd)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%2 == 1) != errors.Is(err, errOdd) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	var count, odd int
	if err := d.R.QueryRow(`SELECT count(*), count(*) FILTER (WHERE x % 2 = 1) FROM t`).Scan(&count, &odd); err != nil {
		t.Fatal(err)
	}
	if count != n/2 || odd != 0 {
		t.Fatalf("stored %d rows (%d odd), want %d even ones", count, odd, n/2)
	}
	// A caller whose context is already done is never run.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := d.writeTx(cctx, func(tx *wtx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("canceled write: ran=%v err=%v", ran, err)
	}
	// After Close a write is refused instead of hanging.
	closed = true
	d.Close()
	if err := d.writeTx(ctx, func(tx *wtx) error { return nil }); err == nil {
		t.Fatal("write after close succeeded")
	}
}
