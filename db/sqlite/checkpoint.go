package sqlite

import (
	"sync"
	"sync/atomic"
	"time"
)

// checkpointCommits is how many commits may pile up in the WAL before the checkpointer
// is nudged; SQLite's own default is about 1000 pages, which this roughly matches for
// the few-page transactions of the store.
const checkpointCommits = 200

// restartFrames is the WAL length (in frames, ~4 KiB each) past which the writer is
// asked to finish a checkpoint itself (see restart).
const restartFrames = 8192

// checkpointer copies the WAL back into the database file on its own connection, so
// that work and its fsyncs happen beside the writer instead of inside one of its
// commits. PASSIVE never blocks the writer or readers; it does what it can and the
// next round does the rest.
type checkpointer struct {
	c       *conn // used by the checkpointer's goroutine only
	commits atomic.Int64
	nudge   chan struct{}
	stop    chan struct{}
	done    sync.WaitGroup
	closed  sync.Once

	// restartWanted asks the writer to finish a checkpoint (restart).
	restartWanted atomic.Bool
}

func startCheckpointer(c *conn) *checkpointer {
	k := &checkpointer{c: c, nudge: make(chan struct{}, 1), stop: make(chan struct{})}
	k.done.Add(1)
	go k.run()
	return k
}

// committed counts a commit and nudges the checkpointer every checkpointCommits.
func (k *checkpointer) committed() {
	if k.commits.Add(1)%checkpointCommits == 0 {
		select {
		case k.nudge <- struct{}{}:
		default:
		}
	}
}

func (k *checkpointer) run() {
	defer k.done.Done()
	// The tick catches a quiet tail of commits that never reaches a nudge.
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := k.commits.Load()
	for {
		select {
		case <-k.stop:
			return
		case <-k.nudge:
		case <-t.C:
			if k.commits.Load() == last {
				continue
			}
		}
		last = k.commits.Load()
		k.round()
	}
}

// round copies what it can of the WAL into the database and, when the WAL has grown
// past restartFrames, asks the writer to start it over (restart). An error (a busy
// database, a closing one) is left for the next round; the WAL stays correct, only
// longer.
func (k *checkpointer) round() {
	var busy, frames, copied int64
	err := k.c.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	if err == nil && frames >= restartFrames {
		k.restartWanted.Store(true)
	}
}

// restart runs on the writer connection between two write transactions, when the
// checkpointer asked for it: a PASSIVE checkpoint there copies what was committed since
// the checkpointer's own round (the checkpointer did the bulk), so the WAL is wholly in
// the database and the next write transaction starts the WAL over from its beginning.
// Without it, a writer that never pauses keeps the checkpointer behind forever and the
// WAL only grows (663 MB after 10,000 jobs of BenchmarkQueueOverhead), every frame an
// append that also extends the file, which costs ext4 about twice an overwrite. Once
// started over, the WAL file keeps its size and frames overwrite it. The writer waits
// for this checkpoint (what was committed during the checkpointer's round, and the
// fsyncs: 4-15 ms measured) about once per restartFrames, ~800 commits of the benchmark.
func (k *checkpointer) restart(w *conn) {
	if !k.restartWanted.Swap(false) {
		return
	}
	var busy, frames, copied int64
	_ = w.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
}

func (k *checkpointer) close() error {
	var err error
	k.closed.Do(func() {
		close(k.stop)
		k.done.Wait()
		err = k.c.close()
	})
	return err
}
