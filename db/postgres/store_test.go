package postgres

import (
	"context"
	"testing"

	"nanobanana/db"
	"nanobanana/db/storetest"
	"nanobanana/internal/pgtest"
)

// TestMain stops the PostgreSQL server pgtest started for this test binary. The tests
// here always run on a real PostgreSQL server: a new database for each.
func TestMain(m *testing.M) { pgtest.Main(m) }

// openPG opens a store on the database at dsn, standing for one process, closed when t
// ends.
func openPG(t testing.TB, dsn string, o db.Options) *DB {
	t.Helper()
	d, err := Open(context.Background(), dsn, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestStore holds the PostgreSQL engine to the store's conformance suite.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t testing.TB, o db.Options) storetest.Store { return openPG(t, pgtest.DSN(t), o) })
}
