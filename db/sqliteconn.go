package db

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The writer's connection. Every write of the SQLite deployment runs on it, from one
// goroutine (the committer), so it is driven through SQLite's C API as modernc.org/sqlite
// compiles it to Go (modernc.org/sqlite/lib), not through database/sql and the driver:
// those allocate per statement (a Stmt per transaction, the rows' column names and
// declared types, each argument's C copy and a conversion per scanned value), take a
// lock per call and parse BEGIN and COMMIT anew each time, which together were ~30% of
// the single writer's time per job (pprof of BenchmarkQueueOverhead). Here statements
// are prepared once, arguments are bound from a buffer owned by each statement, values
// are read straight into the caller's variables, and the connection is opened without
// SQLite's own mutex (one goroutine at a time uses it, the committer's).
//
// The store's reads run on connections of the same kind (readpool.go); migrations,
// backups and Ping keep database/sql (DB.W, DB.R).

// sqliteConn is one SQLite connection used by one goroutine at a time.
type sqliteConn struct {
	tls   *libc.TLS
	db    uintptr
	stmts map[string]*sqliteStmt
	open  []*sqliteStmt // bound and not reset yet: queries whose rows are open
}

// sqliteError is a failed call: SQLite's extended result code and its message.
type sqliteError struct {
	code int32
	msg  string
}

func (e *sqliteError) Error() string {
	return fmt.Sprintf("%s (%d)", e.msg, e.code)
}

// cmem views n bytes of C memory at p.
func cmem(p uintptr, n int) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n)
}

// cstring copies s into new C memory, NUL-terminated; the caller frees it.
func cstring(tls *libc.TLS, s string) (uintptr, error) {
	p := libc.Xmalloc(tls, libc.Tsize_t(len(s)+1))
	if p == 0 {
		return 0, errors.New("sqlite: out of memory")
	}
	b := cmem(p, len(s)+1)
	copy(b, s)
	b[len(s)] = 0
	return p, nil
}

// openSQLiteConn opens path read-write (it must exist) and runs the setup statements
// (pragmas) on it.
func openSQLiteConn(path string, setup ...string) (*sqliteConn, error) {
	c := &sqliteConn{tls: libc.NewTLS(), stmts: map[string]*sqliteStmt{}}
	name, err := cstring(c.tls, path)
	if err != nil {
		c.tls.Close()
		return nil, err
	}
	defer libc.Xfree(c.tls, name)
	pdb := c.tls.Alloc(int(unsafe.Sizeof(uintptr(0))))
	defer c.tls.Free(int(unsafe.Sizeof(uintptr(0))))
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, pdb,
		sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_NOMUTEX|sqlite3.SQLITE_OPEN_EXRESCODE, 0)
	c.db = *(*uintptr)(*(*unsafe.Pointer)(unsafe.Pointer(&pdb)))
	if rc != sqlite3.SQLITE_OK {
		err := c.errorFor(rc)
		c.close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	for _, q := range setup {
		if err := c.execOnce(q); err != nil {
			c.close()
			return nil, fmt.Errorf("open %s: %s: %w", path, q, err)
		}
	}
	return c, nil
}

// errorFor describes the failure rc of the last call on the connection.
func (c *sqliteConn) errorFor(rc int32) error {
	if c.db == 0 {
		return &sqliteError{code: rc, msg: libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))}
	}
	code := sqlite3.Xsqlite3_extended_errcode(c.tls, c.db)
	if code&0xff != rc&0xff {
		code = rc
	}
	return &sqliteError{code: code, msg: libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))}
}

// execOnce runs a statement without keeping it prepared (setup, rare statements).
func (c *sqliteConn) execOnce(q string) error {
	s, err := c.prepare(q, false)
	if err != nil {
		return err
	}
	defer s.finalize()
	_, err = s.exec(nil)
	return err
}

// stmt returns q prepared, from the connection's cache. Statements are a small fixed set
// (maxCachedStmts bounds it anyway); past the bound they are prepared each time.
func (c *sqliteConn) stmt(q string) (*sqliteStmt, error) {
	if s := c.stmts[q]; s != nil && !s.busy {
		return s, nil
	}
	if _, cached := c.stmts[q]; cached || len(c.stmts) >= maxCachedStmts {
		// In use by an open query (a caller running the same query inside its rows
		// loop) or the cache is full: a statement for this call only.
		s, err := c.prepare(q, false)
		if err != nil {
			return nil, err
		}
		s.once = true
		return s, nil
	}
	s, err := c.prepare(q, true)
	if err != nil {
		return nil, err
	}
	c.stmts[q] = s
	return s, nil
}

func (c *sqliteConn) prepare(q string, persistent bool) (*sqliteStmt, error) {
	z, err := cstring(c.tls, q)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, z)
	pp := c.tls.Alloc(2 * int(unsafe.Sizeof(uintptr(0))))
	defer c.tls.Free(2 * int(unsafe.Sizeof(uintptr(0))))
	tail := pp + unsafe.Sizeof(uintptr(0))
	var flags uint32
	if persistent {
		flags = sqlite3.SQLITE_PREPARE_PERSISTENT
	}
	rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, z, int32(len(q)+1), flags, pp, tail)
	p := *(*uintptr)(*(*unsafe.Pointer)(unsafe.Pointer(&pp)))
	if rc != sqlite3.SQLITE_OK {
		if p != 0 {
			sqlite3.Xsqlite3_finalize(c.tls, p)
		}
		return nil, c.errorFor(rc)
	}
	if p == 0 {
		return nil, fmt.Errorf("sqlite: no statement in %q", q)
	}
	t := *(*uintptr)(*(*unsafe.Pointer)(unsafe.Pointer(&tail)))
	for _, b := range cmem(t, int(z+uintptr(len(q))-t)) {
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' && b != ';' {
			sqlite3.Xsqlite3_finalize(c.tls, p)
			return nil, fmt.Errorf("sqlite: more than one statement in %q", q)
		}
	}
	return &sqliteStmt{c: c, p: p, params: int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, p)),
		cols: int(sqlite3.Xsqlite3_column_count(c.tls, p))}, nil
}

func (c *sqliteConn) close() {
	if c.tls == nil {
		return
	}
	for q, s := range c.stmts {
		s.finalize()
		delete(c.stmts, q)
	}
	if c.db != 0 {
		sqlite3.Xsqlite3_close_v2(c.tls, c.db)
		c.db = 0
	}
	c.tls.Close()
	c.tls = nil
}

// inTx reports whether a transaction is open on the connection.
func (c *sqliteConn) inTx() bool { return sqlite3.Xsqlite3_get_autocommit(c.tls, c.db) == 0 }

// sqliteStmt is a prepared statement and the C buffer its text arguments are bound from
// (SQLITE_STATIC: the buffer lives as long as the statement, and is only replaced after
// the bindings into it are cleared).
type sqliteStmt struct {
	c      *sqliteConn
	p      uintptr
	params int
	cols   int
	buf    uintptr
	bufCap int
	busy   bool // bound and not yet reset (a query's rows are open)
	once   bool // not cached: finalized when done
}

func (s *sqliteStmt) finalize() {
	if s.p != 0 {
		sqlite3.Xsqlite3_finalize(s.c.tls, s.p)
		s.p = 0
	}
	if s.buf != 0 {
		libc.Xfree(s.c.tls, s.buf)
		s.buf, s.bufCap = 0, 0
	}
}

// bindArg converts what database/sql would accept as an argument into the few kinds
// SQLite binds.
func bindArg(a any) (any, error) {
	switch v := a.(type) {
	case nil, int64, float64, string, []byte, bool:
		return v, nil
	case int:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case sql.NullInt64:
		if !v.Valid {
			return nil, nil
		}
		return v.Int64, nil
	case sql.NullString:
		if !v.Valid {
			return nil, nil
		}
		return v.String, nil
	}
	v, err := driver.DefaultParameterConverter.ConvertValue(a)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(interface{ Unix() int64 }); ok {
		return nil, fmt.Errorf("sqlite: bind %T: store times as Unix milliseconds", a)
	}
	return v, nil
}

// bind binds args to the statement's parameters in order (?, or ?N numbered from 1).
func (s *sqliteStmt) bind(args []any) error {
	if len(args) != s.params {
		return fmt.Errorf("sqlite: %d arguments for %d parameters", len(args), s.params)
	}
	// The text and blob arguments are copied into the statement's buffer, which must
	// hold them all before the first is bound (growing it frees the old one).
	need := 0
	for _, a := range args {
		switch x := a.(type) {
		case nil, int64, int, float64, bool:
		case string:
			need += len(x)
		case []byte:
			need += len(x)
		default:
			v, err := bindArg(a)
			if err != nil {
				return err
			}
			switch x := v.(type) {
			case string:
				need += len(x)
			case []byte:
				need += len(x)
			}
		}
	}
	if s.params > 0 && (s.buf == 0 || need > s.bufCap) {
		if s.buf != 0 {
			// The last run's text bindings point into the buffer: unbind them first.
			sqlite3.Xsqlite3_clear_bindings(s.c.tls, s.p)
			libc.Xfree(s.c.tls, s.buf)
			s.buf, s.bufCap = 0, 0
		}
		n := max(need, 256)
		if s.buf = libc.Xmalloc(s.c.tls, libc.Tsize_t(n)); s.buf == 0 {
			return errors.New("sqlite: out of memory")
		}
		s.bufCap = n
	}
	tls, p := s.c.tls, s.p
	s.busy = true
	s.c.open = append(s.c.open, s)
	off := 0
	for i, a := range args {
		n := int32(i + 1)
		v, err := bindArg(a)
		if err != nil {
			return err
		}
		var rc int32
		switch x := v.(type) {
		case nil:
			rc = sqlite3.Xsqlite3_bind_null(tls, p, n)
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(tls, p, n, x)
		case float64:
			rc = sqlite3.Xsqlite3_bind_double(tls, p, n, x)
		case bool:
			var b int64
			if x {
				b = 1
			}
			rc = sqlite3.Xsqlite3_bind_int64(tls, p, n, b)
		case string:
			copy(cmem(s.buf+uintptr(off), len(x)), x)
			rc = sqlite3.Xsqlite3_bind_text(tls, p, n, s.buf+uintptr(off), int32(len(x)), 0)
			off += len(x)
		case []byte:
			if x == nil {
				rc = sqlite3.Xsqlite3_bind_null(tls, p, n)
				break
			}
			copy(cmem(s.buf+uintptr(off), len(x)), x)
			rc = sqlite3.Xsqlite3_bind_blob(tls, p, n, s.buf+uintptr(off), int32(len(x)), 0)
			off += len(x)
		default:
			return fmt.Errorf("sqlite: cannot bind %T", v)
		}
		if rc != sqlite3.SQLITE_OK {
			return s.c.errorFor(rc)
		}
	}
	return nil
}

// done resets the statement after a run, so it can run again.
func (s *sqliteStmt) done() {
	if s.busy {
		// The bindings stay: every parameter is bound again before the next run, and
		// clearing them made SQLite re-prepare any statement with a LIMIT ? on each
		// run (a LIMIT's value can change its plan, and a NULL-to-value rebind
		// counts as a change).
		sqlite3.Xsqlite3_reset(s.c.tls, s.p)
		s.busy = false
		for i, o := range s.c.open {
			if o == s {
				s.c.open = append(s.c.open[:i], s.c.open[i+1:]...)
				break
			}
		}
	}
	if s.once {
		s.finalize() // also when binding failed before anything was bound
	}
}

// resetOpen resets the statements whose rows a caller left open (a panic between a
// query and its Close), so that the next transaction finds them ready. The committer
// calls it after each transaction.
func (c *sqliteConn) resetOpen() {
	for len(c.open) > 0 {
		c.open[len(c.open)-1].done()
	}
}

// sqliteResult is what an exec changed.
type sqliteResult struct{ changes, lastID int64 }

func (r sqliteResult) LastInsertId() (int64, error) { return r.lastID, nil }
func (r sqliteResult) RowsAffected() (int64, error) { return r.changes, nil }

// exec runs the statement to its end (rows it returns are skipped).
func (s *sqliteStmt) exec(args []any) (sqliteResult, error) {
	defer s.done()
	if err := s.bind(args); err != nil {
		return sqliteResult{}, err
	}
	for {
		switch rc := sqlite3.Xsqlite3_step(s.c.tls, s.p); rc {
		case sqlite3.SQLITE_ROW:
			continue
		case sqlite3.SQLITE_DONE:
			return sqliteResult{changes: sqlite3.Xsqlite3_changes64(s.c.tls, s.c.db),
				lastID: sqlite3.Xsqlite3_last_insert_rowid(s.c.tls, s.c.db)}, nil
		default:
			return sqliteResult{}, s.c.errorFor(rc)
		}
	}
}

// query runs the statement and returns its rows; the caller closes them.
func (s *sqliteStmt) query(args []any) (*sqliteRows, error) {
	if err := s.bind(args); err != nil {
		s.done()
		return nil, err
	}
	return &sqliteRows{s: s}, nil
}

// sqliteRows are the rows of a running statement.
type sqliteRows struct {
	s       *sqliteStmt
	err     error
	row     bool // positioned on a row
	closed  bool
	release func() // gives a pooled connection back (readpool.go); nil on the writer
}

func (r *sqliteRows) Next() bool {
	if r.closed || r.err != nil {
		return false
	}
	switch rc := sqlite3.Xsqlite3_step(r.s.c.tls, r.s.p); rc {
	case sqlite3.SQLITE_ROW:
		r.row = true
		return true
	case sqlite3.SQLITE_DONE:
	default:
		r.err = r.s.c.errorFor(rc)
	}
	// Like database/sql's, rows close themselves at their end, giving a pooled
	// connection back before the caller's deferred Close.
	r.row = false
	r.Close()
	return false
}

func (r *sqliteRows) Err() error { return r.err }

func (r *sqliteRows) Close() error {
	if !r.closed {
		r.closed = true
		r.s.done()
		if r.release != nil {
			r.release()
		}
	}
	return r.err
}

// Scan reads the current row into dest, one pointer per column, converting as
// database/sql's Scan does for the kinds this package uses.
func (r *sqliteRows) Scan(dest ...any) error {
	if r.closed || !r.row {
		return errors.New("sqlite: Scan without a row")
	}
	if len(dest) != r.s.cols {
		return fmt.Errorf("sqlite: %d destinations for %d columns", len(dest), r.s.cols)
	}
	for i, d := range dest {
		if err := r.scanColumn(int32(i), d); err != nil {
			return fmt.Errorf("sqlite: column %d: %w", i, err)
		}
	}
	return nil
}

func (r *sqliteRows) text(i int32) string {
	tls, p := r.s.c.tls, r.s.p
	z := sqlite3.Xsqlite3_column_text(tls, p, i)
	return string(cmem(z, int(sqlite3.Xsqlite3_column_bytes(tls, p, i))))
}

// value reads column i as the driver.Value database/sql would have seen.
func (r *sqliteRows) value(i int32) driver.Value {
	tls, p := r.s.c.tls, r.s.p
	switch sqlite3.Xsqlite3_column_type(tls, p, i) {
	case sqlite3.SQLITE_INTEGER:
		return sqlite3.Xsqlite3_column_int64(tls, p, i)
	case sqlite3.SQLITE_FLOAT:
		return sqlite3.Xsqlite3_column_double(tls, p, i)
	case sqlite3.SQLITE_TEXT:
		return r.text(i)
	case sqlite3.SQLITE_BLOB:
		z := sqlite3.Xsqlite3_column_blob(tls, p, i)
		return append([]byte{}, cmem(z, int(sqlite3.Xsqlite3_column_bytes(tls, p, i)))...)
	}
	return nil
}

func (r *sqliteRows) scanColumn(i int32, d any) error {
	tls, p := r.s.c.tls, r.s.p
	typ := sqlite3.Xsqlite3_column_type(tls, p, i)
	switch d := d.(type) {
	case *string:
		switch typ {
		case sqlite3.SQLITE_TEXT, sqlite3.SQLITE_BLOB:
			*d = r.text(i)
			return nil
		case sqlite3.SQLITE_INTEGER:
			*d = strconv.FormatInt(sqlite3.Xsqlite3_column_int64(tls, p, i), 10)
			return nil
		}
	case *int64:
		if typ == sqlite3.SQLITE_INTEGER {
			*d = sqlite3.Xsqlite3_column_int64(tls, p, i)
			return nil
		}
	case *int:
		if typ == sqlite3.SQLITE_INTEGER {
			*d = int(sqlite3.Xsqlite3_column_int64(tls, p, i))
			return nil
		}
	case *bool:
		if typ == sqlite3.SQLITE_INTEGER {
			*d = sqlite3.Xsqlite3_column_int64(tls, p, i) != 0
			return nil
		}
	case *float64:
		switch typ {
		case sqlite3.SQLITE_FLOAT:
			*d = sqlite3.Xsqlite3_column_double(tls, p, i)
			return nil
		case sqlite3.SQLITE_INTEGER:
			*d = float64(sqlite3.Xsqlite3_column_int64(tls, p, i))
			return nil
		}
	case *sql.NullInt64:
		switch typ {
		case sqlite3.SQLITE_NULL:
			*d = sql.NullInt64{}
			return nil
		case sqlite3.SQLITE_INTEGER:
			*d = sql.NullInt64{Int64: sqlite3.Xsqlite3_column_int64(tls, p, i), Valid: true}
			return nil
		}
	case *[]byte:
		switch typ {
		case sqlite3.SQLITE_NULL:
			*d = nil
			return nil
		case sqlite3.SQLITE_BLOB, sqlite3.SQLITE_TEXT:
			z := sqlite3.Xsqlite3_column_blob(tls, p, i)
			*d = append([]byte{}, cmem(z, int(sqlite3.Xsqlite3_column_bytes(tls, p, i)))...)
			return nil
		}
	case *any:
		*d = r.value(i)
		return nil
	case sql.Scanner:
		return d.Scan(r.value(i))
	default:
		return fmt.Errorf("cannot scan into %T", d)
	}
	return fmt.Errorf("cannot scan %v into %T", r.value(i), d)
}

// sqliteRow is QueryRow's answer: the first row, or the error.
type sqliteRow struct {
	rows *sqliteRows
	err  error
}

func (r *sqliteRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	// Like database/sql's Row, the statement is reset after the first row. An UPDATE
	// or INSERT ... RETURNING has made all its changes by then (SQLite runs them in the
	// first step and buffers the returned rows).
	return r.rows.Scan(dest...)
}
