// Package sqlstore is db.Store written in SQL once, for both engines. The queries are in
// the SQL that SQLite and PostgreSQL share, with SQLite's parameter marks (? and ?N);
// an engine (db/sqlite, db/postgres) runs them on its connections, rewriting the marks
// if it must, and supplies the few statements whose text differs (Dialect). This
// package owns the queue's state machine, the events log and its in-process fan-out;
// it opens nothing, migrates nothing and knows nothing of HTTP.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"nanobanana/db"
)

// Querier runs statements on one connection: a read's, or a write transaction's.
type Querier interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(q string, args ...any) (int64, error)
	// Query runs a statement that returns rows; the caller closes them.
	Query(q string, args ...any) (Rows, error)
	// QueryRow runs a statement for one row; Scan returns sql.ErrNoRows when none.
	QueryRow(q string, args ...any) Row
}

// Rows are a query's rows, as database/sql's.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Row is a one-row query's answer.
type Row interface {
	Scan(dest ...any) error
}

// Engine is what an SQL database gives the store.
type Engine interface {
	// Read runs fn on a connection for reads; its statements stop when ctx ends.
	Read(ctx context.Context, fn func(q Querier) error) error
	// Write runs fn as one write transaction, committed before Write returns nil.
	// events says the write appends events (Dialect.EventWrites). fn may run more than
	// once (the SQLite group commit runs a failed batch again, PostgreSQL a transaction
	// that lost a deadlock), each time from the state the rollback restored: the
	// store's writes take their inputs as arguments and return their results (write,
	// writeEvents), so a run that did not commit leaves nothing behind.
	Write(ctx context.Context, events bool, fn func(q Querier) error) error
	Dialect
	// QueueSignal fires when another process queued jobs; nil where none can.
	QueueSignal() <-chan struct{}
	// Shared reports whether other processes may share the database.
	Shared() bool
	// Describe names the database for logs.
	Describe() string
	Close() error
}

// Dialect is what differs between the engines' SQL beyond parameter marks.
type Dialect interface {
	// ClaimQuery is the claim statement for limit (1 to MaxClaimLimit), without its
	// RETURNING list; see claimSet for its parameters.
	ClaimQuery(limit int) string
	// NewJobID is an SQL expression giving a new job id, greater than every other.
	NewJobID() string
	// UniqueViolation reports whether err is a unique constraint refusing a row.
	UniqueViolation(err error) bool
}

// Store is db.Store over an Engine.
type Store struct {
	e      Engine
	now    func() time.Time
	events broker
	claims claimTexts
	// fullAt is when a write last failed for want of space (Unix ms, 0: never): Ping
	// reports the store not ready for fullFor after it.
	fullAt atomic.Int64
	// settingsVersion moves on with every change of the stored settings (settings.go).
	settingsVersion atomic.Uint64
}

// fullFor is how long after a write refused for want of space the store says it is not
// ready (Ping), so a load balancer sends the writes elsewhere: while writes keep failing
// it stays not ready; once they stop, it is ready again after this long, and a write
// that still fails starts it again.
const fullFor = 30 * time.Second

var _ db.Store = (*Store)(nil)

// New returns the store running on e. now is the clock (nil: time.Now).
func New(e Engine, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{e: e, now: now}
}

// Engine is the store's engine.
func (s *Store) Engine() Engine { return s.e }

func (s *Store) Now() time.Time               { return s.now() }
func (s *Store) Shared() bool                 { return s.e.Shared() }
func (s *Store) Describe() string             { return s.e.Describe() }
func (s *Store) Close() error                 { return s.e.Close() }
func (s *Store) QueueSignal() <-chan struct{} { return s.e.QueueSignal() }

// Ping checks that the database answers a query, and that no write has failed for want
// of space lately (fullFor).
func (s *Store) Ping(ctx context.Context) error {
	if at := s.fullAt.Load(); at != 0 && ms(s.now())-at < fullFor.Milliseconds() {
		return db.StorageFull(errors.New("a write failed for want of space in the last 30 seconds"))
	}
	return s.e.Read(ctx, func(q Querier) error {
		var one int
		return q.QueryRow(`SELECT 1`).Scan(&one)
	})
}

// read runs fn on a read connection and returns its result.
func read[T any](ctx context.Context, s *Store, fn func(q Querier) (T, error)) (T, error) {
	var out T
	err := s.e.Read(ctx, func(q Querier) error {
		v, err := fn(q)
		out = v
		return err
	})
	return out, err
}

// write runs fn as a write and returns the result of the run that committed. fn may
// run more than once (Engine.Write); each run starts from fn's arguments, and only the
// last run's result, the one whose transaction committed, is returned.
func write[T any](ctx context.Context, s *Store, fn func(q Querier) (T, error)) (T, error) {
	var out T
	err := s.e.Write(ctx, false, func(q Querier) error {
		v, err := fn(q)
		out = v
		return err
	})
	s.noteFull(err)
	return out, err
}

// noteFull remembers a write refused for want of space, for Ping.
func (s *Store) noteFull(err error) {
	if err != nil && errors.Is(err, db.ErrStorageFull) {
		s.fullAt.Store(ms(s.now()))
	}
}

// EventQuerier is a Querier of a write that may append events: only writeEvents makes
// one, and insertEvent takes nothing else, so an event cannot be written outside a
// write the engine knows appends events (PostgreSQL orders those, see db/postgres).
type EventQuerier struct{ Querier }

// writeEvents is write for a write that appends events.
func writeEvents[T any](ctx context.Context, s *Store, fn func(q EventQuerier) (T, error)) (T, error) {
	var out T
	err := s.e.Write(ctx, true, func(q Querier) error {
		v, err := fn(EventQuerier{q})
		out = v
		return err
	})
	s.noteFull(err)
	return out, err
}

// Raw runs one statement written in SQLite's dialect outside the store's methods, as a
// write of its own, and scans its first row into dest, if any. For tests and operator
// tools that inspect the database; the product never calls it.
func (s *Store) Raw(ctx context.Context, q string, args []any, dest ...any) error {
	_, err := write(ctx, s, func(x Querier) (struct{}, error) {
		if len(dest) == 0 {
			_, err := x.Exec(q, args...)
			return struct{}{}, err
		}
		return struct{}{}, x.QueryRow(q, args...).Scan(dest...)
	})
	return err
}

// ms converts a time to the stored form, Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts a stored Unix-millisecond value back; 0 stays the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// nullMS reads a nullable millisecond column.
func nullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// wrapf adds context to an error, keeping a catalogued *db.Error's code reachable.
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
