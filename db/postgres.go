package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// PostgreSQL is the way out when one machine is not enough: several `nanobanana serve`
// processes, on one host or several, share one database and so one queue. The queries
// are the SQLite ones (see dialect.go); what differs is here:
//   - writes are transactions of their own on a pool of connections (PostgreSQL has
//     many writers; the SQLite group commit exists because SQLite has one);
//   - transactions that append events take one advisory lock in turn, so event ids
//     follow commit order, as SSE replay needs;
//   - claims lock the jobs they take with FOR UPDATE SKIP LOCKED;
//   - LISTEN/NOTIFY (NOTIFY from triggers) carries "new events for user U" and "jobs
//     were queued" between processes, so streams and idle workers elsewhere hear of
//     them at once.

//go:embed migrations_pg/*.sql
var migrationPGFS embed.FS

// Lock keys of pg_advisory_xact_lock / pg_advisory_lock, arbitrary but fixed.
const (
	pgEventLock   = 7_340_001
	pgMigrateLock = 7_340_002
)

// Channels of NOTIFY.
const (
	pgEventsChannel = "nanobanana_events"
	pgJobsChannel   = "nanobanana_jobs"
)

// OpenPostgres connects to the PostgreSQL database at dsn (a URL or key=value string as
// libpq takes), applies pending migrations and starts listening for other processes'
// notifications.
func OpenPostgres(ctx context.Context, dsn string, o Options) (*DB, error) {
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
	d := &DB{W: pool, R: pool, Path: fmt.Sprintf("postgres://%s:%d/%s", cfg.Host, cfg.Port, cfg.Database), pg: true, now: o.Now}
	if d.now == nil {
		d.now = time.Now
	}
	if _, err := d.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if d.listen, err = startPGListener(ctx, dsn, d); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres LISTEN: %w", err)
	}
	return d, nil
}

// pgWriteTx runs fn in a transaction of its own, committing when it returns nil. A
// transaction that lost a deadlock runs again, a few times. With events set it first
// takes the event lock (see eventTx).
func (d *DB) pgWriteTx(ctx context.Context, events bool, fn func(tx *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// As with SQLite, a write once started runs to its end: the caller's answer is then
	// the truth about what was stored.
	wctx := context.WithoutCancel(ctx)
	for attempt := 1; ; attempt++ {
		err := d.pgWriteOnce(wctx, events, fn)
		if err == nil || !pgRetryable(err) || attempt == 5 {
			return err
		}
		time.Sleep(time.Duration(attempt) * time.Duration(1+rand.IntN(5)) * time.Millisecond)
	}
}

func (d *DB) pgWriteOnce(ctx context.Context, events bool, fn func(tx *wtx) error) (err error) {
	tx, err := d.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback()
		}
	}()
	w := &wtx{tx: tx, d: d}
	if events {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", pgEventLock); err != nil {
			return fmt.Errorf("event lock: %w", err)
		}
		w.eventsLocked = true
	}
	if err := fn(w); err != nil {
		return err
	}
	// Other processes hear of new events and queued jobs from NOTIFY, sent by triggers
	// (migration 0004) when this commits.
	done = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// migratePG is Migrate for PostgreSQL. An advisory lock held for the whole run makes
// processes starting together apply each migration once.
func (d *DB) migratePG(ctx context.Context) ([]string, error) {
	conn, err := d.W.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", pgMigrateLock); err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", pgMigrateLock)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	return d.applyMigrations(ctx, migrationPGFS, "migrations_pg", func(fn func(tx *sql.Tx) error) error {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// QueueSignal returns a channel that receives a signal when another process queued jobs
// on this database (PostgreSQL), so idle workers here need not wait for their next poll.
// It is nil, and never fires, with SQLite, which only this process writes.
func (d *DB) QueueSignal() <-chan struct{} {
	if d.listen == nil {
		return nil
	}
	return d.listen.jobs
}

// pgListener holds one connection of its own in LISTEN on the package's channels and
// turns notifications into the in-process signals (the event broker, QueueSignal).
type pgListener struct {
	dsn    string
	d      *DB
	jobs   chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// startPGListener listens before it returns, so no notification sent after OpenPostgres
// is missed.
func startPGListener(ctx context.Context, dsn string, d *DB) (*pgListener, error) {
	l := &pgListener{dsn: dsn, d: d, jobs: make(chan struct{}, 1)}
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done.Add(1)
	go l.run(runCtx, conn)
	return l, nil
}

func (l *pgListener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, l.dsn)
	if err != nil {
		return nil, err
	}
	for _, ch := range []string{pgEventsChannel, pgJobsChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return conn, nil
}

func (l *pgListener) run(ctx context.Context, conn *pgx.Conn) {
	defer l.done.Done()
	backoff := 100 * time.Millisecond
	for {
		if conn != nil {
			_ = l.listen(ctx, conn) // returns when the connection drops or ctx ends
			conn.Close(context.WithoutCancel(ctx))
			conn = nil
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		c, err := l.connect(ctx)
		if err != nil {
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		conn, backoff = c, 100*time.Millisecond
		// Whatever was sent while no one listened is read now: every stream re-reads
		// its events and idle workers look at the queue.
		l.d.notifyAll()
		l.wakeJobs()
	}
}

func (l *pgListener) listen(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Channel {
		case pgEventsChannel:
			if u, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
				l.d.notify(u)
			}
		case pgJobsChannel:
			l.wakeJobs()
		}
	}
}

func (l *pgListener) wakeJobs() {
	select {
	case l.jobs <- struct{}{}:
	default:
	}
}

func (l *pgListener) close() {
	l.cancel()
	l.done.Wait()
}
