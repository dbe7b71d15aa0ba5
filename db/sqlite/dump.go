package sqlite

import (
	"context"
	"regexp"

	"zombiezen.com/go/sqlite"
)

// tableName is what ReadTable accepts: the schema's plain names.
var tableName = regexp.MustCompile(`^[a-z_]+$`)

// ReadTable reads every row of a table in rowid order, on a read connection held until
// the rows are closed (db/postgres's CopyFrom moves a database with it).
func (d *DB) ReadTable(ctx context.Context, table string) (*TableRows, error) {
	if !tableName.MatchString(table) {
		return nil, errBadTable(table)
	}
	c, err := d.e.readers.Take(ctx)
	if err != nil {
		return nil, err
	}
	s, _, err := c.PrepareTransient(`SELECT * FROM ` + table + ` ORDER BY rowid`)
	if err != nil {
		d.e.readers.Put(c)
		return nil, err
	}
	t := &TableRows{d: d, c: c, s: s}
	for i := range s.ColumnCount() {
		t.cols = append(t.cols, s.ColumnName(i))
	}
	return t, nil
}

type errBadTable string

func (e errBadTable) Error() string { return "sqlite: no table " + string(e) + " to read" }

// TableRows are a table's rows (ReadTable).
type TableRows struct {
	d    *DB
	c    *sqlite.Conn
	s    *sqlite.Stmt
	cols []string
	vals []any
	err  error
}

func (t *TableRows) Columns() []string { return t.cols }
func (t *TableRows) Values() []any     { return t.vals }
func (t *TableRows) Err() error        { return t.err }

func (t *TableRows) Next() bool {
	if t.s == nil {
		return false
	}
	row, err := t.s.Step()
	if err != nil || !row {
		t.err = err
		return false
	}
	t.vals = make([]any, len(t.cols))
	for i := range t.cols {
		t.vals[i] = columnValue(t.s, i)
	}
	return true
}

func (t *TableRows) Close() error {
	if t.s == nil {
		return nil
	}
	err := t.s.Finalize()
	t.s = nil
	t.d.e.readers.Put(t.c)
	return err
}
