// Package db owns the database: SQLite by default (opened with the right pragmas, one
// writer and a pool of readers) or PostgreSQL for several processes sharing one queue
// (postgres.go), the embedded migrations of each, and every query the product runs. Domain types (User, Generation,
// ...) live here, next to the rows they are read from. It knows nothing of HTTP.
package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tune how the database is opened. The zero value is right for production.
type Options struct {
	// Readers is the size of the read-only connection pool (default: 2 x CPUs, at least 4);
	// with PostgreSQL, of the one pool for reads and writes (default: 4 x CPUs, at least 8).
	Readers int
	// Now is the clock; nil means time.Now. Tests set it to control expiry.
	Now func() time.Time
}

// DB is the single writer connection plus a pool of read-only connections. SQLite allows
// one writer at a time; funnelling writes through one connection with BEGIN IMMEDIATE
// turns lock contention into a queue in Go instead of SQLITE_BUSY errors. The store's
// writes run on the committer's connection (wconn); W is a database/sql connection for
// the migrations (before wconn opens), backups and tests.
type DB struct {
	W    *sql.DB // one connection, BEGIN IMMEDIATE
	R    *sql.DB // read-only pool
	Path string
	now  func() time.Time

	rpool  *readPool   // the reads' connections (readpool.go)
	wconn  *sqliteConn // the writer's connection, used by the committer (sqliteconn.go)
	ckpt   *checkpointer
	commit *committer // group commit of writeTx (groupcommit.go)
	events broker     // in-process fan-out of new events (events.go)

	// pg is set for PostgreSQL: W and R are then one pool, writes run as transactions
	// of their own (no group commit), and queries are rewritten by sqlFor.
	pg     bool
	listen *pgListener // LISTEN for other processes' events and queued jobs
}

// pragmas are every connection's settings.
var pragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"foreign_keys(1)",
	// NORMAL in WAL mode survives a crash of the process (kill -9) without losing a
	// commit; only a power loss can drop the last transactions. FULL would cost an fsync
	// per commit on the hot enqueue path.
	"synchronous(NORMAL)",
	"temp_store(MEMORY)",
}

// writerPragmas are a writing connection's, beside pragmas. The writer never
// checkpoints: copying the WAL back into the database (and its fsyncs) ran inside
// whichever commit crossed 1000 pages, stalling every write queued behind it. The
// checkpointer does it beside the writer instead.
var writerPragmas = []string{"wal_autocheckpoint(0)"}

// writerSetup and readerSetup are the setup of the writer's connection (sqliteconn.go)
// and of a pooled reader (readpool.go), as statements.
var (
	writerSetup = pragmaStatements(append(append([]string{}, pragmas...), writerPragmas...))
	readerSetup = pragmaStatements(append(append([]string{}, pragmas...), "query_only(1)"))
)

func pragmaStatements(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = "PRAGMA " + p
	}
	return out
}

// dsn builds a modernc.org/sqlite DSN. The pragmas go in the DSN, not in an Exec after
// opening, because they are per connection and the pool opens connections on its own.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		for _, p := range writerPragmas {
			q.Add("_pragma", p)
		}
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and applies pending migrations.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// SQLite gives the -wal and -shm files the main file's mode: creating it 0600 first
	// keeps password hashes and sealed keys readable by the service user only.
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	d := &DB{W: w, Path: path, now: o.Now}
	if d.now == nil {
		d.now = time.Now
	}
	if _, err := d.Migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	n := o.Readers
	if n <= 0 {
		n = max(4, 2*runtime.NumCPU())
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(1) // the store's reads use rpool; R serves Ping, copies and tests
	d.R = r
	d.rpool = newReadPool(path, n, readerSetup)
	c, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	d.ckpt = startCheckpointer(c)
	if d.wconn, err = openSQLiteConn(path, writerSetup...); err != nil {
		d.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	d.commit = startCommitter(d)
	return d, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	if d.listen != nil {
		d.listen.close()
	}
	if d.pg {
		return d.W.Close()
	}
	if d.commit != nil {
		d.commit.close()
	}
	var errC error
	if d.ckpt != nil {
		errC = d.ckpt.close()
	}
	if d.wconn != nil {
		d.wconn.close()
	}
	if d.rpool != nil {
		d.rpool.close()
	}
	var errR error
	if d.R != nil {
		errR = d.R.Close()
	}
	return errors.Join(d.W.Close(), errR, errC)
}

// Postgres reports whether the database is PostgreSQL (shared by several processes)
// rather than SQLite (owned by one).
func (d *DB) Postgres() bool { return d.pg }

// Now is the database's clock.
func (d *DB) Now() time.Time { return d.now() }

// Ping checks that the database answers a query (used by /readyz).
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.R.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// WriteTx runs fn in one write transaction of its own on W, committing when fn returns
// nil. The package's store methods write through writeTx (group commit, on the writer's
// own connection) instead; this direct form is for the migrations, which run before
// that connection opens.
func (d *DB) WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if d.ckpt != nil {
		d.ckpt.committed()
	}
	return nil
}

// Backup writes a consistent copy of the live database to path with VACUUM INTO; it is
// safe while the server runs. path must not exist yet.
func (d *DB) Backup(ctx context.Context, path string) error {
	if d.pg {
		return errors.New("backup copies the SQLite database; with PostgreSQL use its own tools (pg_dump)")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup target %s already exists: choose a new file name", path)
	}
	if _, err := d.W.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

// NewID returns a random 128-bit id as 32 lowercase hex characters: unguessable, so an
// id alone never reveals or grants anything.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// NewTimeID returns a generation id: 32 lowercase hex characters like NewID's, of which
// the first 12 are the current Unix time in milliseconds and the other 20 are 80 random
// bits. 80 random bits per millisecond still cannot be guessed or enumerated; the id
// does tell when it was made, which the generation shows its owner anyway. Ids that grow
// with time put each insert into the index keyed by them (generations.id; before
// migration 0007 also jobs.generation_id) on the last page, the one the previous inserts touched, instead
// of a random page each: one page fewer written per index and commit under load.
func NewTimeID() string {
	var b [16]byte
	t := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(t)
		t >>= 8
	}
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
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
