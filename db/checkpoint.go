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

	// restartWanted asks the writer to finish a checkpoint (restart).
	restartWanted atomic.Bool
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
		c.round()
	}
}

// round copies what it can of the WAL into the database and, when the WAL has grown
// past restartFrames, asks the writer to start it over (restart).
func (c *checkpointer) round() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// An error (a busy database, a closing one) is left for the next round; the
	// WAL stays correct, only longer.
	var busy, frames, copied int64
	err := c.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	if err == nil && frames >= restartFrames {
		c.restartWanted.Store(true)
	}
}

// restartFrames is the WAL length (in frames, ~4 KiB each) past which the writer is
// asked to finish a checkpoint itself (see restart).
const restartFrames = 8192

// restart runs on the writer connection between two write transactions, when the
// checkpointer asked for it: a PASSIVE checkpoint there copies what was committed since
// the checkpointer's own round (the checkpointer did the bulk), so the WAL is wholly in
// the database and the next write transaction starts the WAL over from its beginning.
// Without it, a writer that never pauses keeps the checkpointer behind forever and the
// WAL only grows (663 MB after 10,000 jobs of BenchmarkQueueOverhead), every frame an
// append that also extends the file, which costs ext4 about twice an overwrite (7 vs
// 3-4.5 µs per frame's two pwrites, measured on the project's machines). Once started
// over, the WAL file keeps its size and frames overwrite it. The writer waits for this
// checkpoint (what was committed during the checkpointer's round, and the fsyncs:
// 4-15 ms measured) about once per restartFrames, ~800 commits of the benchmark.
func (c *checkpointer) restart(w *sqliteConn) {
	if !c.restartWanted.Swap(false) {
		return
	}
	_ = w.execOnce("PRAGMA wal_checkpoint(PASSIVE)")
}

func (c *checkpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.conn.Close()
}
