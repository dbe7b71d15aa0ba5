package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"zombiezen.com/go/sqlite/sqlitex"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrate applies the embedded migrations that are not yet recorded, each in its own
// transaction, in file-name order, on the writer connection (before the committer
// starts, or paused), and returns the names it applied. Migrations are append-only: a
// file once released is never edited, a change is a new file. A migration is recorded
// by its file name without the folder and extension, so moving the files (as from db/
// to db/sqlite/) neither runs one again nor skips one.
func (e *engine) migrate(ctx context.Context) ([]string, error) {
	w := e.w
	if err := sqlitex.ExecuteTransient(w.c, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`, nil); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var applied []string
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return applied, err
		}
		version := strings.TrimSuffix(path.Base(name), ".sql")
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return applied, err
		}
		ran, err := e.migrateOne(version, string(body))
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", version, err)
		}
		if ran {
			applied = append(applied, version)
		}
	}
	return applied, nil
}

func (e *engine) migrateOne(version, body string) (ran bool, err error) {
	c := e.w.c
	end, err := sqlitex.ImmediateTransaction(c)
	if err != nil {
		return false, err
	}
	defer end(&err)
	var n int
	if err := e.w.QueryRow(`SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if err := sqlitex.ExecuteScript(c, body, nil); err != nil {
		return false, err
	}
	if _, err := e.w.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		version, e.now().UnixMilli()); err != nil {
		return false, err
	}
	return true, nil
}
