package db

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// The package's queries are written once, in the SQL that SQLite and PostgreSQL share,
// with SQLite's parameter marks (? and ?N). For PostgreSQL they are rewritten to $N on
// first use and the rewrite is kept. Where the two dialects differ in more than that
// (the schema, the claim), the code says so next to the query.

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

// pgQueries caches rebind's work: the package runs a small fixed set of queries.
var pgQueries sync.Map // SQLite text -> PostgreSQL text

// sqlFor returns q in the database's dialect.
func (d *DB) sqlFor(q string) string {
	if !d.pg {
		return q
	}
	if s, ok := pgQueries.Load(q); ok {
		return s.(string)
	}
	s := rebind(q)
	pgQueries.Store(q, s)
	return s
}

// pgArgs adapts arguments for PostgreSQL: the schema keeps SQLite's 0/1 integers for
// flags, and pgx will not store a Go bool in an integer column.
func pgArgs(args []any) []any {
	for i, a := range args {
		if v, ok := a.(bool); ok {
			args[i] = boolInt(v)
		}
	}
	return args
}

func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// isUniqueViolation reports whether err is a unique constraint refusing a row, in
// either dialect.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// pgRetryable reports whether a PostgreSQL transaction failed only because of another
// one (a deadlock or a serialization failure) and may simply run again.
func pgRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// PostgresUnreachable reports whether OpenPostgres failed only because the server could
// not be reached (not started yet, restarting, a network hiccup), as opposed to an
// answer from it (a wrong password, a missing database) or a bad setting, which waiting
// does not fix.
func PostgresUnreachable(err error) bool {
	var pe *pgconn.PgError
	if err == nil || errors.As(err, &pe) {
		return false
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}
