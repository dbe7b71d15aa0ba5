package db

import (
	"context"
	"errors"
	"sync"
)

// readPool is the SQLite deployment's read-only connections, driven like the writer's
// (sqliteconn.go) rather than through database/sql: for the status and list reads,
// database/sql and the driver's work around each query (rows objects, every column's
// name and declared type, a conversion per scanned value) was about a fifth of the
// request's CPU. A connection serves one query at a time: it is taken for the query and
// given back when its rows are closed (a QueryRow's Scan closes them). Connections are
// opened when first needed, up to the pool's size, and kept.
type readPool struct {
	path    string
	setup   []string
	free    chan *sqliteConn
	closing chan struct{} // closed by close: waiters stop waiting

	mu     sync.Mutex
	opened int
	closed bool
}

func newReadPool(path string, size int, setup []string) *readPool {
	return &readPool{path: path, setup: setup, free: make(chan *sqliteConn, size),
		closing: make(chan struct{})}
}

var errPoolClosed = errors.New("database closed")

// get takes a free connection, opens one if the pool has room, or waits for one.
func (p *readPool) get(ctx context.Context) (*sqliteConn, error) {
	select {
	case c := <-p.free:
		return c, nil
	default:
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPoolClosed
	}
	if p.opened < cap(p.free) {
		p.opened++
		p.mu.Unlock()
		c, err := openSQLiteConn(p.path, p.setup...)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.opened--
			return nil, err
		}
		if p.closed {
			c.close()
			return nil, errPoolClosed
		}
		return c, nil
	}
	p.mu.Unlock()
	select {
	case c := <-p.free:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.closing:
		return nil, errPoolClosed
	}
}

// put gives a connection back once its query is done (after close, closes it).
func (p *readPool) put(c *sqliteConn) {
	c.resetOpen() // nothing should be open; a leak must not reach the next query
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.close()
		return
	}
	p.free <- c // never blocks: the channel holds every connection the pool opened
}

// close closes every connection; queries still running keep theirs until they end.
func (p *readPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	close(p.closing)
	// The idle ones now; one still running a query is closed when it is given back.
	for {
		select {
		case c := <-p.free:
			c.close()
		default:
			return
		}
	}
}

// readQuery runs q on a pooled connection. The rows hold the connection until closed.
func (d *DB) readQuery(ctx context.Context, q string, args []any) (*sqliteRows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := d.rpool.get(ctx)
	if err != nil {
		return nil, err
	}
	s, err := c.stmt(q)
	if err != nil {
		d.rpool.put(c)
		return nil, err
	}
	r, err := s.query(args)
	if err != nil {
		d.rpool.put(c)
		return nil, err
	}
	r.release = func() { d.rpool.put(c) }
	return r, nil
}
