package db

import (
	"context"
	"database/sql"
)

// Every statement SQLite runs must first be parsed and planned, and with the pure-Go
// engine that costs about as much as running a short query. The statements this package
// runs are a small fixed set, so each is prepared once per connection and kept
// (sqliteConn.stmt).

// maxCachedStmts bounds a connection's statements in case some query text is ever built
// from varying input; past it, statements are prepared for each use.
const maxCachedStmts = 256

// queryRow runs a read that returns one row, on a pooled reader (readpool.go) or, with
// PostgreSQL, on its pool (pgx prepares and caches each query text per connection).
func (d *DB) queryRow(ctx context.Context, q string, args ...any) *wrow {
	if d.pg {
		return &wrow{pg: d.R.QueryRowContext(ctx, d.sqlFor(q), pgArgs(args)...)}
	}
	r, err := d.readQuery(ctx, q, args)
	return &wrow{lite: &sqliteRow{rows: r, err: err}}
}

// query runs a read; the caller closes the rows.
func (d *DB) query(ctx context.Context, q string, args ...any) (*wrows, error) {
	if d.pg {
		r, err := d.R.QueryContext(ctx, d.sqlFor(q), pgArgs(args)...)
		if err != nil {
			return nil, err
		}
		return &wrows{pg: r}, nil
	}
	r, err := d.readQuery(ctx, q, args)
	if err != nil {
		return nil, err
	}
	return &wrows{lite: r}, nil
}

// exec runs one write statement as a write of its own.
func (d *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if d.pg {
		return d.W.ExecContext(ctx, d.sqlFor(q), pgArgs(args)...)
	}
	var res sql.Result
	err := d.writeTx(ctx, func(tx *wtx) error {
		var err error
		res, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	return res, err
}

// wtx is a write transaction. With SQLite its statements run on the writer's own
// connection (sqliteconn.go); with PostgreSQL on a *sql.Tx. Its methods are named like
// *sql.Tx's, so the write paths read the same for both.
type wtx struct {
	c            *sqliteConn // SQLite
	tx           *sql.Tx     // PostgreSQL
	d            *DB
	eventsLocked bool // PostgreSQL: the event lock is held (eventTx)
}

// The statements of a write run to the end even if their caller's context is canceled
// meanwhile: interrupting SQLite mid-statement rolls back the whole transaction, which
// in a group commit holds other callers' writes too. A caller that gives up before its
// function starts is withdrawn instead (committer.do).

func (tx *wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if tx.c != nil {
		s, err := tx.c.stmt(q)
		if err != nil {
			return nil, err
		}
		return s.exec(args)
	}
	return tx.tx.ExecContext(context.WithoutCancel(ctx), tx.d.sqlFor(q), pgArgs(args)...)
}

func (tx *wtx) QueryContext(ctx context.Context, q string, args ...any) (*wrows, error) {
	if tx.c != nil {
		s, err := tx.c.stmt(q)
		if err != nil {
			return nil, err
		}
		r, err := s.query(args)
		if err != nil {
			return nil, err
		}
		return &wrows{lite: r}, nil
	}
	r, err := tx.tx.QueryContext(context.WithoutCancel(ctx), tx.d.sqlFor(q), pgArgs(args)...)
	if err != nil {
		return nil, err
	}
	return &wrows{pg: r}, nil
}

func (tx *wtx) QueryRowContext(ctx context.Context, q string, args ...any) *wrow {
	if tx.c != nil {
		s, err := tx.c.stmt(q)
		if err != nil {
			return &wrow{lite: &sqliteRow{err: err}}
		}
		r, err := s.query(args)
		return &wrow{lite: &sqliteRow{rows: r, err: err}}
	}
	return &wrow{pg: tx.tx.QueryRowContext(context.WithoutCancel(ctx), tx.d.sqlFor(q), pgArgs(args)...)}
}

// exec runs a fixed statement (the savepoints).
func (tx *wtx) exec(q string) error {
	_, err := tx.ExecContext(context.Background(), q)
	return err
}

// wrows are a query's rows, of either database.
type wrows struct {
	lite *sqliteRows
	pg   *sql.Rows
}

func (r *wrows) Next() bool {
	if r.lite != nil {
		return r.lite.Next()
	}
	return r.pg.Next()
}

func (r *wrows) Scan(dest ...any) error {
	if r.lite != nil {
		return r.lite.Scan(dest...)
	}
	return r.pg.Scan(dest...)
}

func (r *wrows) Err() error {
	if r.lite != nil {
		return r.lite.Err()
	}
	return r.pg.Err()
}

func (r *wrows) Close() error {
	if r.lite != nil {
		return r.lite.Close()
	}
	return r.pg.Close()
}

// wrow is a one-row query's answer, of either database.
type wrow struct {
	lite *sqliteRow
	pg   *sql.Row
}

func (r *wrow) Scan(dest ...any) error {
	if r.lite != nil {
		return r.lite.Scan(dest...)
	}
	return r.pg.Scan(dest...)
}

// writeTx runs fn as one write, committed (possibly together with other callers' writes,
// see groupcommit.go) before it returns nil. Every write of this package but the
// migrations goes through it.
func (d *DB) writeTx(ctx context.Context, fn func(tx *wtx) error) error {
	if d.pg {
		return d.pgWriteTx(ctx, false, fn)
	}
	return d.commit.do(ctx, fn)
}

// eventTx is writeTx for a write that appends events. SQLite has one writer, so event
// ids follow commit order by themselves; PostgreSQL's writers run side by side and take
// ids from a sequence, so a later id could commit first and a stream that had read past
// it would never see the earlier one. There, event writes take one lock in turn
// (postgres.go).
func (d *DB) eventTx(ctx context.Context, fn func(tx *wtx) error) error {
	if d.pg {
		return d.pgWriteTx(ctx, true, fn)
	}
	return d.commit.do(ctx, fn)
}
