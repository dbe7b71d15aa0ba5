// Package sqlite is the default engine of the store: one SQLite file, through
// zombiezen.com/go/sqlite (modernc.org/sqlite's CGO-free engine with a statement cache
// and a connection pool). It owns the file's pragmas, its embedded migrations, one
// writer connection whose writes are committed in groups (groupcommit.go), a pool of
// read connections, and the checkpointer that keeps the WAL short (checkpoint.go). The
// queries are db/sqlstore's; nothing here knows what a generation is.
package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

// pragmas are every connection's settings.
var pragmas = []string{
	"PRAGMA busy_timeout = 10000",
	"PRAGMA journal_mode = WAL",
	"PRAGMA foreign_keys = 1",
	// NORMAL in WAL mode survives a crash of the process (kill -9) without losing a
	// commit; only a power loss can drop the last transactions. FULL would cost an fsync
	// per commit on the hot enqueue path.
	"PRAGMA synchronous = NORMAL",
	"PRAGMA temp_store = MEMORY",
}

// writerPragmas are the writing connection's, beside pragmas. The writer never
// checkpoints on its own: copying the WAL back into the database (and its fsyncs) ran
// inside whichever commit crossed 1000 pages, stalling every write queued behind it. The
// checkpointer does it beside the writer instead.
var writerPragmas = []string{"PRAGMA wal_autocheckpoint = 0"}

// readerPragmas are a pooled reader's, beside pragmas.
var readerPragmas = []string{"PRAGMA query_only = 1"}

// DB is the SQLite store: db.Store plus what only a file has.
type DB struct {
	*sqlstore.Store
	e *engine
}

var _ db.Store = (*DB)(nil)

// Open opens (creating if needed) the database at path and applies pending migrations.
func Open(ctx context.Context, path string, o db.Options) (*DB, error) {
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
	e := &engine{path: path, now: o.Now}
	if e.now == nil {
		e.now = time.Now
	}
	fail := func(err error) (*DB, error) {
		e.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w, err := openConn(path, append(append([]string{}, pragmas...), writerPragmas...))
	if err != nil {
		return fail(err)
	}
	e.w = newConn(w)
	if _, err := e.migrate(ctx); err != nil {
		e.Close()
		return nil, err
	}
	n := o.Readers
	if n <= 0 {
		n = max(4, 2*runtime.NumCPU())
	}
	e.readers, err = sqlitex.NewPool(path, sqlitex.PoolOptions{
		Flags:    sqlite.OpenReadWrite | sqlite.OpenWAL | sqlite.OpenURI | sqlite.OpenNoMutex,
		PoolSize: n,
		PrepareConn: func(c *sqlite.Conn) error {
			if err := setup(c, append(append([]string{}, pragmas...), readerPragmas...)); err != nil {
				return err
			}
			e.readConns.Store(c, newConn(c))
			return nil
		},
	})
	if err != nil {
		return fail(err)
	}
	ck, err := openConn(path, pragmas)
	if err != nil {
		return fail(err)
	}
	e.ckpt = startCheckpointer(newConn(ck))
	e.commit = startCommitter(e)
	return &DB{Store: sqlstore.New(e, o.Now), e: e}, nil
}

// openConn opens one connection with its settings. The connection has no SQLite mutex:
// the store uses each from one goroutine at a time.
func openConn(path string, settings []string) (*sqlite.Conn, error) {
	c, err := sqlite.OpenConn(path, sqlite.OpenReadWrite|sqlite.OpenCreate|sqlite.OpenWAL|sqlite.OpenURI|sqlite.OpenNoMutex)
	if err != nil {
		return nil, err
	}
	if err := setup(c, settings); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func setup(c *sqlite.Conn, settings []string) error {
	c.SetBusyTimeout(10 * time.Second)
	for _, p := range settings {
		if err := sqlitex.ExecuteTransient(c, p, nil); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// Path is the database file.
func (d *DB) Path() string { return d.e.path }

// Backup writes a consistent copy of the live database to path with VACUUM INTO; it is
// safe while the server runs. path must not exist yet. The copy is readable by its
// owner only: it holds password hashes and sealed keys.
func (d *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup target %s already exists: choose a new file name", path)
	}
	// Created empty with the copy's mode first: VACUUM INTO writes into an empty file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	f.Close()
	c, err := openConn(d.e.path, pragmas)
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	defer c.Close()
	c.SetInterrupt(ctx.Done())
	if err := sqlitex.ExecuteTransient(c, "VACUUM INTO ?", &sqlitex.ExecOptions{Args: []any{path}}); err != nil {
		os.Remove(path)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

// Migrate applies the embedded migrations not yet recorded (Open already did) and
// returns the names it applied.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	var applied []string
	var err error
	if !d.e.commit.pause(func() { applied, err = d.e.migrate(ctx) }) {
		return nil, db.ErrClosed
	}
	return applied, err
}

// Prepared reports how many statements each connection keeps prepared: the writer's
// and the readers' that have been used (for tests of the statement cache's bound).
func (d *DB) Prepared() (writer int, readers []int) {
	d.e.commit.pause(func() { writer = d.e.w.prepared() })
	d.e.readConns.Range(func(k, v any) bool {
		readers = append(readers, v.(*conn).prepared())
		return true
	})
	return writer, readers
}

// engine is sqlstore.Engine on SQLite.
type engine struct {
	path      string
	now       func() time.Time
	w         *conn // the writer, used by the committer's goroutine only
	readers   *sqlitex.Pool
	readConns sync.Map // *sqlite.Conn -> *conn
	commit    *committer
	ckpt      *checkpointer
	closeOnce sync.Once
	closeErr  error
}

// Read takes a reader from the pool for fn; its statements are interrupted when ctx
// ends (a slow list stops when its client goes away).
func (e *engine) Read(ctx context.Context, fn func(q sqlstore.Querier) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := e.readers.Take(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return db.ErrClosed
	}
	defer e.readers.Put(c)
	v, _ := e.readConns.Load(c)
	rc := v.(*conn)
	defer rc.resetOpen()
	err = fn(rc)
	if err != nil && ctx.Err() != nil && sqlite.ErrCode(err) == sqlite.ResultInterrupt {
		return ctx.Err()
	}
	return err
}

// Write queues fn for the group commit (groupcommit.go). A write refused because the
// file cannot grow (the disk is full, or max_page_count) is db.ErrStorageFull.
func (e *engine) Write(ctx context.Context, _ bool, fn func(q sqlstore.Querier) error) error {
	if e.commit == nil {
		return db.ErrClosed
	}
	err := e.commit.do(ctx, fn)
	if err != nil && sqlite.ErrCode(err).ToPrimary() == sqlite.ResultFull {
		return db.StorageFull(err)
	}
	return err
}

// ClaimQuery takes, for each user with queued jobs and fewer than ?4 running, the
// first runnable job in the user's own order (queue_rank, then job id: oldest first
// unless moved), fewest running first. A user who paused their queue keeps their
// pending generations waiting (a running one between tries still goes). SQLite has
// one writer: nothing else can take the same rows meanwhile.
func (e *engine) ClaimQuery(limit int) string {
	return sqlstore.ClaimSet + `
	WHERE job_id IN (
		SELECT jid FROM (
			SELECT u.running AS running,
				(SELECT j.job_id FROM generations j
				 WHERE j.user_id = u.user_id AND ` + sqlstore.ClaimJob + `
				 ORDER BY j.queue_rank, j.job_id LIMIT 1) AS jid
			FROM queue_users u
			WHERE ` + sqlstore.ClaimUser + `)
		WHERE jid IS NOT NULL
		ORDER BY running, jid
		LIMIT ` + fmt.Sprint(limit) + `)`
}

// NewJobID is one past the largest job id: only this process writes.
func (e *engine) NewJobID() string { return `(SELECT max(job_id) FROM generations) + 1` }

func (e *engine) UniqueViolation(err error) bool {
	switch sqlite.ErrCode(err) {
	case sqlite.ResultConstraintUnique, sqlite.ResultConstraintPrimaryKey:
		return true
	}
	return false
}

func (e *engine) QueueSignal() <-chan struct{} { return nil } // only this process writes
func (e *engine) Shared() bool                 { return false }
func (e *engine) Describe() string             { return e.path }

// Close stops the committer and the checkpointer and closes every connection; reads
// still running keep theirs until they end. It is safe to call more than once.
func (e *engine) Close() error {
	e.closeOnce.Do(func() {
		var errs []error
		if e.commit != nil {
			e.commit.close()
		}
		if e.ckpt != nil {
			errs = append(errs, e.ckpt.close())
		}
		if e.w != nil {
			errs = append(errs, e.w.close())
		}
		if e.readers != nil {
			// The pool closes its connections, finalizing their cached statements, once
			// the reads still running have given theirs back; only then are the
			// wrappers' caches dropped (before, a running read raced with this and
			// could panic storing a statement into the nil map: TestReadRunningDuringClose).
			errs = append(errs, e.readers.Close())
			e.readConns.Range(func(k, v any) bool { v.(*conn).stmts = nil; return true })
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

// TextSearch reads the prompts' FTS5 index (migration 0020), keyed by job_id.
func (e *engine) TextSearch(job string, n int) string {
	return fmt.Sprintf(`%s IN (SELECT rowid FROM generations_fts WHERE generations_fts MATCH ?%d)`, job, n)
}

// TextCount counts a search's matches in the FTS5 index, at most ?2.
func (e *engine) TextCount() string {
	return `SELECT count(*) FROM (SELECT rowid FROM generations_fts WHERE generations_fts MATCH ?1 LIMIT ?2)`
}

// TextQuery is an FTS5 query of the user's token, every word, and the last word as a
// prefix: owner:"u7" AND prompt:"w1" AND prompt:"w2"*. (A prefix merges the entries of
// every term it starts, all users' ones; a whole word is read by seeking to the user's
// entries. So only the word being typed is a prefix.) The words hold only letters and
// digits (db.SearchWords), so quoting needs no escapes.
func (e *engine) TextQuery(userID int64, words []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `owner:"u%d"`, userID)
	for i, w := range words {
		b.WriteString(` AND prompt:"` + w + `"`)
		if i == len(words)-1 {
			b.WriteString("*")
		}
	}
	return b.String()
}
