package postgres

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"

	"nanobanana/db/sqlstore"
)

// The store's queries are written with SQLite's parameter marks (? and ?N). For
// PostgreSQL they are rewritten to $N on first use and the rewrite is kept.

// rebind rewrites SQLite parameter marks to PostgreSQL's: ?N becomes $N, and a bare ?
// takes the number after the largest used so far, which is exactly SQLite's rule.
// Marks inside string literals, quoted identifiers and comments are left alone.
func rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 8)
	next := 1
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				j++
			}
			b.WriteString(q[i:min(j+1, len(q))])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j])
			i += j - 1
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			n := next
			if j > i+1 {
				n, _ = strconv.Atoi(q[i+1 : j])
			}
			next = max(next, n+1)
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rebound caches rebind's work: the store runs a small fixed set of queries.
var rebound sync.Map // SQLite text -> PostgreSQL text

func sqlFor(q string) string {
	if s, ok := rebound.Load(q); ok {
		return s.(string)
	}
	s := rebind(q)
	rebound.Store(q, s)
	return s
}

// args adapts arguments: the schema keeps SQLite's 0/1 integers for flags, and pgx
// will not store a Go bool in an integer column.
func args(a []any) []any {
	for i, v := range a {
		if b, ok := v.(bool); ok {
			if b {
				a[i] = int64(1)
			} else {
				a[i] = int64(0)
			}
		}
	}
	return a
}

// execer is what a pool and a transaction share.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// querier is sqlstore.Querier on the pool (reads) or a transaction (writes).
type querier struct {
	ctx context.Context
	x   execer
}

func (q querier) Exec(query string, a ...any) (int64, error) {
	res, err := q.x.ExecContext(q.ctx, sqlFor(query), args(a)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) Query(query string, a ...any) (sqlstore.Rows, error) {
	r, err := q.x.QueryContext(q.ctx, sqlFor(query), args(a)...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (q querier) QueryRow(query string, a ...any) sqlstore.Row {
	return q.x.QueryRowContext(q.ctx, sqlFor(query), args(a)...)
}
