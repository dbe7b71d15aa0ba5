// Package dbtest opens the database a package's tests run on: a SQLite file in the
// test's directory, or, when NANOBANANA_TEST_DB=postgres, a new database on a real
// PostgreSQL server (internal/pgtest). `make test` runs the jobs and server suites
// both ways. Only _test.go files import it.
package dbtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"nanobanana/db"
	"nanobanana/db/postgres"
	"nanobanana/db/sqlite"
	"nanobanana/internal/pgtest"
)

// Store is the store a test runs on, which it may also inspect with SQL written in
// SQLite's dialect (the PostgreSQL engine rewrites the parameter marks).
type Store interface {
	db.Store
	Raw(ctx context.Context, q string, args []any, dest ...any) error
}

// Postgres reports whether this run tests the PostgreSQL backend.
func Postgres() bool { return os.Getenv("NANOBANANA_TEST_DB") == "postgres" }

// Open opens a fresh database for t (SQLite under dir, or PostgreSQL) and closes it
// when the test ends.
func Open(t testing.TB, dir string, o db.Options) Store {
	t.Helper()
	var d Store
	if Postgres() {
		dsn := pgtest.DSN(t)
		p, err := postgres.Open(context.Background(), dsn, o)
		if err != nil {
			t.Fatal(err)
		}
		dsns.Store(p, dsn)
		d = p
	} else {
		s, err := sqlite.Open(context.Background(), filepath.Join(dir, "test.db"), o)
		if err != nil {
			t.Fatal(err)
		}
		d = s
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var dsns sync.Map // *postgres.DB opened by Open -> its DSN

// Another opens a second handle on d's PostgreSQL database, standing for another
// process sharing it, and closes it when the test ends.
func Another(t testing.TB, d Store, o db.Options) Store {
	t.Helper()
	dsn, ok := dsns.Load(d)
	if !ok {
		t.Fatal("dbtest.Another: the database was not opened on PostgreSQL by dbtest.Open")
	}
	d2, err := postgres.Open(context.Background(), dsn.(string), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Close() })
	return d2
}

// SQLitePath is the file of a SQLite store ("" for PostgreSQL).
func SQLitePath(d Store) string {
	if s, ok := d.(*sqlite.DB); ok {
		return s.Path()
	}
	return ""
}

// PostgresOnly skips a test of what only several processes on PostgreSQL do.
func PostgresOnly(t testing.TB) {
	t.Helper()
	if !Postgres() {
		t.Skip("PostgreSQL only: runs with NANOBANANA_TEST_DB=postgres (make test does)")
	}
}

// SQLiteOnly skips a test of something only the SQLite backend has.
func SQLiteOnly(t testing.TB) {
	t.Helper()
	if Postgres() {
		t.Skip("SQLite only; this run tests the PostgreSQL backend")
	}
}

// Main runs the tests and stops the PostgreSQL server pgtest may have started.
func Main(m *testing.M) { pgtest.Main(m) }
