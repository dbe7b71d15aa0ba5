package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrate applies the embedded migrations that are not yet recorded, each in its own
// transaction, in file-name order, and returns the names it applied. Migrations are
// append-only: a file once released is never edited, a change is a new file. SQLite's
// are in migrations/, PostgreSQL's in migrations_pg/ (postgres.go).
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	if d.pg {
		return d.migratePG(ctx)
	}
	if _, err := d.W.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	return d.applyMigrations(ctx, migrationFS, "migrations", func(fn func(tx *sql.Tx) error) error {
		return d.WriteTx(ctx, fn)
	})
}

// applyMigrations runs each not yet recorded migration of dir in fsys through inTx,
// which runs its function in a transaction and commits when it returns nil.
func (d *DB) applyMigrations(ctx context.Context, fsys embed.FS, dir string, inTx func(func(tx *sql.Tx) error) error) ([]string, error) {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var applied []string
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		body, err := fsys.ReadFile(name)
		if err != nil {
			return applied, err
		}
		err = inTx(func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, d.sqlFor("SELECT count(*) FROM schema_migrations WHERE version = ?"), version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return errSkip
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, d.sqlFor("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"), version, ms(d.now()))
			return err
		})
		switch {
		case err == errSkip:
		case err != nil:
			return applied, fmt.Errorf("migration %s: %w", version, err)
		default:
			applied = append(applied, version)
		}
	}
	return applied, nil
}

type skipError struct{}

func (skipError) Error() string { return "already applied" }

var errSkip error = skipError{}
