package db

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointCommits is how many commits may pile up in the WAL before the checkpointer
// is nudged; SQLite's own default is about 1000 pages, which this roughly matches for
// the few-page transactions of this package.
const checkpointCommits = 200

// checkpointer copies the WAL back into the database file on its own connection, so
// that work and its fsyncs happen beside the writer instead of inside one of its
// commits. PASSIVE never blocks the writer or readers; it does what it can and the
// next round does the rest.
type checkpointer struct {
	conn    *sql.DB
	commits atomic.Int64
	nudge   chan struct{}
	stop    chan struct{}
	done    sync.WaitGroup
}

func startCheckpointer(conn *sql.DB) *checkpointer {
	conn.SetMaxOpenConns(1)
	c := &checkpointer{conn: conn, nudge: make(chan struct{}, 1), stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c
}

// committed counts a commit and nudges the checkpointer every checkpointCommits.
func (c *checkpointer) committed() {
	if c.commits.Add(1)%checkpointCommits == 0 {
		select {
		case c.nudge <- struct{}{}:
		default:
		}
	}
}

func (c *checkpointer) run() {
	defer c.done.Done()
	// The tick catches a quiet tail of commits that never reaches a nudge.
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := c.commits.Load()
	for {
		select {
		case <-c.stop:
			return
		case <-c.nudge:
		case <-t.C:
			if c.commits.Load() == last {
				continue
			}
		}
		last = c.commits.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		// An error (a busy database, a closing one) is left for the next round; the
		// WAL stays correct, only longer.
		_, _ = c.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		cancel()
	}
}

func (c *checkpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.conn.Close()
}
