// Package postgres is the store's engine for several processes, on one host or several,
// sharing one database and so one queue. It runs db/sqlstore's queries (written in
// SQLite's dialect, their parameter marks rewritten here, dialect.go) through pgx's
// database/sql driver. What differs from SQLite is here:
//   - writes are transactions of their own on a pool of connections (PostgreSQL has
//     many writers; the SQLite group commit exists because SQLite has one);
//   - transactions that append events take one advisory lock in turn, so event ids
//     follow commit order, as a stream's replay needs;
//   - claims lock the jobs they take with FOR UPDATE SKIP LOCKED;
//   - LISTEN/NOTIFY (NOTIFY from triggers) carries "new events for user U" and "jobs
//     were queued" between processes, so streams and idle workers elsewhere hear of
//     them at once (listen.go).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Lock keys of pg_advisory_xact_lock / pg_advisory_lock, arbitrary but fixed.
const (
	eventLock   = 7_340_001
	migrateLock = 7_340_002
)

// DB is the PostgreSQL store: db.Store plus what only PostgreSQL does.
type DB struct {
	*sqlstore.Store
	e *engine
}

var _ db.Store = (*DB)(nil)

// Open connects to the PostgreSQL database at dsn (a URL or key=value string as libpq
// takes), applies pending migrations and starts listening for other processes'
// notifications.
func Open(ctx context.Context, dsn string, o db.Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres connection settings: %w", err)
	}
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	n := o.Readers
	if n <= 0 {
		n = max(8, 4*runtime.NumCPU())
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s:%d as %s: %w", cfg.Host, cfg.Port, cfg.User, err)
	}
	e := &engine{pool: pool, dsn: dsn, now: o.Now,
		name: fmt.Sprintf("postgres://%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)}
	if e.now == nil {
		e.now = time.Now
	}
	if _, err := e.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	d := &DB{Store: sqlstore.New(e, o.Now), e: e}
	if e.listen, err = startListener(ctx, dsn, d.Store); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres LISTEN: %w", err)
	}
	return d, nil
}

// Migrate applies the embedded migrations not yet recorded (Open already did).
func (d *DB) Migrate(ctx context.Context) ([]string, error) { return d.e.migrate(ctx) }

// SQL is the connection pool, for tests and tools that inspect the database.
func (d *DB) SQL() *sql.DB { return d.e.pool }

// engine is sqlstore.Engine on PostgreSQL.
type engine struct {
	pool      *sql.DB
	dsn, name string
	now       func() time.Time
	listen    *listener
	closeOnce sync.Once
	closeErr  error
}

func (e *engine) Read(ctx context.Context, fn func(q sqlstore.Querier) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn(querier{ctx: ctx, x: e.pool})
}

// Write runs fn in a transaction of its own, committing when it returns nil. A
// transaction that lost a deadlock runs again, a few times. A write that appends events
// first takes the event lock: PostgreSQL's writers run side by side and take ids from a
// sequence, so a later id could commit first and a stream that had read past it would
// never see the earlier one.
func (e *engine) Write(ctx context.Context, events bool, fn func(q sqlstore.Querier) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// As with SQLite, a write once started runs to its end: the caller's answer is then
	// the truth about what was stored.
	wctx := context.WithoutCancel(ctx)
	for attempt := 1; ; attempt++ {
		err := e.writeOnce(wctx, events, fn)
		if diskFull(err) {
			return db.StorageFull(err)
		}
		if err == nil || !retryable(err) || attempt == 5 {
			return err
		}
		time.Sleep(time.Duration(attempt) * time.Duration(1+rand.IntN(5)) * time.Millisecond)
	}
}

func (e *engine) writeOnce(ctx context.Context, events bool, fn func(q sqlstore.Querier) error) error {
	tx, err := e.pool.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback()
		}
	}()
	if events {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", eventLock); err != nil {
			return fmt.Errorf("event lock: %w", err)
		}
	}
	if err := fn(querier{ctx: ctx, x: tx}); err != nil {
		return err
	}
	// Other processes hear of new events and queued jobs from NOTIFY, sent by triggers
	// when this commits.
	done = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ClaimQuery is the claim for several processes: each user's candidate job is locked
// FOR UPDATE SKIP LOCKED, so a claimer never waits for, nor takes, a row another
// transaction holds, and the outer UPDATE checks again the state it found. The
// candidate is the first in the user's own order, and a paused user's pending
// generations wait (see the SQLite engine's ClaimQuery).
func (e *engine) ClaimQuery(limit int) string {
	return sqlstore.ClaimSet + `
	WHERE state = 'queued' AND job_id IN (
		SELECT c.job_id FROM queue_users u
		CROSS JOIN LATERAL (
			SELECT j.job_id FROM generations j
			WHERE j.user_id = u.user_id AND ` + sqlstore.ClaimJob + `
			ORDER BY j.queue_rank, j.job_id LIMIT 1
			FOR UPDATE SKIP LOCKED) c
		WHERE ` + sqlstore.ClaimUser + `
		ORDER BY u.running, c.job_id
		LIMIT ` + strconv.Itoa(limit) + `)`
}

// NewJobID takes the next value of the job ids' sequence.
func (e *engine) NewJobID() string { return `nextval('generations_job_id_seq')` }

// diskFull reports whether err is PostgreSQL refusing a write for want of disk space
// (SQLSTATE 53100, disk_full).
func diskFull(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "53100"
}

// UniqueViolation reports whether err is a unique constraint refusing a row.
func (e *engine) UniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// QueueSignal fires when another process queued jobs on this database.
func (e *engine) QueueSignal() <-chan struct{} {
	if e.listen == nil {
		return nil
	}
	return e.listen.jobs
}

func (e *engine) Shared() bool     { return true }
func (e *engine) Describe() string { return e.name }

// Close stops listening and closes the pool; it is safe to call more than once.
func (e *engine) Close() error {
	e.closeOnce.Do(func() {
		if e.listen != nil {
			e.listen.close()
		}
		e.closeErr = e.pool.Close()
	})
	return e.closeErr
}

// retryable reports whether a transaction failed only because of another one (a
// deadlock or a serialization failure) and may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// Unreachable reports whether Open failed only because the server could not be reached
// (not started yet, restarting, a network hiccup), as opposed to an answer from it (a
// wrong password, a missing database) or a bad setting, which waiting does not fix.
func Unreachable(err error) bool {
	var pe *pgconn.PgError
	if err == nil || errors.As(err, &pe) {
		return false
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// migrate applies the embedded migrations not yet recorded, each in its own
// transaction. An advisory lock held for the whole run makes processes starting
// together apply each migration once. As with SQLite, a migration is recorded by its
// file name alone, so moving the files runs none again.
func (e *engine) migrate(ctx context.Context) ([]string, error) {
	conn, err := e.pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLock)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var applied []string
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return applied, err
		}
		ran, err := migrateOne(ctx, conn, version, string(body), e.now())
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", version, err)
		}
		if ran {
			applied = append(applied, version)
		}
	}
	return applied, nil
}

func migrateOne(ctx context.Context, conn *sql.Conn, version, body string, now time.Time) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		version, now.UnixMilli()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// TextSearch matches a generation's search vector (the stored search_vector of
// migration 0019: the owner's token and the prompt folded as SQLite folds it), which
// its GIN index holds. The matches are found first, once, into an array (an InitPlan:
// the planner cannot turn it into a join), through the GIN index; the list then reads
// the user's rows newest first and keeps those (as SQLite does with its FTS5 rowids),
// or, for few matches, reads them by job_id. As a subquery IN, a generic plan joined
// the whole table to the matches (a sequential scan of a million rows for heavy's
// page), or walked the history computing each row's vector.
func (e *engine) TextSearch(job string, n int) string {
	return fmt.Sprintf(`%s = ANY (ARRAY (SELECT s.job_id FROM generations s
		WHERE s.search_vector @@ to_tsquery('simple', nanobanana_fold(?%d))))`, job, n)
}

// TextCount counts a search's matches through the GIN index, at most ?2.
func (e *engine) TextCount() string {
	return `SELECT count(*) FROM (SELECT 1 FROM generations s
		WHERE s.search_vector @@ to_tsquery('simple', nanobanana_fold(?1)) LIMIT ?2) x`
}

// TextQuery is a tsquery of the user's token, every word of the prompt's, and the last
// as a prefix (as SQLite's): u7:A & w1:D & w2:*D, folded by TextSearch as the prompt is in the index
// (nanobanana_fold lowers the weights' letters too, which tsquery reads either way). The
// words hold only letters and digits (db.SearchWords), so they need no quoting.
func (e *engine) TextQuery(userID int64, words []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "u%d:A", userID)
	for i, w := range words {
		if i == len(words)-1 {
			b.WriteString(" & " + w + ":*D")
		} else {
			b.WriteString(" & " + w + ":D")
		}
	}
	return b.String()
}
