package db

import (
	"context"
	"database/sql"
	"errors"
	sqlite3 "modernc.org/sqlite/lib"
	"path/filepath"
	"strings"
	"testing"
)

// openWithTable opens a SQLite database in a temporary directory, closed at the end of
// the test, with one table made by schema.
func openWithTable(t *testing.T, schema string) *DB {
	t.Helper()
	sqliteOnly(t)
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.W.ExecContext(context.Background(), schema); err != nil {
		t.Fatal(err)
	}
	return d
}

// The writer's connection binds and scans as database/sql does for the kinds the write
// paths use: what it stores, a reader sees unchanged.
func TestWriterConnRoundTrip(t *testing.T) {
	d := openWithTable(t, `CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER, f REAL, b BLOB, flag INTEGER)`)
	ctx := context.Background()
	var err error
	type named string
	long := strings.Repeat("ü", 5000) // past the statement's first buffer
	rows := []struct {
		s    any
		n    any
		f    any
		b    any
		flag any
	}{
		{"", 0, 0.0, []byte{}, false},                          // empty text is '', not NULL
		{nil, nil, nil, nil, nil},                              // NULLs
		{"héllo 'x'", int64(-7), 2.5, []byte{0, 1, 255}, true}, // bytes kept as they are
		{named("typed"), int32(42), float64(1e300), []byte(long), 1},
		{long, sql.NullInt64{Int64: 9, Valid: true}, 0.0, nil, sql.NullInt64{}},
	}
	var ids []int64
	err = d.writeTx(ctx, func(tx *wtx) error {
		for _, r := range rows {
			res, err := tx.ExecContext(ctx, `INSERT INTO t (s, n, f, b, flag) VALUES (?, ?, ?, ?, ?)`, r.s, r.n, r.f, r.b, r.flag)
			if err != nil {
				return err
			}
			id, _ := res.LastInsertId()
			if n, _ := res.RowsAffected(); n != 1 {
				t.Errorf("rows affected %d", n)
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	read := func(id int64) (s sql.NullString, n sql.NullInt64, f sql.NullFloat64, b []byte, flag sql.NullInt64) {
		t.Helper()
		if err := d.R.QueryRowContext(ctx, `SELECT s, n, f, b, flag FROM t WHERE id = ?`, id).Scan(&s, &n, &f, &b, &flag); err != nil {
			t.Fatal(err)
		}
		return
	}
	if s, n, f, b, flag := read(ids[0]); !s.Valid || s.String != "" || n.Int64 != 0 || !f.Valid || len(b) != 0 || !flag.Valid || flag.Int64 != 0 {
		t.Errorf("row 0: %v %v %v %v %v", s, n, f, b, flag)
	}
	var ts, tb string
	if err := d.R.QueryRowContext(ctx, `SELECT typeof(s), typeof(b) FROM t WHERE id = ?`, ids[0]).Scan(&ts, &tb); err != nil || ts != "text" || tb != "blob" {
		t.Errorf("row 0 stored as %s, %s (%v), want text and an empty blob", ts, tb, err)
	}
	if s, n, f, b, flag := read(ids[1]); s.Valid || n.Valid || f.Valid || b != nil || flag.Valid {
		t.Errorf("row 1 should be all NULL: %v %v %v %v %v", s, n, f, b, flag)
	}
	if s, n, f, b, flag := read(ids[2]); s.String != "héllo 'x'" || n.Int64 != -7 || f.Float64 != 2.5 || string(b) != "\x00\x01\xff" || flag.Int64 != 1 {
		t.Errorf("row 2: %v %v %v %q %v", s, n, f, b, flag)
	}
	if s, n, f, b, _ := read(ids[3]); s.String != "typed" || n.Int64 != 42 || f.Float64 != 1e300 || string(b) != long {
		t.Errorf("row 3: %v %v %v len(b)=%d", s, n, f, len(b))
	}
	if s, n, _, b, flag := read(ids[4]); s.String != long || n.Int64 != 9 || b != nil || flag.Valid {
		t.Errorf("row 4: len(s)=%d %v %v %v", len(s.String), n, b, flag)
	}

	// Scanning on the writer: into the kinds the write paths use, and NULL handling.
	err = d.writeTx(ctx, func(tx *wtx) error {
		var s string
		var n int64
		var i int
		var f float64
		var b bool
		var ni sql.NullInt64
		var ns sql.NullString
		var v any
		if err := tx.QueryRowContext(ctx, `SELECT s, n, n, f, flag, n, s, b FROM t WHERE id = ?`, ids[2]).
			Scan(&s, &n, &i, &f, &b, &ni, &ns, &v); err != nil {
			return err
		}
		if s != "héllo 'x'" || n != -7 || i != -7 || f != 2.5 || !b || ni.Int64 != -7 || !ni.Valid || ns.String != s || string(v.([]byte)) != "\x00\x01\xff" {
			t.Errorf("scan: %q %d %d %v %v %v %v %v", s, n, i, f, b, ni, ns, v)
		}
		if err := tx.QueryRowContext(ctx, `SELECT n, s FROM t WHERE id = ?`, ids[1]).Scan(&ni, &ns); err != nil {
			return err
		}
		if ni.Valid || ns.Valid {
			t.Errorf("NULLs scanned as %v %v", ni, ns)
		}
		if err := tx.QueryRowContext(ctx, `SELECT s FROM t WHERE id = ?`, ids[1]).Scan(&s); err == nil {
			t.Error("NULL scanned into a string without an error")
		}
		if err := tx.QueryRowContext(ctx, `SELECT s FROM t WHERE id = -1`).Scan(&s); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("no row: %v", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT s, n FROM t WHERE id = ?`, ids[2]).Scan(&s); err == nil {
			t.Error("two columns scanned into one destination without an error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Mistakes come back as errors, and the connection stays usable after each.
func TestWriterConnErrors(t *testing.T) {
	d := openWithTable(t, `CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE)`)
	ctx := context.Background()
	var err error
	exec := func(q string, args ...any) error {
		return d.writeTx(ctx, func(tx *wtx) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		})
	}
	if err := exec(`INSERT INTO t (u) VALUES (?)`, "a"); err != nil {
		t.Fatal(err)
	}
	err = exec(`INSERT INTO t (u) VALUES (?)`, "a")
	if !isUniqueViolation(err) {
		t.Errorf("duplicate: %v, want a unique violation", err)
	}
	for _, c := range []struct {
		q    string
		args []any
		want string
	}{
		{`INSERT INTO t (u) VALUES (?)`, nil, "0 arguments for 1 parameters"},
		{`INSERT INTO nope (u) VALUES (?)`, []any{"x"}, "no such table"},
		{`INSERT INTO t (u) VALUES (?); DELETE FROM t`, []any{"x"}, "more than one statement"},
		{`INSERT INTO t (u) VALUES (?)`, []any{struct{}{}}, "unsupported type"},
	} {
		if err := exec(c.q, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want %q", c.q, c.args, err, c.want)
		}
	}
	if err := exec(`INSERT INTO t (u) VALUES (?)`, "b"); err != nil {
		t.Fatalf("after the errors: %v", err)
	}

	// A query run again inside its own rows loop, and rows left open by a write that
	// panics: both leave the connection ready for the next write.
	err = d.writeTx(ctx, func(tx *wtx) error {
		rows, err := tx.QueryContext(ctx, `SELECT u FROM t ORDER BY u`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var seen []string
		for rows.Next() {
			var u, again string
			if err := rows.Scan(&u); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, `SELECT u FROM t ORDER BY u`).Scan(&again); err != nil {
				return err
			}
			seen = append(seen, u+again)
		}
		if strings.Join(seen, ",") != "aa,ba" {
			t.Errorf("nested: %v", seen)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	err = d.writeTx(ctx, func(tx *wtx) error {
		rows, err := tx.QueryContext(ctx, `SELECT u FROM t`)
		if err != nil {
			return err
		}
		rows.Next()
		panic("left open")
	})
	if err == nil || !strings.Contains(err.Error(), "left open") {
		t.Errorf("panicking write: %v", err)
	}
	var n int
	err = d.writeTx(ctx, func(tx *wtx) error {
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n)
	})
	if err != nil || n != 2 {
		t.Errorf("after a panic: %d rows, %v", n, err)
	}
	if s := d.wconn.stmts[`SELECT u FROM t`]; s == nil || s.busy || len(d.wconn.open) != 0 {
		t.Errorf("the panicking write's query was not reset: %+v, %d open", s, len(d.wconn.open))
	}
}

// A statement whose plan may depend on a bound value (LIMIT ?) is not prepared again on
// every run with the same value: that re-parse was a fifth of a list request's CPU.
// (SQLite does prepare it again when the value changes; the list inlines its limit.)
func TestBoundLimitDoesNotReprepare(t *testing.T) {
	d := openWithTable(t, `CREATE TABLE x (a INTEGER, b INTEGER)`)
	ctx := context.Background()
	if _, err := d.W.ExecContext(ctx, `CREATE INDEX x_a ON x (a, b DESC)`); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, err := d.W.ExecContext(ctx, `INSERT INTO x VALUES (?, ?)`, i%3, i); err != nil {
			t.Fatal(err)
		}
	}
	q := `SELECT b FROM x WHERE a = ? ORDER BY b DESC LIMIT ?`
	var reprepares int32
	for i := range 10 {
		rows, err := d.query(ctx, q, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		s := rows.lite.s
		reprepares = sqlite3.Xsqlite3_stmt_status(s.c.tls, s.p, sqlite3.SQLITE_STMTSTATUS_REPREPARE, 0)
		rows.Close()
		if n != 3 {
			t.Fatalf("run %d: %d rows", i, n)
		}
	}
	// The first run re-prepares once (the plan now sees a bound LIMIT); none after.
	if reprepares > 1 {
		t.Errorf("prepared again %d times in 10 runs", reprepares)
	}
}
