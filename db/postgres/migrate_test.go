package postgres

import (
	"context"
	"database/sql"
	"testing"

	"nanobanana/db"
	"nanobanana/db/storetest"
	"nanobanana/internal/pgtest"
)

// TestQueueSurvivesOneRowMigration: see storetest.QueueSurvivesOneRowMigration; on
// PostgreSQL the jobs table was folded into generations by migration 0005.
func TestQueueSurvivesOneRowMigration(t *testing.T) {
	dsn := pgtest.DSN(t)
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(rebind(q), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	for _, v := range []string{"0001_schema", "0002_login_failures", "0003_submit_owner", "0004_notify_triggers"} {
		body, err := migrationFS.ReadFile("migrations/" + v + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		exec(`INSERT INTO schema_migrations VALUES (?, 0)`, v)
	}
	storetest.QueueSurvivesOneRowMigration(t, exec, func() storetest.Store {
		raw.Close()
		return openPG(t, dsn, db.Options{})
	})
	// And only the migrations after 0004 were applied.
	d := openPG(t, dsn, db.Options{})
	names, err := migrationFS.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var old, all int
	if err := d.SQL().QueryRowContext(context.Background(),
		`SELECT count(*) FILTER (WHERE applied_at = 0), count(*) FROM schema_migrations`).Scan(&old, &all); err != nil || old != 4 || all != len(names) {
		t.Fatalf("schema_migrations: %d of %d from before (%v); want 4 of %d", old, all, err, len(names))
	}
}
