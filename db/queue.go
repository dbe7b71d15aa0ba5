package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Queue states (generations.state) and phases (generations.phase); see migration 0002 for
// what each means. Since migration 0007 a job is columns of its generation's row.
const (
	JobQueued   = "queued"
	JobRunning  = "running"
	JobDone     = "done"
	JobFailed   = "failed"
	JobCanceled = "canceled"

	PhaseNone        = ""
	PhaseSubmitting  = "submitting"
	PhaseSubmitted   = "submitted"
	PhaseDownloading = "downloading"
)

// Job is the queue's part of a generation's row: the attempt chain that runs it.
type Job struct {
	ID              int64 // job_id: a new one when the generation is run again
	GenerationID    string
	UserID          int64
	State           string
	Phase           string
	CancelRequested bool
	Attempts        int
	MaxAttempts     int
	RunAfter        time.Time
	LeaseUntil      time.Time
	LeaseOwner      string
	LastError       string
	PredictionID    string
	SubmitStartedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time

	// SubmitClaimed is set by ClaimJobs when the claim's own commit recorded phase
	// 'submitting' (and SubmitStartedAt) for this attempt: the job had no prediction and
	// no phase, so the holder may send its create without a MarkSubmitting commit of
	// its own. Phase still tells what the previous attempt left behind.
	SubmitClaimed bool

	// Generation is set by ClaimJobs when its own commit moved the job's generation from
	// pending to running: the row as that commit left it (not canceled, not deleted).
	// Nil otherwise (a resumed job whose generation was already running): read it.
	Generation *Generation
}

const jobCols = `job_id, id, user_id, state, coalesce(phase, ''), cancel_requested, attempts,
	max_attempts, run_after, lease_until, coalesce(lease_owner, ''), last_error,
	coalesce(prediction_id, ''), submit_started_at, job_created_at, updated_at`

func scanJob(row scanner) (*Job, error) {
	var j Job
	var runAfter, created, updated int64
	var lease, submit sql.NullInt64
	err := row.Scan(&j.ID, &j.GenerationID, &j.UserID, &j.State, &j.Phase, &j.CancelRequested,
		&j.Attempts, &j.MaxAttempts, &runAfter, &lease, &j.LeaseOwner, &j.LastError,
		&j.PredictionID, &submit, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	j.RunAfter, j.CreatedAt, j.UpdatedAt = fromMS(runAfter), fromMS(created), fromMS(updated)
	j.LeaseUntil, j.SubmitStartedAt = nullMS(lease), nullMS(submit)
	return &j, nil
}

// ClaimJobs takes up to limit runnable queued jobs in one UPDATE, at most one per user per
// call, and leases them to owner until leaseUntil. Fairness: users are served by fewest
// running jobs first, then by their oldest runnable job, so a user with 200 queued jobs
// takes turns with a user who has one; a user already running maxPerUser is skipped.
// Callers wanting more slots than users call again. Claimed pending generations become
// running, with an event, in the same transaction. A claimed job with neither prediction
// nor phase is recorded as 'submitting' in that same commit (see Job.SubmitClaimed), and
// a generation the claim started comes back with its job (Job.Generation).
func (d *DB) ClaimJobs(ctx context.Context, owner string, leaseUntil time.Time, maxPerUser, limit int) ([]Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	// The limit goes into the text, not a parameter: SQLite plans a LIMIT from its bound
	// value and re-prepares the statement whenever that value changes, which with the
	// number of free workers varying from claim to claim was half of each claim's cost.
	// One cached statement per limit, at most maxClaimLimit of them.
	limit = min(limit, maxClaimLimit)
	now := d.now()
	var jobs []Job
	var users []int64
	err := d.eventTx(ctx, func(tx *wtx) error {
		jobs, users = jobs[:0], users[:0]
		// A fresh attempt (no prediction, no phase) will create a prediction next:
		// 'submitting' goes in this UPDATE rather than a commit of its own, and is
		// durable before the create is sent. A job that was already 'submitting' keeps
		// its old submit time, which reconciliation needs, and its holder marks a new
		// one itself. SET sees the row as it was; submit_owner = this claim's owner
		// (migration 0006) tells the rows marked here from the others.
		// The generation moves from pending to running in the same UPDATE; started_by
		// = this claim's owner tells the generations this claim started (and so owes
		// an event for) from resumed ones.
		rows, err := tx.QueryContext(ctx, claimQuery(d.pg, limit), ms(leaseUntil), owner, ms(now), maxPerUser)
		if err != nil {
			return err
		}
		for rows.Next() {
			var marked, started bool
			g := new(Generation)
			gd, gfin := genDest(g)
			j, err := scanJob(scanPlus{rows, append([]any{&marked, &started}, gd...)})
			if err == nil {
				err = gfin()
			}
			if err != nil {
				rows.Close()
				return err
			}
			if marked {
				// Phase tells what the previous attempt left behind: nothing.
				j.SubmitClaimed, j.Phase = true, PhaseNone
			}
			if started {
				// The whole row comes back, so the holder need not read it again.
				j.Generation = g
			}
			jobs = append(jobs, *j)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range jobs {
			if g := jobs[i].Generation; g != nil {
				if err := insertEvent(ctx, tx, g, g.Status, now); err != nil {
					return err
				}
				users = append(users, g.UserID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	d.notify(users...)
	return jobs, nil
}

// claimQueries are the claim's statements by database and limit, built once rather than
// for every claim (the text is ~2 KB).
var claimQueries = sync.OnceValue(func() (q [2][maxClaimLimit + 1]string) {
	for i, base := range [2]string{claimSQLite, claimPostgres} {
		for limit := 1; limit <= maxClaimLimit; limit++ {
			q[i][limit] = strings.Replace(base, "LIMIT_N", strconv.Itoa(limit), 1) + jobCols +
				`, coalesce(submit_owner = ?2, FALSE), coalesce(started_by = ?2, FALSE), ` + genCols
		}
	}
	return q
})

// claimQuery is the claim's statement for limit (1 to maxClaimLimit).
func claimQuery(pg bool, limit int) string {
	i := 0
	if pg {
		i = 1
	}
	return claimQueries()[i][limit]
}

// claimSet is what a claim writes: the lease, for a fresh attempt 'submitting', and for
// a pending generation its start.
const claimSet = `UPDATE generations SET state = 'running', lease_until = ?1,
		lease_owner = ?2, attempts = attempts + 1, updated_at = ?3,
		phase = CASE WHEN phase IS NULL AND prediction_id IS NULL THEN 'submitting' ELSE phase END,
		submit_started_at = CASE WHEN phase IS NULL AND prediction_id IS NULL THEN ?3 ELSE submit_started_at END,
		submit_owner = CASE WHEN phase IS NULL AND prediction_id IS NULL THEN ?2 ELSE submit_owner END,
		status = CASE WHEN status = 'pending' THEN 'running' ELSE status END,
		started_at = CASE WHEN status = 'pending' THEN coalesce(started_at, ?3) ELSE started_at END,
		started_by = CASE WHEN status = 'pending' THEN ?2 ELSE started_by END`

// claimSQLite takes, for each user with queued jobs and fewer than ?4 running, the
// oldest runnable job, fewest running first. SQLite has one writer: nothing else can
// take the same rows meanwhile.
const claimSQLite = claimSet + `
	WHERE job_id IN (
		SELECT jid FROM (
			SELECT u.running AS running,
				(SELECT j.job_id FROM generations j
				 WHERE j.user_id = u.user_id AND j.state = 'queued' AND j.run_after <= ?3
				 ORDER BY j.job_id LIMIT 1) AS jid
			FROM queue_users u
			WHERE u.queued > 0 AND u.running < ?4)
		WHERE jid IS NOT NULL
		ORDER BY running, jid
		LIMIT LIMIT_N)
	RETURNING `

// claimPostgres is the same claim for several processes: each user's candidate job is
// locked FOR UPDATE SKIP LOCKED, so a claimer never waits for, nor takes, a row another
// transaction holds, and the outer UPDATE re-checks the state it found.
const claimPostgres = claimSet + `
	WHERE state = 'queued' AND job_id IN (
		SELECT c.job_id FROM queue_users u
		CROSS JOIN LATERAL (
			SELECT j.job_id FROM generations j
			WHERE j.user_id = u.user_id AND j.state = 'queued' AND j.run_after <= ?3
			ORDER BY j.job_id LIMIT 1
			FOR UPDATE SKIP LOCKED) c
		WHERE u.queued > 0 AND u.running < ?4
		ORDER BY u.running, c.job_id
		LIMIT LIMIT_N)
	RETURNING `

// scanPlus scans a row of columns the scanner's user knows, then extra ones.
type scanPlus struct {
	s     scanner
	extra []any
}

func (x scanPlus) Scan(dest ...any) error { return x.s.Scan(append(dest, x.extra...)...) }

// maxClaimLimit bounds one claim (and so the claim statements cached, one per limit);
// a caller with more free slots claims again.
const maxClaimLimit = 32

// ReclaimExpiredLeases puts running jobs whose lease has expired back in the queue (their
// holder died or hung), keeping prediction_id and phase so the next holder resumes
// instead of creating again. It returns how many it reclaimed.
func (d *DB) ReclaimExpiredLeases(ctx context.Context) (int64, error) {
	return d.reclaim(ctx, `lease_until < ?1`, nil)
}

// ReclaimLeasesNotOwnedBy puts every running job whose owner does not start with
// ownerPrefix back in the queue at once. Only safe when no other process runs jobs on
// this database (the SQLite deployment): it lets a restart after a crash resume at once
// instead of waiting for the dead process's leases to expire.
func (d *DB) ReclaimLeasesNotOwnedBy(ctx context.Context, ownerPrefix string) (int64, error) {
	return d.reclaim(ctx, `substr(lease_owner, 1, length(CAST(?2 AS TEXT))) <> CAST(?2 AS TEXT)`, []any{ownerPrefix})
}

func (d *DB) reclaim(ctx context.Context, cond string, extra []any) (int64, error) {
	var n int64
	now := ms(d.now())
	err := d.writeTx(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE generations SET state = 'queued', lease_until = NULL,
			lease_owner = NULL, run_after = ?1, updated_at = ?1
			WHERE state = 'running' AND `+cond, append([]any{now}, extra...)...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reclaim leases: %w", err)
	}
	return n, nil
}

// leased runs one conditional update of a job the caller holds; no row means the lease
// is lost.
func leased(ctx context.Context, tx *wtx, jobID int64, owner, set string, args ...any) error {
	res, err := tx.ExecContext(ctx, `UPDATE generations SET `+set+` WHERE job_id = ? AND lease_owner = ? AND state = 'running'`,
		append(args, jobID, owner)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// ExtendLease moves the lease's end to until; ErrLeaseLost when the job is no longer
// the caller's.
func (d *DB) ExtendLease(ctx context.Context, jobID int64, owner string, until time.Time) error {
	return d.writeTx(ctx, func(tx *wtx) error {
		return leased(ctx, tx, jobID, owner, `lease_until = ?, updated_at = ?`, ms(until), ms(d.now()))
	})
}

// ReleaseJob hands a job back to the queue at once, undoing the claim's attempt count:
// used on graceful shutdown, which is not the job's fault. Phase and prediction stay.
func (d *DB) ReleaseJob(ctx context.Context, jobID int64, owner string) error {
	now := ms(d.now())
	return d.writeTx(ctx, func(tx *wtx) error {
		return leased(ctx, tx, jobID, owner, `state = 'queued', lease_until = NULL, lease_owner = NULL,
			attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, run_after = ?, updated_at = ?`, now, now)
	})
}

// GetJob reads a job by id.
func (d *DB) GetJob(ctx context.Context, jobID int64) (*Job, error) {
	return scanJob(d.queryRow(ctx, `SELECT `+jobCols+` FROM generations WHERE job_id = ?`, jobID))
}

// JobForGeneration reads the job of a generation.
func (d *DB) JobForGeneration(ctx context.Context, genID string) (*Job, error) {
	return scanJob(d.queryRow(ctx, `SELECT `+jobCols+` FROM generations WHERE id = ?`, genID))
}

// JobForPrediction reads the job that owns a Replicate prediction id.
func (d *DB) JobForPrediction(ctx context.Context, predictionID string) (*Job, error) {
	return scanJob(d.queryRow(ctx, `SELECT `+jobCols+` FROM generations WHERE prediction_id = ?`, predictionID))
}

// GenerationForJob reads a generation without an owner check (for the worker, which
// already holds the job).
func (d *DB) GenerationForJob(ctx context.Context, genID string) (*Generation, error) {
	return scanGeneration(d.queryRow(ctx, `SELECT `+genCols+` FROM generations WHERE id = ?`, genID))
}

// PredictionKnown reports whether some job already owns predictionID, so reconciliation
// never adopts another job's prediction.
func (d *DB) PredictionKnown(ctx context.Context, predictionID string) (bool, error) {
	var n int
	err := d.queryRow(ctx, `SELECT count(*) FROM generations WHERE prediction_id = ?`, predictionID).Scan(&n)
	return n > 0, err
}

// MarkSubmitting records, before a create is sent, that one may reach Replicate. A
// restart that finds this phase without a prediction id looks for the prediction
// instead of blindly creating a second, paid one.
func (d *DB) MarkSubmitting(ctx context.Context, jobID int64, owner string, at time.Time) error {
	return d.writeTx(ctx, func(tx *wtx) error {
		return leased(ctx, tx, jobID, owner, `phase = 'submitting', submit_started_at = ?, updated_at = ?`,
			ms(at), ms(d.now()))
	})
}

// SetPrediction records the prediction a job created (or adopted), in its own commit the
// moment it is known. A prediction already owned by another job is ErrConflict.
func (d *DB) SetPrediction(ctx context.Context, jobID int64, owner, genID, predictionID string) error {
	now := ms(d.now())
	err := d.writeTx(ctx, func(tx *wtx) error {
		// The job's prediction is the generation's (one row since migration 0007).
		return leased(ctx, tx, jobID, owner, `phase = 'submitted', prediction_id = ?, updated_at = ?`,
			predictionID, now)
	})
	if isUniqueViolation(err) {
		return &Error{Code: CodePredictionOwned, Reason: "prediction " + predictionID + " belongs to another job", Err: err}
	}
	return err
}

// SetPhase records a phase change (e.g. PhaseDownloading) of a held job.
func (d *DB) SetPhase(ctx context.Context, jobID int64, owner, phase string) error {
	var p any
	if phase != "" {
		p = phase
	}
	return d.writeTx(ctx, func(tx *wtx) error {
		return leased(ctx, tx, jobID, owner, `phase = ?, updated_at = ?`, p, ms(d.now()))
	})
}

// RetryLater puts a held job back in the queue to run at runAfter. With newPrediction the
// previous prediction ended without a result (E6716, aborted, or a create Replicate
// refused) and the next attempt may create a new one; otherwise phase and prediction stay
// so the next attempt resumes or reconciles.
func (d *DB) RetryLater(ctx context.Context, jobID int64, owner string, runAfter time.Time, lastError string, newPrediction bool) error {
	now := ms(d.now())
	set := `state = 'queued', lease_until = NULL, lease_owner = NULL, run_after = ?, last_error = ?, updated_at = ?`
	if newPrediction {
		set += `, phase = NULL, prediction_id = NULL, submit_started_at = NULL`
	}
	return d.writeTx(ctx, func(tx *wtx) error {
		return leased(ctx, tx, jobID, owner, set, ms(runAfter), lastError, now)
	})
}

// FailJob ends a held job as failed and its generation with message, a sentence for the
// user; lastError keeps the technical cause for the operator.
func (d *DB) FailJob(ctx context.Context, jobID int64, owner, genID, message, lastError string) error {
	return d.finishJob(ctx, jobID, owner, genID, JobFailed, lastError, `status = 'failed', error = ?3,
		completed_at = ?1, updated_at = ?1`, message)
}

// FinishCanceled ends a held job whose generation the user canceled.
func (d *DB) FinishCanceled(ctx context.Context, jobID int64, owner string) error {
	return d.writeTx(ctx, func(tx *wtx) error {
		return leased(ctx, tx, jobID, owner, `state = 'canceled', lease_until = NULL, updated_at = ?`, ms(d.now()))
	})
}

// Result is what a finished generation stored.
type Result struct {
	ImageKey, ImageType, ThumbKey string
	Width, Height                 int
	Bytes                         int64
	SHA256                        string
}

// CompleteJob marks a held job done and its generation completed with the stored image,
// in one transaction. If the generation was canceled or deleted meanwhile it returns
// ErrLeaseLost and changes nothing; the caller then removes the files it stored.
func (d *DB) CompleteJob(ctx context.Context, jobID int64, owner, genID string, r Result) error {
	return d.finishJob(ctx, jobID, owner, genID, JobDone, "", `status = 'completed', error = '',
		image_key = ?3, image_type = ?4, thumb_key = ?5, width = ?6, height = ?7, bytes = ?8,
		sha256 = ?9, completed_at = ?1, updated_at = ?1`,
		r.ImageKey, r.ImageType, r.ThumbKey, r.Width, r.Height, r.Bytes, r.SHA256)
}

func (d *DB) finishJob(ctx context.Context, jobID int64, owner, genID, state, lastError, genSet string, genArgs ...any) error {
	now := d.now()
	var userID int64
	err := d.eventTx(ctx, func(tx *wtx) error {
		// genSet numbers its own values from ?3 (?1 is now, ?2 the job); the job's
		// follow. Every parameter is used, which PostgreSQL requires (it cannot type
		// one that no expression refers to).
		n := 3 + len(genArgs)
		set := fmt.Sprintf(`, state = ?%d, lease_until = NULL`, n)
		args := append([]any{ms(now), jobID}, genArgs...)
		args = append(args, state, owner)
		if lastError != "" {
			set += fmt.Sprintf(`, last_error = ?%d`, n+2)
			args = append(args, lastError)
		}
		var updated bool
		var err error
		// No row: the lease is lost, or the generation was canceled or deleted meanwhile.
		userID, updated, err = updateWithEvent(ctx, tx, now, `UPDATE generations SET `+genSet+set+
			fmt.Sprintf(` WHERE job_id = ?2 AND lease_owner = ?%d AND state = 'running'`, n+1)+
			` AND status IN ('pending', 'running')`, args...)
		if err != nil {
			return err
		}
		if !updated {
			return ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.notify(userID)
	return nil
}

// CancelOutcome says what CancelGeneration found, so the caller knows whether a
// prediction at Replicate needs canceling too.
type CancelOutcome struct {
	Generation   *Generation
	WasRunning   bool   // a worker holds (or held) the job: it will cancel the prediction
	PredictionID string // the job's prediction, if one is recorded
}

// CancelGeneration marks the user's pending or running generation canceled (with an
// event). A queued job is removed from the queue at once; a running one is flagged so
// its worker cancels the prediction and stops. A finished generation is ErrConflict.
func (d *DB) CancelGeneration(ctx context.Context, userID int64, genID string) (*CancelOutcome, error) {
	now := d.now()
	var out CancelOutcome
	err := d.eventTx(ctx, func(tx *wtx) error {
		g, err := scanGeneration(tx.QueryRowContext(ctx,
			`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`, genID, userID))
		if err != nil {
			return err
		}
		if g.Terminal() {
			return Errorf(CodeAlreadyFinished, "it is already %s", g.Status)
		}
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM generations WHERE id = ?`, genID).
			Scan(&state); err != nil {
			return err
		}
		out.PredictionID = g.PredictionID
		out.WasRunning = state == JobRunning
		// Running: flagged, its worker cancels the prediction and lets go. Queued (maybe
		// between retries, with a prediction id): out of the queue now.
		if _, err := tx.ExecContext(ctx, `UPDATE generations SET status = 'canceled', completed_at = ?1,
			updated_at = ?1, cancel_requested = 1,
			state = CASE WHEN state = 'running' THEN state ELSE 'canceled' END,
			lease_until = CASE WHEN state = 'running' THEN lease_until END,
			lease_owner = CASE WHEN state = 'running' THEN lease_owner END
			WHERE id = ?2`, ms(now), genID); err != nil {
			return err
		}
		g.Status, g.CompletedAt, g.UpdatedAt = StatusCanceled, fromMS(ms(now)), fromMS(ms(now))
		g.QueuePosition = 0
		out.Generation = g
		return insertEvent(ctx, tx, g, StatusCanceled, now)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
			return nil, err
		}
		return nil, fmt.Errorf("cancel generation: %w", err)
	}
	d.notify(userID)
	return &out, nil
}

// RetryGeneration puts the user's failed or canceled generation back in the queue with
// the same parameters and a fresh job (new attempts, at the back of the queue). Anything
// else, including a canceled one whose worker has not yet let go, is ErrConflict.
func (d *DB) RetryGeneration(ctx context.Context, userID int64, genID string, maxAttempts int) (*Generation, error) {
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	now := d.now()
	var g *Generation
	err := d.eventTx(ctx, func(tx *wtx) error {
		var err error
		g, err = scanGeneration(tx.QueryRowContext(ctx,
			`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`, genID, userID))
		if err != nil {
			return err
		}
		if g.Status != StatusFailed && g.Status != StatusCanceled {
			return Errorf(CodeNotRetryable, "only failed or canceled generations can be retried, this one is %s", g.Status)
		}
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM generations WHERE id = ?`, genID).
			Scan(&state); err != nil {
			return err
		}
		if state == JobRunning {
			return Errorf(CodeStillStopping, "the previous run is still stopping; retry in a moment")
		}
		// A fresh job: a new job id (the back of the queue), nothing of the old chain.
		newJob := `(SELECT max(job_id) FROM generations) + 1`
		if d.pg {
			newJob = `nextval('generations_job_id_seq')`
		}
		g, err = scanGeneration(tx.QueryRowContext(ctx, `UPDATE generations SET status = 'pending', error = '',
			prediction_id = NULL, image_key = NULL, image_type = NULL, thumb_key = NULL, width = NULL,
			height = NULL, bytes = NULL, sha256 = NULL, started_at = NULL, completed_at = NULL,
			updated_at = ?1, job_id = `+newJob+`, state = 'queued', phase = NULL,
			cancel_requested = 0, attempts = 0, max_attempts = ?2, run_after = ?1,
			lease_until = NULL, lease_owner = NULL, last_error = '', submit_started_at = NULL,
			submit_owner = NULL, job_created_at = ?1, started_by = NULL
			WHERE id = ?3 RETURNING `+genCols, ms(now), maxAttempts, genID))
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, g, StatusPending, now)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
			return nil, err
		}
		return nil, fmt.Errorf("retry generation: %w", err)
	}
	d.notify(userID)
	if err := d.queuePosition(ctx, g); err != nil {
		return nil, err
	}
	return g, nil
}

// QueueCounts returns the number of queued and running jobs for every user with any, as
// the triggers keep them (for metrics and tests).
func (d *DB) QueueCounts(ctx context.Context) (map[int64][2]int, error) {
	rows, err := d.query(ctx, `SELECT user_id, queued, running FROM queue_users`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][2]int{}
	for rows.Next() {
		var u int64
		var q, r int
		if err := rows.Scan(&u, &q, &r); err != nil {
			return nil, err
		}
		out[u] = [2]int{q, r}
	}
	return out, rows.Err()
}
