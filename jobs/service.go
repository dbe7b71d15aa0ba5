// Package jobs owns the behaviour of the generation queue: a bounded pool of workers that
// claims queued jobs fairly from the database (db.ClaimJobs), runs each generation on
// Replicate (submit, poll, download, store, thumbnail) and records every step so a crash
// or restart resumes a job without ever paying for a second prediction. The rows and
// their transactions live in package db; this package holds no SQL and knows no HTTP.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"nanobanana/db"
	"nanobanana/replicate"
	"nanobanana/storage"
	"nanobanana/storage/imaging"
)

// ErrNoToken is what a Token function returns (or an empty token means) when the user
// has no Replicate key and there is no global one.
var ErrNoToken = errors.New("no Replicate API token")

// Options configure a Service. Zero values take the documented defaults.
type Options struct {
	DB        db.Store
	Replicate *replicate.Client
	Storage   storage.Storage
	Logger    *slog.Logger // nil: discard
	// Token returns the Replicate token to run userID's generations with: the user's own
	// key, else the global one; "" or ErrNoToken when there is neither.
	Token func(ctx context.Context, userID int64) (string, error)

	MaxWorkers int // jobs running at once in this process (MAX_WORKERS), default 3
	MaxPerUser int // running jobs per user (MAX_CONCURRENT_GENERATIONS), default 3
	// PollInterval is how often idle workers look at the queue without a Notify, and how
	// often expired leases are reclaimed; default 1s.
	PollInterval time.Duration
	// LeaseDuration is how long a claim holds a job without being extended; it is
	// extended every third of it while the job runs. Default 60s.
	LeaseDuration time.Duration
	// ReclaimOnStart takes back, at Start, every running job leased by another process.
	// Only for a database no other process runs jobs on (the SQLite deployment): after
	// a crash the jobs resume at once instead of after their leases expire.
	ReclaimOnStart bool

	MaxAttempts    int           // claims per job before giving up on transient errors, default 5
	MaxPending     int           // generations one user may have waiting; 0: no bound
	MaxRetryWindow time.Duration // no retry is scheduled past this age of the job, default 30m
	RetryBase      time.Duration // first backoff, doubled per attempt, jittered; default 2s
	RetryMax       time.Duration // cap of one backoff, default 2m

	// Wait is the create's "Prefer: wait" (1s..60s), default 30s.
	Wait time.Duration
	// CancelAfter is sent with every create, default 10m. It is what kills an orphan
	// (a prediction whose create answer was lost and never found again): reached before
	// the run starts it is "aborted" and not charged. Typical runs take 30-45 s; 10
	// minutes leaves room for a busy queue at Replicate and a slow 4K run, while anything
	// at or above Replicate's own 30-minute run cap would add nothing. The job itself
	// gives up polling a little after this deadline, so nothing stays running forever.
	CancelAfter time.Duration
	PollMin     time.Duration // first delay between Gets, default 1s
	PollMax     time.Duration // longest delay between Gets, default 5s

	// OutputLifetime is how long Replicate keeps a succeeded prediction's output (an
	// hour, REPLICATE.md): a job whose output cannot be stored (a full disk) keeps
	// trying until then, and a run again before then fetches it instead of paying for a
	// new prediction. Default 1h.
	OutputLifetime time.Duration

	MaxOutputBytes int64 // download cap, default 64 MiB
	MaxPixels      int64 // decoded pixel cap, default imaging.DefaultMaxPixels
	ThumbSize      int   // thumbnail long side, default 384

	// WebhookURL, when set, is sent with creates (completed events only); the server's
	// webhook handler calls Wake. Polling continues regardless.
	WebhookURL string
	// EventRetention is how long events are kept for SSE replay, default 24h.
	EventRetention time.Duration
	// AuditRetention is how long audit entries are kept (AUDIT_RETENTION_DAYS; 0: for
	// ever) unless the stored setting audit_retention_days says otherwise.
	AuditRetention time.Duration
	// UploadRetention is how long after it was made an upload that no generation uses
	// is removed (ExpireUploads), default 24h.
	UploadRetention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = 3
	}
	if o.MaxPerUser <= 0 {
		o.MaxPerUser = 3
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	def(&o.PollInterval, time.Second)
	def(&o.LeaseDuration, 60*time.Second)
	def(&o.MaxRetryWindow, 30*time.Minute)
	def(&o.RetryBase, 2*time.Second)
	def(&o.RetryMax, 2*time.Minute)
	def(&o.Wait, 30*time.Second)
	def(&o.CancelAfter, 10*time.Minute)
	def(&o.PollMin, time.Second)
	def(&o.PollMax, 5*time.Second)
	def(&o.EventRetention, 24*time.Hour)
	def(&o.UploadRetention, 24*time.Hour)
	def(&o.OutputLifetime, time.Hour)
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = 64 << 20
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = imaging.DefaultMaxPixels
	}
	if o.ThumbSize <= 0 {
		o.ThumbSize = imaging.DefaultThumbSide
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Service runs the queue. Create it with New, then Start; Stop before closing the DB.
type Service struct {
	o        Options
	log      *slog.Logger
	instance string // prefix of every lease owner this process writes
	claimSeq atomic.Uint64
	// fullAt is when an output last could not be stored for want of room (Unix ms; 0
	// after one was stored): new predictions wait while it is recent (storageFull).
	fullAt atomic.Int64

	wake     chan struct{} // Notify: something was enqueued
	slotFree chan struct{} // a worker finished

	mu      sync.Mutex
	active  int
	byGen   map[string]*run
	byPred  map[string]*run
	started bool
	// earlyCancels holds running generations a Cancel found no run for: a claim may have
	// committed but its run not be registered yet (fill), and then the worker, which
	// takes the generation from the claim instead of reading it again, would not see the
	// cancel. fill marks such a run canceled at registration. Entries of jobs held
	// elsewhere are dropped after a lease's length.
	earlyCancels map[string]time.Time

	cancel  context.CancelFunc
	done    chan struct{} // closed when the dispatcher has exited
	workers sync.WaitGroup
	// halted makes workers drop everything without writing, like a killed process;
	// only tests set it (see halt).
	halted atomic.Bool
	// onClaim, when set (tests and benchmarks only), sees each job as it is claimed.
	onClaim func(db.Job)
	// storeOutput, when set (benchmarks only), replaces download+store+thumbnail so the
	// queue's own cost can be measured apart from image processing.
	storeOutput func(ctx context.Context, r *run, g *db.Generation, token string, p *replicate.Prediction) error
	// extendLease is the lease keeper's database call (DB.ExtendLease); tests wrap it to
	// see when it runs.
	extendLease func(ctx context.Context, jobID int64, owner string, until time.Time) error
}

// run is one claimed job being worked on in this process.
type run struct {
	job        db.Job
	owner      string
	poke       chan struct{} // a webhook or a cancel: look at the prediction now
	userCancel atomic.Bool
	predID     atomic.Value // string: the prediction, once known
}

func (r *run) pokeNow() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// New returns a stopped Service. DB, Replicate, Storage and Token are required.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Replicate == nil || o.Storage == nil || o.Token == nil {
		return nil, errors.New("jobs: Options.DB, Replicate, Storage and Token are required")
	}
	o.defaults()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Service{
		o:        o,
		log:      o.Logger,
		instance: "nb-" + hex.EncodeToString(b[:]) + "-",
		wake:     make(chan struct{}, 1),
		slotFree: make(chan struct{}, 1),
		byGen:    map[string]*run{},
		byPred:   map[string]*run{},

		earlyCancels: map[string]time.Time{},
		extendLease:  o.DB.ExtendLease,
	}, nil
}

// Start begins claiming and running jobs until Stop. ctx bounds the startup work only.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("jobs: already started")
	}
	s.started = true
	s.mu.Unlock()
	if s.o.ReclaimOnStart {
		n, err := s.o.DB.ReclaimLeasesNotOwnedBy(ctx, s.instance)
		if err != nil {
			return err
		}
		if n > 0 {
			s.log.Info("resuming jobs left running by a previous process", "jobs", n)
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	go s.dispatch(runCtx)
	return nil
}

// Stop stops claiming, interrupts running jobs at their next resumable point and hands
// them back to the queue (or leaves them to their leases), and waits for the workers
// until ctx ends. Jobs interrupted mid-create are reconciled by whoever runs them next.
//
// Once Stop has returned nil, no goroutine of the service is left (dispatcher, workers,
// lease keepers), so nothing of it touches the database again: the caller may close it.
// If ctx ends first, Stop returns ctx's error and the workers may still be finishing.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started || s.cancel == nil {
		return nil
	}
	s.cancel()
	finished := make(chan struct{})
	go func() {
		<-s.done
		s.workers.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobs: stop: %w", ctx.Err())
	}
}

// halt stops everything without writing anything more to the database, as a kill -9
// would: leases stay until they expire. For tests of crash recovery.
func (s *Service) halt() {
	s.halted.Store(true)
	if s.cancel != nil {
		s.cancel()
	}
	<-s.done
	s.workers.Wait()
}

// Notify wakes an idle worker at once; call it after enqueueing.
func (s *Service) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Wake tells the job running predictionID to look at it now (a webhook arrived). Unknown
// ids are ignored: polling remains the backstop.
func (s *Service) Wake(predictionID string) {
	s.mu.Lock()
	r := s.byPred[predictionID]
	s.mu.Unlock()
	if r != nil {
		r.pokeNow()
	}
}

// Enqueue queues a generation for userID and wakes a worker.
func (s *Service) Enqueue(ctx context.Context, userID int64, p db.Params) (*db.Generation, error) {
	return s.EnqueueOnce(ctx, userID, p, "", "", nil)
}

// EnqueueOnce is Enqueue under an idempotency key ("" for none): a key the user sent
// within db.IdempotencyTTL answers the generation it made (Replayed), queuing nothing;
// sent with another requestHash it is db.CodeIdempotencyKeyReused. b, when set, is its
// price, payer and limits (db.CreateOptions.Budget): over a limit nothing is queued.
func (s *Service) EnqueueOnce(ctx context.Context, userID int64, p db.Params, key, requestHash string, b *db.Budget) (*db.Generation, error) {
	g, err := s.o.DB.CreateGeneration(ctx, userID, p, db.CreateOptions{MaxAttempts: s.o.MaxAttempts, MaxPending: s.o.MaxPending,
		IdempotencyKey: key, RequestHash: requestHash, Budget: b})
	if err != nil {
		return nil, err
	}
	if !g.Replayed {
		s.Notify()
	}
	return g, nil
}

// EnqueueBatch is EnqueueOnce for the generations of one request (at most db.MaxBatch):
// all queued in one transaction or none, two or more as a batch (one batch id). A key
// stored already answers every generation its request made.
func (s *Service) EnqueueBatch(ctx context.Context, userID int64, ps []db.Params, key, requestHash string, b *db.Budget) ([]*db.Generation, error) {
	gs, err := s.o.DB.CreateGenerations(ctx, userID, ps, db.CreateOptions{MaxAttempts: s.o.MaxAttempts, MaxPending: s.o.MaxPending,
		IdempotencyKey: key, RequestHash: requestHash, Budget: b})
	if err != nil {
		return nil, err
	}
	if !gs[0].Replayed {
		s.Notify()
	}
	return gs, nil
}

// CancelBatch cancels every pending or running generation of the user's batch, as
// Cancel does one: the pending ones leave the queue, the running ones' predictions are
// canceled at Replicate.
func (s *Service) CancelBatch(ctx context.Context, userID int64, batchID string) error {
	outs, err := s.o.DB.CancelBatch(ctx, userID, batchID)
	if err != nil {
		return err
	}
	for i := range outs {
		s.stop(ctx, userID, &outs[i])
	}
	return nil
}

// RetryBatch queues again every failed or canceled generation of the user's batch and
// returns the batch.
func (s *Service) RetryBatch(ctx context.Context, userID int64, batchID string, b *db.Budget) ([]db.Generation, error) {
	gs, err := s.o.DB.RetryBatch(ctx, userID, batchID, s.o.MaxAttempts, b)
	if err != nil {
		return nil, err
	}
	s.Notify()
	return gs, nil
}

// SetQueuePaused pauses or resumes the user's own queue; a resumed one's jobs are
// claimable at once.
func (s *Service) SetQueuePaused(ctx context.Context, userID int64, paused bool) (db.QueueState, error) {
	st, err := s.o.DB.SetQueuePaused(ctx, userID, paused)
	if err == nil && !paused {
		s.Notify()
	}
	return st, err
}

// Cancel cancels the user's pending or running generation: a pending one leaves the
// queue; a running one's prediction is canceled at Replicate. It returns the canceled
// generation; a finished one is db.ErrConflict, another user's db.ErrNotFound.
func (s *Service) Cancel(ctx context.Context, userID int64, id string) (*db.Generation, error) {
	out, err := s.o.DB.CancelGeneration(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	s.stop(ctx, userID, out)
	return out.Generation, nil
}

// DisableUser disables the account and stops its work: its sessions end and its pending
// generations are canceled in one transaction (db.Store.SetDisabled), and its running
// ones are stopped here and at Replicate, so no new prediction is made for it.
func (s *Service) DisableUser(ctx context.Context, userID int64) error {
	outs, err := s.o.DB.SetDisabled(ctx, userID, true)
	if err != nil {
		return err
	}
	for i := range outs {
		s.stop(ctx, userID, &outs[i])
	}
	return nil
}

// stop ends the run of a generation just canceled: this process's worker lets go, and
// its prediction is canceled at Replicate.
func (s *Service) stop(ctx context.Context, userID int64, out *db.CancelOutcome) {
	predID := out.PredictionID
	if out.WasRunning {
		s.mu.Lock()
		r := s.runToCancelLocked(out.Generation.ID)
		s.mu.Unlock()
		if r != nil {
			r.userCancel.Store(true)
			r.pokeNow()
			if p, _ := r.predID.Load().(string); p != "" {
				predID = p
			}
		}
	}
	if predID != "" {
		// Done here too, not only by the worker, so it happens even when the job's
		// holder is another (or a dead) process.
		s.cancelPrediction(ctx, userID, predID)
	}
}

// runToCancelLocked returns this process's run of a canceled running generation, or,
// when there is none (yet), records the cancel for fill to apply (see earlyCancels).
// s.mu is held.
func (s *Service) runToCancelLocked(id string) *run {
	if r := s.byGen[id]; r != nil {
		return r
	}
	now := time.Now()
	for g, at := range s.earlyCancels {
		if now.Sub(at) > s.o.LeaseDuration {
			delete(s.earlyCancels, g)
		}
	}
	s.earlyCancels[id] = now
	return nil
}

func (s *Service) cancelPrediction(ctx context.Context, userID int64, predID string) {
	if err := CancelPrediction(ctx, s.o.Replicate, s.token, userID, predID); err != nil {
		s.log.Warn("cancel prediction at Replicate", "prediction", predID, "err", err)
	}
}

// CancelPrediction cancels a user's prediction at Replicate with the token that created
// it (token picks it, as Options.Token does). Used by the workers, and by the `user
// disable` command for the predictions of the account it disables.
func CancelPrediction(ctx context.Context, rc *replicate.Client, token func(context.Context, int64) (string, error), userID int64, predID string) error {
	t, err := token(ctx, userID)
	if err == nil && t == "" {
		err = ErrNoToken
	}
	if err != nil {
		return fmt.Errorf("no token to cancel prediction %s: %w", predID, err)
	}
	_, err = rc.Cancel(ctx, t, predID)
	return err
}

// Delete cancels the user's generation if needed, deletes its rows and removes its files.
func (s *Service) Delete(ctx context.Context, userID int64, id string) error {
	g, err := s.o.DB.GetGeneration(ctx, userID, id)
	if err != nil {
		return err
	}
	if !g.Terminal() {
		if _, err := s.Cancel(ctx, userID, id); err != nil && !errors.Is(err, db.ErrConflict) {
			return err
		}
	}
	g, err = s.o.DB.DeleteGeneration(ctx, userID, id)
	if err != nil {
		return err
	}
	// A worker storing this image right now finds the generation gone when it tries to
	// complete it and removes what it stored itself. The generation's references to
	// uploads went with its row: an upload no other generation uses is removed by
	// ExpireUploads once it is old enough.
	s.removeFiles(ctx, g.ImageKey, g.ThumbKey)
	return nil
}

func (s *Service) removeFiles(ctx context.Context, keys ...string) {
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := s.o.Storage.Delete(ctx, k); err != nil {
			s.log.Warn("delete stored file", "key", k, "err", err)
		}
	}
}

// expireBatch is how many uploads one expiry removes in one write.
const expireBatch = 100

// ExpireUploads removes every upload that no generation uses and that was made more
// than UploadRetention ago, rows then files, and returns how many it removed. The
// dispatcher runs it every ten minutes; an upload a generation uses (pending, running
// or finished) is never removed, and one whose generations were all deleted is, once
// old enough.
func (s *Service) ExpireUploads(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.expireUploads(ctx, expireBatch)
		total += n
		if err != nil || n < expireBatch {
			return total, err
		}
	}
}

func (s *Service) expireUploads(ctx context.Context, limit int) (int, error) {
	ups, err := s.o.DB.ExpireUploads(ctx, s.o.Now().Add(-s.o.UploadRetention), limit)
	if err != nil {
		return 0, err
	}
	for _, u := range ups {
		s.removeFiles(ctx, u.Key)
	}
	if len(ups) > 0 {
		s.log.Info("removed uploads no generation used", "uploads", len(ups), "retention", s.o.UploadRetention)
	}
	return len(ups), nil
}

// Retry re-queues the user's failed or canceled generation with the same parameters and
// a fresh job; anything else is db.ErrConflict. b, when set, reserves the run's cost
// (db.Store.RetryGeneration).
func (s *Service) Retry(ctx context.Context, userID int64, id string, b *db.Budget) (*db.Generation, error) {
	g, err := s.o.DB.RetryGeneration(ctx, userID, id, s.o.MaxAttempts, b)
	if err != nil {
		return nil, err
	}
	s.Notify()
	return g, nil
}

func (s *Service) token(ctx context.Context, userID int64) (string, error) {
	t, err := s.o.Token(ctx, userID)
	if err == nil && t == "" {
		err = ErrNoToken
	}
	return t, err
}

// dispatch claims jobs whenever there are free workers and something may be runnable:
// on Notify, when a worker finishes, and every PollInterval (which also runs the
// rescuer and, now and then, prunes old events).
func (s *Service) dispatch(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(s.o.PollInterval)
	defer tick.Stop()
	var lastPrune time.Time
	moreUploads := false
	queued := s.o.DB.QueueSignal() // another process queued jobs (PostgreSQL); nil with SQLite
	for {
		s.fill(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-queued:
		case <-s.slotFree:
		case <-tick.C:
			if _, err := s.o.DB.ReclaimExpiredLeases(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("reclaim expired leases", "err", err)
			}
			if now := s.o.Now(); now.Sub(lastPrune) > 10*time.Minute || moreUploads {
				if !moreUploads {
					lastPrune = now
					if _, err := s.o.DB.PruneEvents(ctx, now.Add(-s.o.EventRetention)); err != nil && ctx.Err() == nil {
						s.log.Error("prune events", "err", err)
					}
					if _, err := s.o.DB.PruneIdempotencyKeys(ctx, now.Add(-db.IdempotencyTTL)); err != nil && ctx.Err() == nil {
						s.log.Error("prune idempotency keys", "err", err)
					}
					if err := s.pruneAudit(ctx, now); err != nil && ctx.Err() == nil {
						s.log.Error("prune audit log", "err", err)
					}
				}
				// One batch a tick, so the claims are not held up; a full batch means
				// more are due, and the next tick takes them.
				n, err := s.expireUploads(ctx, expireBatch)
				if err != nil && ctx.Err() == nil {
					s.log.Error("expire uploads", "err", err)
				}
				moreUploads = err == nil && n == expireBatch
			}
		}
	}
}

func (s *Service) fill(ctx context.Context) {
	for ctx.Err() == nil {
		s.mu.Lock()
		free := s.o.MaxWorkers - s.active
		s.mu.Unlock()
		if free <= 0 {
			return
		}
		owner := s.instance + fmt.Sprint(s.claimSeq.Add(1))
		claimed, err := s.o.DB.ClaimJobs(ctx, owner, s.o.Now().Add(s.o.LeaseDuration), s.o.MaxPerUser, free)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claim jobs", "err", err)
			}
			return
		}
		if len(claimed) == 0 {
			return
		}
		s.mu.Lock()
		for _, j := range claimed {
			if s.onClaim != nil {
				s.onClaim(j)
			}
			r := &run{job: j, owner: owner, poke: make(chan struct{}, 1)}
			if _, ok := s.earlyCancels[j.GenerationID]; ok {
				delete(s.earlyCancels, j.GenerationID)
				r.userCancel.Store(true)
			}
			if j.PredictionID != "" {
				r.predID.Store(j.PredictionID)
				s.byPred[j.PredictionID] = r
			}
			s.byGen[j.GenerationID] = r
			s.active++
			s.workers.Add(1)
			go s.work(ctx, r)
		}
		s.mu.Unlock()
	}
}

// work runs one claimed job to its next resting point: finished, scheduled for a retry,
// handed back on shutdown, or let go because its lease was lost.
func (s *Service) work(ctx context.Context, r *run) {
	defer func() {
		s.mu.Lock()
		delete(s.byGen, r.job.GenerationID)
		if p, _ := r.predID.Load().(string); p != "" && s.byPred[p] == r {
			delete(s.byPred, p)
		}
		s.active--
		s.mu.Unlock()
		select {
		case s.slotFree <- struct{}{}:
		default:
		}
		s.workers.Done()
	}()
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The keeper holds the lease until the job's last write (finish, which may outlast
	// a short lease) is done, so Stop's cancel does not reach it: work stops it after
	// finish and waits for it. Stop waits for work, so once Stop has returned no lease
	// extension is running or can start.
	kctx, stopKeeper := context.WithCancelCause(context.WithoutCancel(jctx))
	var keeper sync.WaitGroup
	keeper.Go(func() { s.keepLease(kctx, cancel, r) })
	defer keeper.Wait()
	defer stopKeeper(errJobOver)
	err := s.attempt(jctx, r)
	s.finish(ctx, jctx, r, err)
}

var (
	errLeaseLost = errors.New("lease lost")
	errJobOver   = errors.New("job over: its lease keeper stops")
)

// keepLease extends the job's lease every third of its duration until ctx ends (work
// ends it once the job is over) or the lease is lost, which cancels the job.
func (s *Service) keepLease(ctx context.Context, cancel context.CancelCauseFunc, r *run) {
	t := time.NewTicker(s.o.LeaseDuration / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.halted.Load() {
				return // a simulated crash writes nothing more
			}
			err := s.extendLease(ctx, r.job.ID, r.owner, s.o.Now().Add(s.o.LeaseDuration))
			if errors.Is(err, db.ErrLeaseLost) {
				cancel(errLeaseLost)
				return
			}
			if err != nil && ctx.Err() == nil {
				s.log.Warn("extend lease", "job", r.job.ID, "err", err)
			}
		}
	}
}

// pruneAudit deletes audit entries older than the retention: the stored setting
// audit_retention_days when it holds a number of days, else Options.AuditRetention.
func (s *Service) pruneAudit(ctx context.Context, now time.Time) error {
	keep := s.o.AuditRetention
	stored, err := s.o.DB.Settings(ctx)
	if err != nil {
		return err
	}
	var days int
	if raw, ok := stored["audit_retention_days"]; ok && json.Unmarshal(raw, &days) == nil && days > 0 {
		keep = time.Duration(days) * 24 * time.Hour
	}
	if keep <= 0 {
		return nil
	}
	_, err = s.o.DB.PruneAudit(ctx, now.Add(-keep))
	return err
}
