package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"nanobanana/db"
	"nanobanana/db/storetest"
)

// TestStore runs the store's conformance suite on SQLite files.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t testing.TB, o db.Options) storetest.Store {
		d, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	})
}
