package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// copyTables are the tables CopyFromSQLite moves, parents first. queue_users is not
// among them: the count trigger rebuilds it as the generations (and their jobs) arrive.
var copyTables = []string{"users", "refresh_tokens", "generations", "uploads", "events"}

// CopyFromSQLite copies every row of the SQLite database src into this PostgreSQL
// database, keeping ids (so sealed API keys, whose associated data is the user id,
// still open, and SSE clients' event ids stay valid), in one transaction: all or
// nothing. The target must hold no accounts yet. Jobs src left running are queued
// again with their prediction kept, so they resume instead of creating another; src
// must not be in use meanwhile. It returns the number of rows copied per table.
func (d *DB) CopyFromSQLite(ctx context.Context, src *DB) (map[string]int64, error) {
	if !d.pg || src.pg {
		return nil, errors.New("copy: from a SQLite database into a PostgreSQL one only")
	}
	var users int
	if err := d.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil {
		return nil, err
	}
	if users > 0 {
		return nil, fmt.Errorf("copy: the PostgreSQL database already has %d accounts; copy into an empty one (a new database, or drop and recreate it)", users)
	}
	conn, err := d.W.Conn(ctx)
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
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", pgEventLock); err != nil {
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
		// Every generation carries its job (one row since migration 0007).
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
func copyTable(ctx context.Context, tx pgx.Tx, src *DB, table string) (int64, error) {
	rows, err := src.R.QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY rowid`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	s := &sqlRowSource{rows: rows, vals: make([]any, len(cols))}
	if table == "generations" {
		s.fix = requeueRunning(cols)
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, s)
	if err != nil {
		return n, err
	}
	return n, s.err
}

// requeueRunning returns a row fix-up that turns a running job into a queued one with
// no lease, keeping its phase and prediction (a restart would do the same).
func requeueRunning(cols []string) func([]any) {
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	return func(v []any) {
		if s, _ := v[idx["state"]].(string); s != JobRunning {
			return
		}
		v[idx["state"]] = JobQueued
		v[idx["lease_until"]] = nil
		v[idx["lease_owner"]] = nil
	}
}

// sqlRowSource adapts *sql.Rows to pgx's CopyFromSource.
type sqlRowSource struct {
	rows *sql.Rows
	vals []any
	fix  func([]any)
	err  error
}

func (s *sqlRowSource) Next() bool {
	if !s.rows.Next() {
		s.err = s.rows.Err()
		return false
	}
	ptrs := make([]any, len(s.vals))
	for i := range s.vals {
		s.vals[i] = nil
		ptrs[i] = &s.vals[i]
	}
	if err := s.rows.Scan(ptrs...); err != nil {
		s.err = err
		return false
	}
	if s.fix != nil {
		s.fix(s.vals)
	}
	return true
}

func (s *sqlRowSource) Values() ([]any, error) { return s.vals, nil }
func (s *sqlRowSource) Err() error             { return s.err }
