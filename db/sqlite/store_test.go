package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"nanobanana/db"
	"nanobanana/db/storetest"
)

// openTest opens a fresh database in a temporary directory, closed when t ends.
func openTest(t testing.TB, o db.Options) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestStore holds the SQLite engine to the store's conformance suite.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t testing.TB, o db.Options) storetest.Store { return openTest(t, o) })
}
