package sqlite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	d, err := Open(ctx, path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	names, err := migrationFS.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var n, distinct int
	var at int64
	if err := d.Raw(ctx, `SELECT count(*), count(DISTINCT version), max(applied_at) FROM schema_migrations`, nil, &n, &distinct, &at); err != nil {
		t.Fatal(err)
	}
	if n != len(names) || distinct != n {
		t.Fatalf("schema_migrations has %d rows, %d distinct; want each of the %d migrations once", n, distinct, len(names))
	}
	d.Close()
	d, err = Open(ctx, path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	again, err := d.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, err %v; want nothing", again, err)
	}
	var n2 int
	var at2 int64
	if err := d.Raw(ctx, `SELECT count(*), max(applied_at) FROM schema_migrations`, nil, &n2, &at2); err != nil || n2 != n || at2 != at {
		t.Fatalf("after reopening: %d migrations, last at %d (%v); want %d, %d", n2, at2, err, n, at)
	}
}

// pragmaValues reads the settings every connection must have, and query_only.
func pragmaValues(t *testing.T, q sqlstore.Querier) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, p := range []string{"journal_mode", "foreign_keys", "busy_timeout", "synchronous", "temp_store", "query_only", "wal_autocheckpoint"} {
		var v any
		if err := q.QueryRow("PRAGMA " + p).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", p, err)
		}
		out[p] = v
	}
	return out
}

func TestPragmasOnEveryConnection(t *testing.T) {
	const readers = 3
	d := openTest(t, db.Options{Readers: readers})
	ctx := context.Background()
	common := map[string]any{"journal_mode": "wal", "foreign_keys": int64(1), "busy_timeout": int64(10000),
		"synchronous": int64(1), "temp_store": int64(2)}
	check := func(name string, got map[string]any, extra map[string]any) {
		t.Helper()
		for _, want := range []map[string]any{common, extra} {
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %s = %v; want %v", name, k, got[k], v)
				}
			}
		}
	}
	// The writer, inside a write as the store's writes run.
	if err := d.e.Write(ctx, false, func(q sqlstore.Querier) error {
		check("writer", pragmaValues(t, q), map[string]any{"query_only": int64(0), "wal_autocheckpoint": int64(0)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Every reader: all of them held at once, so each is a different connection.
	held := make(chan struct{})
	release := make(chan struct{})
	errs := make(chan error, readers)
	for i := range readers {
		go func() {
			errs <- d.e.Read(ctx, func(q sqlstore.Querier) error {
				check("reader "+string(rune('0'+i)), pragmaValues(t, q), map[string]any{"query_only": int64(1)})
				held <- struct{}{}
				<-release
				return nil
			})
		}()
	}
	for range readers {
		<-held
	}
	close(release)
	for range readers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, readConns := d.Prepared(); len(readConns) != readers {
		t.Errorf("%d reader connections set up; want %d", len(readConns), readers)
	}
	if err := d.e.Read(ctx, func(q sqlstore.Querier) error {
		_, err := q.Exec("CREATE TABLE x (a INTEGER)")
		return err
	}); err == nil {
		t.Error("a reader accepted a write; it must be query_only")
	}
}

func TestBackupIsAReadableCopy(t *testing.T) {
	d := openTest(t, db.Options{})
	ctx := context.Background()
	u, err := d.CreateUser(ctx, "alice", "alice@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	g, err := d.CreateGeneration(ctx, u.ID, db.Params{Prompt: "kept", Mode: db.ModeTextToImage}, db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	if err := d.Backup(ctx, out); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode %v; want 0600 (it holds password hashes and sealed keys)", st.Mode().Perm())
	}
	if err := d.Backup(ctx, out); err == nil {
		t.Error("backup over an existing file succeeded; it must refuse")
	}
	c, err := Open(ctx, out, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if applied, err := c.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Fatalf("backup lacks migrations: applied %v err %v", applied, err)
	}
	if got, err := c.UserByLogin(ctx, "alice"); err != nil || got.ID != u.ID || got.PasswordHash != "h" {
		t.Fatalf("alice in the backup: %+v %v", got, err)
	}
	if got, err := c.GetGeneration(ctx, u.ID, g.ID); err != nil || got.Prompt != "kept" || got.QueuePosition != 1 {
		t.Fatalf("the generation in the backup: %+v %v", got, err)
	}
}

// The database and its WAL are the service user's only, and a user's Replicate key is
// never in either in plaintext.
func TestFilesAreOwnerOnlyAndKeysSealed(t *testing.T) {
	d := openTest(t, db.Options{})
	ctx := context.Background()
	s, err := db.NewSealer("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	u, err := d.CreateUser(ctx, "alice", "alice@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetAPIKey(ctx, s, u.ID, "r8_PlaintextShouldNeverBeOnDisk1234", true); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{d.Path(), d.Path() + "-wal"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v; want 0600", f, st.Mode().Perm())
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("PlaintextShouldNeverBeOnDisk")) {
			t.Fatalf("%s holds the plaintext key", f)
		}
	}
}
