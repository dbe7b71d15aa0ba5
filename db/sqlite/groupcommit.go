package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
)

// Group commit. Every write runs on the one writer connection, and a commit costs about
// the same whether it holds one caller's few rows or thirty callers' rows: most of it is
// writing the touched pages to the WAL, and callers share pages (queue_users, the tail
// of each index, the events table). So callers queue their write functions here and one
// goroutine runs whatever has queued up as a single transaction: a function that fails
// is rolled back alone and its caller gets its error, while the others commit (the
// batch runs again with each function inside a SAVEPOINT of its own, see runBatch). A
// caller is acknowledged only after the COMMIT, so "Write returned nil" still means
// "durable" (what the queue's crash safety relies on). Nothing waits for a batch to
// fill: an idle writer takes a lone request at once; under load, requests that arrive
// while a batch is committing form the next one.
//
// A function may so run twice; sqlstore's writes return their results instead of
// keeping them, and only the last run's, the one committed, reaches the caller.

// maxBatch bounds one transaction, so one commit never holds a long queue's latency.
const maxBatch = 64

// Request states: the writer takes a queued request, or its caller abandons it first.
const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

type writeReq struct {
	ctx   context.Context
	fn    func(q sqlstore.Querier) error
	state atomic.Int32
	err   error
	done  chan struct{}
}

type committer struct {
	e      *engine
	reqs   chan *writeReq
	pauses chan func()
	stop   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool // read by callers that arrive after close
}

func startCommitter(e *engine) *committer {
	c := &committer{e: e, reqs: make(chan *writeReq, 1024), pauses: make(chan func()),
		stop: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

// do queues fn and waits for its outcome. While fn has not started, the caller's context
// can withdraw it; once started, the caller waits for the commit, so the answer is true.
func (c *committer) do(ctx context.Context, fn func(q sqlstore.Querier) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.closed.Load() {
		return db.ErrClosed
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return db.ErrClosed
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err()
		}
		<-r.done
		return r.err
	case <-c.stop:
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return db.ErrClosed
		}
		<-r.done
		return r.err
	}
}

// pause runs fn on the writer's goroutine between two batches, with the writer
// connection to itself and no transaction open; false when the committer is closed.
func (c *committer) pause(fn func()) bool {
	done := make(chan struct{})
	select {
	case c.pauses <- func() { fn(); close(done) }:
		<-done
		return true
	case <-c.stop:
		return false
	}
}

func (c *committer) run() {
	defer c.wg.Done()
	batch := make([]*writeReq, 0, maxBatch)
	for {
		var first *writeReq
		select {
		case <-c.stop:
			return
		case fn := <-c.pauses:
			fn()
			continue
		case first = <-c.reqs:
		}
		batch = append(batch[:0], first)
		// Let the goroutines the last commit woke run first: a worker told its claim is
		// durable, or a handler told its enqueue is, often has its next write ready within
		// microseconds. Taking it into this batch saves a commit (pages shared, one WAL
		// write), where not yielding made batches of ~2 writes instead of ~3.
		runtime.Gosched()
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		c.runBatch(batch)
		clear(batch)
		c.e.ckpt.restart(c.e.w)
	}
}

// runBatch runs the batch's live requests in one transaction and answers each.
func (c *committer) runBatch(batch []*writeReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	// First without savepoints: opening and releasing one around every write, and the
	// sub-journal copies of the pages each one touches, cost ~5% of the writer's time,
	// and writes almost never fail. If one does, the whole transaction is rolled back
	// and the batch runs again, each write in a savepoint of its own, so the others
	// still commit.
	err := c.runTx(live, false)
	if errors.Is(err, errWriteFailed) {
		err = c.runTx(live, true)
	}
	for _, r := range live {
		// When the transaction failed (begin, a savepoint step or the commit) nothing of
		// the batch is stored: a function that had succeeded gets that error.
		if err != nil && r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// errWriteFailed ends a transaction without savepoints in which one write failed.
var errWriteFailed = errors.New("a write of the batch failed")

// runTx runs the requests' functions in one transaction on the writer's connection,
// each in a savepoint of its own when savepoints is set; without, the first that fails
// ends the transaction with errWriteFailed. A lone request needs no savepoint: the
// transaction is its own.
func (c *committer) runTx(live []*writeReq, savepoints bool) error {
	w := c.e.w
	if _, err := w.Exec("BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	err := c.runFns(w, live, savepoints)
	w.resetOpen()
	if err == nil {
		if _, err = w.Exec("COMMIT"); err != nil {
			err = fmt.Errorf("commit: %w", err)
		}
	}
	if err != nil {
		if !w.c.AutocommitEnabled() {
			_, _ = w.Exec("ROLLBACK")
		}
		return err
	}
	c.e.ckpt.committed()
	return nil
}

func (c *committer) runFns(w *conn, live []*writeReq, savepoints bool) error {
	if len(live) == 1 {
		live[0].err = live[0].call(w)
		return live[0].err
	}
	for _, r := range live {
		if !savepoints {
			if r.err = r.call(w); r.err != nil {
				return errWriteFailed
			}
			continue
		}
		if _, err := w.Exec("SAVEPOINT w"); err != nil {
			return err
		}
		r.err = r.call(w)
		if r.err != nil {
			w.resetOpen()
			if _, err := w.Exec("ROLLBACK TO w"); err != nil {
				return err
			}
		}
		if _, err := w.Exec("RELEASE w"); err != nil {
			return err
		}
	}
	return nil
}

// call runs the request's function; a panic is turned into its error so one bad
// caller cannot stop every writer of the process.
func (r *writeReq) call(w *conn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	if err := r.ctx.Err(); err != nil {
		return err
	}
	return r.fn(w)
}

func (c *committer) close() {
	if c.closed.Swap(true) {
		return
	}
	close(c.stop)
	c.wg.Wait()
}
