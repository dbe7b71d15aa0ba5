package postgres

import (
	"context"
	"testing"

	"nanobanana/db"
	"nanobanana/db/storetest"
	"nanobanana/internal/pgtest"
)

// TestMain stops the PostgreSQL server the tests started.
func TestMain(m *testing.M) { pgtest.Main(m) }

// TestStore runs the store's conformance suite on a real PostgreSQL server, a new
// database per test.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t testing.TB, o db.Options) storetest.Store {
		d, err := Open(context.Background(), pgtest.DSN(t), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	})
}
