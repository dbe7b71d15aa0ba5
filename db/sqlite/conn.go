package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"zombiezen.com/go/sqlite"

	"nanobanana/db/sqlstore"
)

// maxStmts bounds the statements a connection keeps prepared. The store runs a fixed
// set of statement texts (sqlstore binds what varies), so in practice a connection
// holds a few dozen; a text past the bound is prepared for its one use and finalized.
// zombiezen's own cache (Conn.Prepare) has no bound, so this one decides what enters it.
const maxStmts = 128

// conn runs the store's statements on one zombiezen connection, as a sqlstore.Querier.
// A connection is used by one goroutine at a time (the committer, or a reader that took
// it from the pool).
type conn struct {
	c     *sqlite.Conn
	stmts map[string]*stmt // the texts prepared in c's cache
	open  []*rows          // rows not yet closed, reset before the connection is reused
}

type stmt struct {
	s    *sqlite.Stmt
	busy bool // its rows are open: a nested use of the same text prepares another
}

func newConn(c *sqlite.Conn) *conn { return &conn{c: c, stmts: map[string]*stmt{}} }

// prepared reports how many statements the connection keeps (for tests).
func (c *conn) prepared() int { return len(c.stmts) }

// prep returns a statement for q and whether it must be finalized after its use.
func (c *conn) prep(q string) (*stmt, bool, error) {
	if st, ok := c.stmts[q]; ok && !st.busy {
		return st, false, nil
	} else if !ok && len(c.stmts) < maxStmts {
		s, err := c.c.Prepare(q)
		if err != nil {
			return nil, false, err
		}
		st := &stmt{s: s}
		c.stmts[q] = st
		return st, false, nil
	}
	s, trailing, err := c.c.PrepareTransient(q)
	if err != nil {
		return nil, false, err
	}
	if trailing != 0 {
		s.Finalize()
		return nil, false, fmt.Errorf("sqlite: %d bytes after the statement: %.40q", trailing, q)
	}
	return &stmt{s: s}, true, nil
}

// bind binds args to the statement's parameters in order (? or ?N, numbered from 1).
// Bindings are not cleared between runs: SQLite plans a statement whose plan may
// depend on a bound value (LIMIT ?) again when that value changes, and clearing them
// made it do so on every run.
func bind(s *sqlite.Stmt, args []any) error {
	if n := s.BindParamCount(); n != len(args) {
		return fmt.Errorf("sqlite: %d arguments for %d parameters", len(args), n)
	}
	for i, a := range args {
		p := i + 1
		switch v := a.(type) {
		case nil:
			s.BindNull(p)
		case int64:
			s.BindInt64(p, v)
		case int:
			s.BindInt64(p, int64(v))
		case int32:
			s.BindInt64(p, int64(v))
		case bool:
			s.BindBool(p, v)
		case float64:
			s.BindFloat(p, v)
		case string:
			s.BindText(p, v)
		case []byte:
			if v == nil {
				s.BindNull(p)
			} else {
				s.BindBytes(p, v)
			}
		default:
			return fmt.Errorf("sqlite: cannot bind %T (store times as Unix milliseconds)", a)
		}
	}
	return nil
}

// Exec runs q to its end and returns the rows it changed.
func (c *conn) Exec(q string, args ...any) (int64, error) {
	st, transient, err := c.prep(q)
	if err != nil {
		return 0, err
	}
	defer c.done(st, transient)
	if err := bind(st.s, args); err != nil {
		return 0, err
	}
	for {
		row, err := st.s.Step()
		if err != nil {
			return 0, err
		}
		if !row {
			break
		}
	}
	return int64(c.c.Changes()), nil
}

// done resets a statement after its use, or finalizes a transient one.
func (c *conn) done(st *stmt, transient bool) {
	if transient {
		st.s.Finalize()
		return
	}
	st.s.Reset()
	st.busy = false
}

// Query runs q; the rows hold the statement until closed.
func (c *conn) Query(q string, args ...any) (sqlstore.Rows, error) {
	r, err := c.query(q, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (c *conn) query(q string, args ...any) (*rows, error) {
	st, transient, err := c.prep(q)
	if err != nil {
		return nil, err
	}
	if err := bind(st.s, args); err != nil {
		c.done(st, transient)
		return nil, err
	}
	st.busy = true
	r := &rows{c: c, st: st, transient: transient}
	c.open = append(c.open, r)
	return r, nil
}

// resetOpen closes rows a caller left open (a panicking write, a forgotten Close), so
// the next user of the connection starts clean.
func (c *conn) resetOpen() {
	for len(c.open) > 0 {
		c.open[len(c.open)-1].Close()
	}
}

// close finalizes the statements and closes the connection.
func (c *conn) close() error {
	c.resetOpen()
	c.stmts = nil
	return c.c.Close() // finalizes the cached statements
}

// rows are a query's rows, read like database/sql's.
type rows struct {
	c         *conn
	st        *stmt
	transient bool
	err       error
	closed    bool
}

func (r *rows) Next() bool {
	if r.closed || r.err != nil {
		return false
	}
	row, err := r.st.s.Step()
	if err != nil {
		r.err = err
		r.Close()
		return false
	}
	if !row {
		r.Close()
	}
	return row
}

func (r *rows) Err() error { return r.err }

func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	for i, o := range r.c.open {
		if o == r {
			r.c.open = append(r.c.open[:i], r.c.open[i+1:]...)
			break
		}
	}
	r.c.done(r.st, r.transient)
	return nil
}

// Scan copies the current row's columns into dest, converting as database/sql would
// for the kinds the store scans into.
func (r *rows) Scan(dest ...any) error {
	if r.closed {
		return errors.New("sqlite: Scan after the rows were closed")
	}
	s := r.st.s
	if n := s.ColumnCount(); n != len(dest) {
		return fmt.Errorf("sqlite: %d destinations for %d columns", len(dest), n)
	}
	for i, d := range dest {
		null := s.ColumnType(i) == sqlite.TypeNull
		switch v := d.(type) {
		case *string:
			*v = s.ColumnText(i)
		case *int64:
			*v = s.ColumnInt64(i)
		case *int:
			*v = int(s.ColumnInt64(i))
		case *bool:
			*v = s.ColumnInt64(i) != 0
		case *float64:
			*v = s.ColumnFloat(i)
		case *[]byte:
			if null {
				*v = nil
				break
			}
			b := make([]byte, s.ColumnLen(i))
			s.ColumnBytes(i, b)
			*v = b
		case *sql.NullInt64:
			*v = sql.NullInt64{Int64: s.ColumnInt64(i), Valid: !null}
		case *sql.NullString:
			*v = sql.NullString{String: s.ColumnText(i), Valid: !null}
		case *any:
			*v = columnValue(s, i)
		default:
			return fmt.Errorf("sqlite: cannot scan column %d into %T", i, d)
		}
	}
	return nil
}

// columnValue is a column as database/sql gives it to *any.
func columnValue(s *sqlite.Stmt, i int) any {
	switch s.ColumnType(i) {
	case sqlite.TypeInteger:
		return s.ColumnInt64(i)
	case sqlite.TypeFloat:
		return s.ColumnFloat(i)
	case sqlite.TypeText:
		return s.ColumnText(i)
	case sqlite.TypeBlob:
		b := make([]byte, s.ColumnLen(i))
		s.ColumnBytes(i, b)
		return b
	}
	return nil
}

// row is a one-row query's answer.
type row struct {
	r   *rows
	err error
}

func (c *conn) QueryRow(q string, args ...any) sqlstore.Row {
	r, err := c.query(q, args...)
	return &row{r: r, err: err}
}

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.r.Close()
	if !r.r.Next() {
		if r.r.err != nil {
			return r.r.err
		}
		return sql.ErrNoRows
	}
	return r.r.Scan(dest...)
}
