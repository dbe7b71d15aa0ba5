// Package dbtest opens the database a package's tests run on: a SQLite file in the
// test's directory, or, when NANOBANANA_TEST_DB=postgres, a new database on a real
// PostgreSQL server (internal/pgtest). `make test` runs the db, jobs and server suites
// both ways. Only _test.go files import it.
package dbtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"nanobanana/db"
	"nanobanana/internal/pgtest"
)

// Postgres reports whether this run tests the PostgreSQL backend.
func Postgres() bool { return os.Getenv("NANOBANANA_TEST_DB") == "postgres" }

// Open opens a fresh database for t (SQLite under dir, or PostgreSQL) and closes it
// when the test ends.
func Open(t testing.TB, dir string, o db.Options) *db.DB {
	t.Helper()
	var d *db.DB
	var err error
	if Postgres() {
		dsn := pgtest.DSN(t)
		d, err = db.OpenPostgres(context.Background(), dsn, o)
		if err == nil {
			dsns.Store(d, dsn)
		}
	} else {
		d, err = db.Open(context.Background(), filepath.Join(dir, "test.db"), o)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var dsns sync.Map // *db.DB opened on PostgreSQL -> its DSN

// Another opens a second handle on d's PostgreSQL database, standing for another
// process sharing it, and closes it when the test ends.
func Another(t testing.TB, d *db.DB, o db.Options) *db.DB {
	t.Helper()
	dsn, ok := dsns.Load(d)
	if !ok {
		t.Fatal("dbtest.Another: the database was not opened on PostgreSQL by dbtest.Open")
	}
	d2, err := db.OpenPostgres(context.Background(), dsn.(string), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Close() })
	return d2
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
