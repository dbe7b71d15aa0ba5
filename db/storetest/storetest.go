// Package storetest is the conformance suite of db.Store: one set of tests that every
// engine (db/sqlite, db/postgres) runs against a real database of its kind, so both
// behave the same to server and jobs. An engine's test calls Run with a function that
// opens a fresh, empty store.
package storetest

import (
	"context"
	"testing"
	"time"

	"nanobanana/db"
)

// Store is a db.Store the suite can also inspect.
type Store interface {
	db.Store
	// Raw runs one statement written in SQLite's dialect (the engine rewrites its
	// parameter marks) and scans its first row into dest; with no dest, it commits the
	// statement's changes.
	Raw(ctx context.Context, q string, args []any, dest ...any) error
}

// Opener opens a fresh, empty store for t with o, closed when t ends.
type Opener func(t testing.TB, o db.Options) Store

// Run runs every test of the suite as a subtest of t.
func Run(t *testing.T, open Opener) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, open Opener)
}

// tests is filled by the suite's files, one entry per test.
var tests []test

func register(name string, fn func(t *testing.T, open Opener)) bool {
	for _, tc := range tests {
		if tc.name == name {
			panic("storetest: two tests named " + name)
		}
	}
	tests = append(tests, test{name, fn})
	return true
}

// addUser inserts a bare account row; the accounts API is not under test there.
func addUser(t testing.TB, d Store, name string) int64 {
	t.Helper()
	var id int64
	if err := d.Raw(context.Background(), `INSERT INTO users (username, email, password_hash, created_at, updated_at)
		VALUES (?, ?, 'x', 0, 0) RETURNING id`, []any{name, name + "@example.com"}, &id); err != nil {
		t.Fatal(err)
	}
	return id
}

func params(prompt string) db.Params {
	return db.Params{Prompt: prompt, Resolution: "1K", AspectRatio: "1:1", OutputFormat: "png",
		SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage}
}

// fixedClock is a clock tests move by hand.
func fixedClock(t time.Time) (func() time.Time, func(time.Duration)) {
	now := t
	return func() time.Time { return now }, func(d time.Duration) { now = now.Add(d) }
}

// create enqueues a generation of prompt for user, failing the test on an error.
func create(t testing.TB, d Store, user int64, prompt string) *db.Generation {
	t.Helper()
	g, err := d.CreateGeneration(context.Background(), user, params(prompt), db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// count runs a SELECT count(*) (or any one-integer query) and returns its answer.
func count(t testing.TB, d Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.Raw(context.Background(), q, args, &n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// result is a stored image's description for CompleteJob.
func result() db.Result {
	return db.Result{ImageKey: "k", ImageType: "image/png", ThumbKey: "t", Width: 1, Height: 1, Bytes: 1, SHA256: "x"}
}
