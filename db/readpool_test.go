package db

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// More readers than connections all get their answers: a query waits for a connection
// another query gives back, and a caller who stops waiting gets its context's error.
func TestReadPoolShared(t *testing.T) {
	sqliteOnly(t)
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), Options{Readers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if _, err := d.W.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := d.W.ExecContext(ctx, `INSERT INTO t VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Go(func() {
			rows, err := d.query(ctx, `SELECT x FROM t ORDER BY x`)
			if err != nil {
				errs <- err
				return
			}
			sum := 0
			for rows.Next() {
				var x int
				if err := rows.Scan(&x); err != nil {
					errs <- err
					break
				}
				sum += x
			}
			rows.Close()
			if sum != 45 {
				errs <- errors.New("wrong sum")
			}
			var n int
			if err := d.queryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 10 {
				errs <- errors.Join(err, errors.New("wrong count"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if d.rpool.opened > 2 {
		t.Errorf("%d connections opened, more than the pool's 2", d.rpool.opened)
	}

	// Both connections held by open rows: the next query waits, and gives up with its
	// context; once one is closed, queries run again.
	r1, err := d.query(ctx, `SELECT x FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := d.query(ctx, `SELECT x FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	var n int
	if err := d.queryRow(short, `SELECT count(*) FROM t`).Scan(&n); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with every connection held: %v, want the deadline", err)
	}
	r1.Close()
	if err := d.queryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 10 {
		t.Errorf("after one was given back: %d, %v", n, err)
	}
	r2.Close()
}

// After Close, reads fail with an error instead of waiting or opening connections, and
// a read that was waiting for a connection stops waiting.
func TestReadPoolClosed(t *testing.T) {
	sqliteOnly(t)
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), Options{Readers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	held, err := d.query(ctx, `SELECT 1 UNION ALL SELECT 2`)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		var n int
		waited <- d.queryRow(ctx, `SELECT 1`).Scan(&n)
	}()
	time.Sleep(20 * time.Millisecond) // let it wait for the one connection
	d.rpool.close()
	select {
	case err := <-waited:
		if err == nil {
			t.Error("the waiting read succeeded after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read waiting for a connection still waits after Close")
	}
	held.Close() // gives its connection back to a closed pool: closed, not kept
	d.Close()
	var n int
	if err := d.queryRow(ctx, `SELECT 1`).Scan(&n); err == nil {
		t.Error("a read after Close succeeded")
	}
}

// Rows read to their end give their connection back before Close, as database/sql's do:
// ListGenerations reads queue positions after its loop, with its Close still deferred.
func TestReadPoolRowsEndReleases(t *testing.T) {
	sqliteOnly(t)
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), Options{Readers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := d.query(ctx, `SELECT 1 UNION ALL SELECT 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
	}
	var n int
	if err := d.queryRow(ctx, `SELECT 3`).Scan(&n); err != nil || n != 3 {
		t.Errorf("a second read with the first's rows at their end: %d, %v", n, err)
	}
}
