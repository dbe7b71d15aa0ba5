package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

// The connections bind and scan as database/sql does for the kinds the store uses: what
// the writer stores, a reader reads back unchanged.
func TestConnRoundTrip(t *testing.T) {
	d := openTest(t, db.Options{})
	ctx := context.Background()
	exec(t, d, `CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER, f REAL, b BLOB, flag INTEGER)`)
	long := strings.Repeat("ü", 5000) // past a statement's first buffer
	rows := []struct{ s, n, f, b, flag any }{
		{"", 0, 0.0, []byte{}, false},                          // empty text is '', not NULL
		{nil, nil, nil, []byte(nil), nil},                      // NULLs
		{"héllo 'x'", int64(-7), 2.5, []byte{0, 1, 255}, true}, // bytes kept as they are
		{long, int32(42), float64(1e300), []byte(long), 1},
	}
	var ids []int64
	err := d.e.Write(ctx, false, func(q sqlstore.Querier) error {
		ids = ids[:0]
		for _, r := range rows {
			var id int64
			if err := q.QueryRow(`INSERT INTO t (s, n, f, b, flag) VALUES (?, ?, ?, ?, ?) RETURNING id`, r.s, r.n, r.f, r.b, r.flag).Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		n, err := q.Exec(`UPDATE t SET flag = flag WHERE id IN (?, ?)`, ids[0], ids[2])
		if err == nil && n != 2 {
			t.Errorf("rows changed %d; want 2", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		s    sql.NullString
		n    sql.NullInt64
		f    float64
		b    []byte
		flag sql.NullInt64
		ts   string
		tb   string
	}
	read := func(id int64) (r row) {
		t.Helper()
		if err := d.e.Read(ctx, func(q sqlstore.Querier) error {
			return q.QueryRow(`SELECT s, n, f, b, flag, typeof(s), typeof(b) FROM t WHERE id = ?`, id).Scan(&r.s, &r.n, &r.f, &r.b, &r.flag, &r.ts, &r.tb)
		}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := read(ids[0]); !r.s.Valid || r.s.String != "" || r.ts != "text" || !r.n.Valid || r.n.Int64 != 0 || r.b == nil ||
		len(r.b) != 0 || r.tb != "blob" || !r.flag.Valid || r.flag.Int64 != 0 {
		t.Errorf("row 0: %+v; want '', 0, an empty blob, 0", r)
	}
	if r := read(ids[1]); r.s.Valid || r.n.Valid || r.b != nil || r.flag.Valid || r.ts != "null" || r.tb != "null" {
		t.Errorf("row 1 should be all NULL: %+v", r)
	}
	if r := read(ids[2]); r.s.String != "héllo 'x'" || r.n.Int64 != -7 || r.f != 2.5 || string(r.b) != "\x00\x01\xff" || r.flag.Int64 != 1 {
		t.Errorf("row 2: %+v", r)
	}
	if r := read(ids[3]); r.s.String != long || r.n.Int64 != 42 || r.f != 1e300 || string(r.b) != long || r.flag.Int64 != 1 {
		t.Errorf("row 3: len(s)=%d %v %v len(b)=%d", len(r.s.String), r.n, r.f, len(r.b))
	}
	// Every kind of destination, on the writer.
	err = d.e.Write(ctx, false, func(q sqlstore.Querier) error {
		var s string
		var n int64
		var i int
		var f float64
		var b bool
		var ni sql.NullInt64
		var ns sql.NullString
		var v, null any
		if err := q.QueryRow(`SELECT s, n, n, f, flag, n, s, b, NULL FROM t WHERE id = ?`, ids[2]).
			Scan(&s, &n, &i, &f, &b, &ni, &ns, &v, &null); err != nil {
			return err
		}
		if s != "héllo 'x'" || n != -7 || i != -7 || f != 2.5 || !b || ni.Int64 != -7 || !ni.Valid || ns.String != s ||
			string(v.([]byte)) != "\x00\x01\xff" || null != nil {
			t.Errorf("scan: %q %d %d %v %v %v %v %v %v", s, n, i, f, b, ni, ns, v, null)
		}
		if err := q.QueryRow(`SELECT s FROM t WHERE id = -1`).Scan(&s); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("no row: %v", err)
		}
		if err := q.QueryRow(`SELECT s, n FROM t WHERE id = ?`, ids[2]).Scan(&s); err == nil {
			t.Error("two columns scanned into one destination without an error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Mistakes come back as errors, and the connection stays usable after each.
func TestConnErrors(t *testing.T) {
	d := openTest(t, db.Options{})
	ctx := context.Background()
	exec(t, d, `CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE)`)
	write := func(q string, args ...any) error {
		return d.e.Write(ctx, false, func(x sqlstore.Querier) error {
			_, err := x.Exec(q, args...)
			return err
		})
	}
	if err := write(`INSERT INTO t (u) VALUES (?)`, "a"); err != nil {
		t.Fatal(err)
	}
	if err := write(`INSERT INTO t (u) VALUES (?)`, "a"); !d.e.UniqueViolation(err) {
		t.Errorf("duplicate: %v, want a unique violation", err)
	}
	type named string
	for _, c := range []struct {
		q    string
		args []any
		want string
	}{
		{`INSERT INTO t (u) VALUES (?)`, nil, "0 arguments for 1 parameters"},
		{`INSERT INTO nope (u) VALUES (?)`, []any{"x"}, "no such table"},
		{`INSERT INTO t (u) VALUES (?); DELETE FROM t`, []any{"x"}, ""},
		{`INSERT INTO t (u) VALUES (?)`, []any{struct{}{}}, "cannot bind"},
		{`INSERT INTO t (u) VALUES (?)`, []any{named("x")}, "cannot bind"},
	} {
		if err := write(c.q, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want an error with %q", c.q, c.args, err, c.want)
		}
	}
	var n int
	if err := d.Raw(ctx, `SELECT count(*) FROM t`, nil, &n); err != nil || n != 1 {
		t.Fatalf("after the errors: %d rows (%v); want the first only", n, err)
	}
	if err := write(`INSERT INTO t (u) VALUES (?)`, "b"); err != nil {
		t.Fatalf("after the errors: %v", err)
	}

	// A query run again inside its own rows loop, and rows left open by a write that
	// panics: both leave the connection ready for the next write.
	err := d.e.Write(ctx, false, func(q sqlstore.Querier) error {
		rows, err := q.Query(`SELECT u FROM t ORDER BY u`)
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
			if err := q.QueryRow(`SELECT u FROM t ORDER BY u`).Scan(&again); err != nil {
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
	err = d.e.Write(ctx, false, func(q sqlstore.Querier) error {
		rows, err := q.Query(`SELECT u FROM t`)
		if err != nil {
			return err
		}
		rows.Next()
		panic("left open")
	})
	if err == nil || !strings.Contains(err.Error(), "left open") {
		t.Errorf("panicking write: %v", err)
	}
	if err := d.Raw(ctx, `SELECT count(*) FROM t`, nil, &n); err != nil || n != 2 {
		t.Errorf("after a panic: %d rows, %v", n, err)
	}
	d.e.commit.pause(func() {
		if s := d.e.w.stmts[`SELECT u FROM t`]; s == nil || s.busy || len(d.e.w.open) != 0 {
			t.Errorf("the panicking write's query was not reset: %+v, %d open", s, len(d.e.w.open))
		}
	})
	// The same on a reader: rows a read leaves open are closed when it ends.
	if err := d.e.Read(ctx, func(q sqlstore.Querier) error {
		rows, err := q.Query(`SELECT u FROM t`)
		if err == nil {
			rows.Next()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d.e.readConns.Range(func(_, v any) bool {
		if c := v.(*conn); len(c.open) != 0 {
			t.Errorf("a reader kept %d rows open after its read", len(c.open))
		}
		return true
	})
}
