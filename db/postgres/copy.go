package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"nanobanana/db"
)

// TableReader reads a whole table of another database (the SQLite one being moved):
// db/sqlite's DB is one.
type TableReader interface {
	ReadTable(ctx context.Context, table string) (TableRows, error)
}

// TableRows are a table's rows, each as the values of Columns, in that order.
type TableRows interface {
	Columns() []string
	Next() bool
	Values() []any
	Err() error
	Close() error
}

// copyTables are the tables CopyFrom moves, parents first. queue_users is not among
// them: the count trigger rebuilds it as the generations (and their jobs) arrive.
var copyTables = []string{"users", "refresh_tokens", "generations", "uploads", "upload_refs", "upload_usage", "events",
	"settings", "spending", "user_limits"}

// CopyFrom copies every row of the SQLite database src into this PostgreSQL database,
// keeping ids (so sealed API keys, whose associated data is the user id, still open,
// and event streams' ids stay valid), in one transaction: all or nothing. The target
// must hold no accounts yet. Jobs src left running are queued again with their
// prediction kept, so they resume instead of creating another; src must not be in use
// meanwhile. It returns the number of rows copied per table.
func (d *DB) CopyFrom(ctx context.Context, src TableReader) (map[string]int64, error) {
	var users int
	if err := d.e.pool.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil {
		return nil, err
	}
	if users > 0 {
		return nil, fmt.Errorf("copy: the PostgreSQL database already has %d accounts; copy into an empty one (a new database, or drop and recreate it)", users)
	}
	conn, err := d.e.pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	counts := map[string]int64{}
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		// Event writers of other processes wait: ids must not interleave with the copy's.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", eventLock); err != nil {
			return err
		}
		for _, table := range copyTables {
			n, err := copyTable(ctx, tx, src, table)
			if err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
			counts[table] = n
		}
		// The identity sequences continue after the copied ids.
		for _, tc := range [][2]string{{"users", "id"}, {"refresh_tokens", "id"}, {"generations", "job_id"}, {"events", "id"}} {
			table, col := tc[0], tc[1]
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', '`+col+`'),
				greatest((SELECT max(`+col+`) FROM `+table+`), 1), (SELECT count(*) > 0 FROM `+table+`))`); err != nil {
				return fmt.Errorf("sequence of %s: %w", table, err)
			}
		}
		// Every generation carries its job (one row since migration 0005).
		counts["jobs"] = counts["generations"]
		return tx.Commit(ctx)
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// copyTable streams one table from src with COPY. Every column SQLite has is one
// PostgreSQL has too (same schema); running jobs are handed back to the queue.
func copyTable(ctx context.Context, tx pgx.Tx, src TableReader, table string) (int64, error) {
	rows, err := src.ReadTable(ctx, table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	s := &rowSource{rows: rows}
	if table == "generations" {
		s.fix = requeueRunning(rows.Columns())
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, rows.Columns(), s)
	if err != nil {
		return n, err
	}
	return n, rows.Err()
}

// requeueRunning returns a row fix-up that turns a running job into a queued one with
// no lease, keeping its phase and prediction (a restart would do the same).
func requeueRunning(cols []string) func([]any) {
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	return func(v []any) {
		if s, _ := v[idx["state"]].(string); s != db.JobRunning {
			return
		}
		v[idx["state"]] = db.JobQueued
		v[idx["lease_until"]] = nil
		v[idx["lease_owner"]] = nil
	}
}

// rowSource adapts TableRows to pgx's CopyFromSource.
type rowSource struct {
	rows TableRows
	fix  func([]any)
}

func (s *rowSource) Next() bool { return s.rows.Next() }
func (s *rowSource) Err() error { return s.rows.Err() }
func (s *rowSource) Values() ([]any, error) {
	v := s.rows.Values()
	if s.fix != nil {
		s.fix(v)
	}
	return v, nil
}
