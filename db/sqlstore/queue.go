package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"time"

	"nanobanana/db"
)

const jobCols = `job_id, id, user_id, state, coalesce(phase, ''), cancel_requested, attempts,
	max_attempts, run_after, lease_until, coalesce(lease_owner, ''), last_error,
	coalesce(prediction_id, ''), submit_started_at, job_created_at, updated_at, output_until`

func scanJob(row Row) (*db.Job, error) {
	var j db.Job
	var runAfter, created, updated int64
	var lease, submit, output sql.NullInt64
	err := row.Scan(&j.ID, &j.GenerationID, &j.UserID, &j.State, &j.Phase, &j.CancelRequested,
		&j.Attempts, &j.MaxAttempts, &runAfter, &lease, &j.LeaseOwner, &j.LastError,
		&j.PredictionID, &submit, &created, &updated, &output)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	j.RunAfter, j.CreatedAt, j.UpdatedAt = fromMS(runAfter), fromMS(created), fromMS(updated)
	j.LeaseUntil, j.SubmitStartedAt, j.OutputUntil = nullMS(lease), nullMS(submit), nullMS(output)
	return &j, nil
}

// MaxClaimLimit bounds one claim (and so the claim statements an engine prepares, one
// per limit); a caller with more free slots claims again.
const MaxClaimLimit = 32

// ClaimSet is what a claim writes: the lease, for a fresh attempt 'submitting', and for
// a pending generation its start. ?1 is the lease's end, ?2 the owner, ?3 now, ?4 the
// running jobs a user may have. An engine's claim statement (Dialect.ClaimQuery) is
// this UPDATE with the WHERE that picks the jobs; the store adds the RETURNING list.
const ClaimSet = `UPDATE generations SET state = 'running', lease_until = ?1,
		lease_owner = ?2, attempts = attempts + 1, updated_at = ?3,
		phase = CASE WHEN phase IS NULL AND prediction_id IS NULL THEN 'submitting' ELSE phase END,
		submit_started_at = CASE WHEN phase IS NULL AND prediction_id IS NULL THEN ?3 ELSE submit_started_at END,
		submit_owner = CASE WHEN phase IS NULL AND prediction_id IS NULL THEN ?2 ELSE submit_owner END,
		status = CASE WHEN status = 'pending' THEN 'running' ELSE status END,
		started_at = CASE WHEN status = 'pending' THEN coalesce(started_at, ?3) ELSE started_at END,
		started_by = CASE WHEN status = 'pending' THEN ?2 ELSE started_by END`

// What a worker may claim is decided here, in one place: ClaimUser is the condition on
// a user (u, a queue_users row) and ClaimJob the condition on a user's candidate job
// (j, a generations row). Each engine's claim statement (Dialect.ClaimQuery) puts them
// where its plan needs them. Their parameters are the claim's (ClaimSet): ?3 now, ?4
// the running jobs a user may have, ?5 and ?6 the first and last day of now's UTC
// month (db.MonthDays).
//
//   - the global pause: the settings key queue_paused stored as true claims nothing;
//   - a disabled account's jobs wait (disabling cancels them, this covers a create
//     that raced the disable);
//   - the budget: a job that the shared token pays and that has no prediction yet waits
//     while the shared token's books for the month are over the stored
//     shared_month_cap_usd. Reservations are checked against the cap when a job is
//     queued, so this holds back only what was queued before an admin lowered the cap
//     (or what extra predictions booked past it): such jobs stay pending, and run when
//     the cap is raised or the month turns. Whatever has a prediction already runs to
//     its end (it is paid for).
//   - a user's own pause (users.queue_paused): their pending generations wait; a
//     running one between tries still goes (its paid prediction must not be lost).
//
// Within a user, the candidate is the first by (queue_rank, job_id): the user's own
// order (ClaimQuery's ORDER BY).
const (
	ClaimUser = `u.queued > 0 AND u.running < ?4
		AND NOT EXISTS (SELECT 1 FROM settings WHERE key = 'queue_paused' AND value = 'true')
		AND NOT EXISTS (SELECT 1 FROM users d WHERE d.id = u.user_id AND d.disabled = 1)`
	ClaimJob = `j.state = 'queued' AND j.run_after <= ?3
		AND NOT (j.paid_by = 'shared' AND j.prediction_id IS NULL AND coalesce(
			CAST((SELECT value FROM settings WHERE key = 'shared_month_cap_usd' AND value <> 'null')
				AS DOUBLE PRECISION) * 1000000 < (SELECT coalesce(sum(micros), 0)
				FROM spending WHERE paid_by = 'shared' AND day BETWEEN ?5 AND ?6), FALSE))
		AND (j.user_id NOT IN (SELECT id FROM users WHERE queue_paused = 1) OR j.status <> 'pending')`
)

// claimReturning follows the claim: the job, whether this claim marked it submitting
// and started its generation, and the generation.
const claimReturning = ` RETURNING ` + jobCols +
	`, coalesce(submit_owner = ?2, FALSE), coalesce(started_by = ?2, FALSE), ` + genCols

// claimTexts holds the claim's statements by limit, built once (the text is ~2 KB).
type claimTexts struct {
	once sync.Once
	q    [MaxClaimLimit + 1]string
}

func (s *Store) claimQuery(limit int) string {
	s.claims.once.Do(func() {
		for l := 1; l <= MaxClaimLimit; l++ {
			s.claims.q[l] = s.e.ClaimQuery(l) + claimReturning
		}
	})
	return s.claims.q[limit]
}

// claimed is what a claim's write found.
type claimed struct {
	jobs  []db.Job
	users []int64
}

// ClaimJobs takes up to limit runnable queued jobs in one UPDATE, at most one per user per
// call, and leases them to owner until leaseUntil. Fairness: users are served by fewest
// running jobs first, then by their oldest runnable job, so a user with 200 queued jobs
// takes turns with a user who has one; a user already running maxPerUser is skipped.
// Callers wanting more slots than users call again. Claimed pending generations become
// running, with an event, in the same transaction. A claimed job with neither prediction
// nor phase is recorded as 'submitting' in that same commit (see Job.SubmitClaimed), and
// a generation the claim started comes back with its job (Job.Generation).
func (s *Store) ClaimJobs(ctx context.Context, owner string, leaseUntil time.Time, maxPerUser, limit int) ([]db.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	// The limit is in the statement's text: one prepared statement per limit.
	query := s.claimQuery(min(limit, MaxClaimLimit))
	now := s.now()
	c, err := writeEvents(ctx, s, func(q EventQuerier) (claimed, error) {
		var c claimed
		// A fresh attempt (no prediction, no phase) will create a prediction next:
		// 'submitting' goes in this UPDATE rather than a commit of its own, and is
		// durable before the create is sent. A job that was already 'submitting' keeps
		// its old submit time, which reconciliation needs, and its holder marks a new
		// one itself. SET sees the row as it was; submit_owner = this claim's owner
		// tells the rows marked here from the others. The generation moves from pending
		// to running in the same UPDATE; started_by = this claim's owner tells the
		// generations this claim started (and so owes an event for) from resumed ones.
		first, last := db.MonthDays(now)
		rows, err := q.Query(query, ms(leaseUntil), owner, ms(now), maxPerUser, first, last)
		if err != nil {
			return c, err
		}
		for rows.Next() {
			var marked, started bool
			g := new(db.Generation)
			gd, gfin := genDest(g)
			j, err := scanJob(scanPlus{rows, append([]any{&marked, &started}, gd...)})
			if err == nil {
				err = gfin()
			}
			if err != nil {
				rows.Close()
				return c, err
			}
			if marked {
				// Phase tells what the previous attempt left behind: nothing.
				j.SubmitClaimed, j.Phase = true, db.PhaseNone
			}
			if started {
				// The whole row comes back, so the holder need not read it again.
				j.Generation = g
			}
			c.jobs = append(c.jobs, *j)
		}
		if err := rows.Close(); err != nil {
			return c, err
		}
		if err := rows.Err(); err != nil {
			return c, err
		}
		for i := range c.jobs {
			if g := c.jobs[i].Generation; g != nil {
				if err := insertEvent(q, g, g.Status, ms(now)); err != nil {
					return c, err
				}
				c.users = append(c.users, g.UserID)
			}
		}
		return c, nil
	})
	if err != nil {
		return nil, wrapf(err, "claim jobs")
	}
	s.notify(c.users...)
	return c.jobs, nil
}

// scanPlus scans a row of columns the scanner's user knows, then extra ones.
type scanPlus struct {
	r     Row
	extra []any
}

func (x scanPlus) Scan(dest ...any) error { return x.r.Scan(append(dest, x.extra...)...) }

// ReclaimExpiredLeases puts running jobs whose lease has expired back in the queue (their
// holder died or hung), keeping prediction_id and phase so the next holder resumes
// instead of creating again. It returns how many it reclaimed.
func (s *Store) ReclaimExpiredLeases(ctx context.Context) (int64, error) {
	return s.reclaim(ctx, `lease_until < ?1`)
}

// ReclaimLeasesNotOwnedBy puts every running job whose owner does not start with
// ownerPrefix back in the queue at once. Only safe when no other process runs jobs on
// this database (the SQLite deployment): it lets a restart after a crash resume at once
// instead of waiting for the dead process's leases to expire.
func (s *Store) ReclaimLeasesNotOwnedBy(ctx context.Context, ownerPrefix string) (int64, error) {
	return s.reclaim(ctx, `substr(lease_owner, 1, length(CAST(?2 AS TEXT))) <> CAST(?2 AS TEXT)`, ownerPrefix)
}

func (s *Store) reclaim(ctx context.Context, cond string, extra ...any) (int64, error) {
	now := ms(s.now())
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`UPDATE generations SET state = 'queued', lease_until = NULL,
			lease_owner = NULL, run_after = ?1, updated_at = ?1
			WHERE state = 'running' AND `+cond, append([]any{now}, extra...)...)
	})
	return n, wrapf(err, "reclaim leases")
}

// leased runs one conditional update of a job the caller holds; no row means the lease
// is lost.
func leased(q Querier, jobID int64, owner, set string, args ...any) error {
	n, err := q.Exec(`UPDATE generations SET `+set+` WHERE job_id = ? AND lease_owner = ? AND state = 'running'`,
		append(args, jobID, owner)...)
	if err != nil {
		return err
	}
	if n == 0 {
		return db.ErrLeaseLost
	}
	return nil
}

// writeLeased runs leased as a write of its own.
func (s *Store) writeLeased(ctx context.Context, jobID int64, owner, set string, args ...any) error {
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		return struct{}{}, leased(q, jobID, owner, set, args...)
	})
	return err
}

// ExtendLease moves the lease's end to until; ErrLeaseLost when the job is no longer
// the caller's.
func (s *Store) ExtendLease(ctx context.Context, jobID int64, owner string, until time.Time) error {
	return s.writeLeased(ctx, jobID, owner, `lease_until = ?, updated_at = ?`, ms(until), ms(s.now()))
}

// ReleaseJob hands a job back to the queue at once, undoing the claim's attempt count:
// used on graceful shutdown, which is not the job's fault. Phase and prediction stay.
func (s *Store) ReleaseJob(ctx context.Context, jobID int64, owner string) error {
	now := ms(s.now())
	return s.writeLeased(ctx, jobID, owner, `state = 'queued', lease_until = NULL, lease_owner = NULL,
		attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, run_after = ?, updated_at = ?`, now, now)
}

func (s *Store) readJob(ctx context.Context, where string, arg any) (*db.Job, error) {
	return read(ctx, s, func(q Querier) (*db.Job, error) {
		return scanJob(q.QueryRow(`SELECT `+jobCols+` FROM generations WHERE `+where, arg))
	})
}

// GetJob reads a job by id.
func (s *Store) GetJob(ctx context.Context, jobID int64) (*db.Job, error) {
	return s.readJob(ctx, `job_id = ?`, jobID)
}

// JobForGeneration reads the job of a generation.
func (s *Store) JobForGeneration(ctx context.Context, genID string) (*db.Job, error) {
	return s.readJob(ctx, `id = ?`, genID)
}

// JobForPrediction reads the job that owns a Replicate prediction id.
func (s *Store) JobForPrediction(ctx context.Context, predictionID string) (*db.Job, error) {
	return s.readJob(ctx, `prediction_id = ?`, predictionID)
}

// GenerationForJob reads a generation without an owner check (for the worker, which
// already holds the job).
func (s *Store) GenerationForJob(ctx context.Context, genID string) (*db.Generation, error) {
	return read(ctx, s, func(q Querier) (*db.Generation, error) {
		return scanGeneration(q.QueryRow(`SELECT `+genCols+` FROM generations WHERE id = ?`, genID))
	})
}

// PredictionKnown reports whether some job already owns predictionID, so reconciliation
// never adopts another job's prediction.
func (s *Store) PredictionKnown(ctx context.Context, predictionID string) (bool, error) {
	n, err := read(ctx, s, func(q Querier) (int, error) {
		var n int
		err := q.QueryRow(`SELECT count(*) FROM generations WHERE prediction_id = ?`, predictionID).Scan(&n)
		return n, err
	})
	return n > 0, err
}

// MarkSubmitting records, before a create is sent, that one may reach Replicate. A
// restart that finds this phase without a prediction id looks for the prediction
// instead of blindly creating a second, paid one.
func (s *Store) MarkSubmitting(ctx context.Context, jobID int64, owner string, at time.Time) error {
	return s.writeLeased(ctx, jobID, owner, `phase = 'submitting', submit_started_at = ?, updated_at = ?`,
		ms(at), ms(s.now()))
}

// SetPrediction records the prediction a job created (or adopted), in its own commit the
// moment it is known. A prediction already owned by another job is CodePredictionOwned.
// A job whose generation was canceled meanwhile (by its user, or with its account) does
// not take the prediction: ErrCancelRequested, and the worker cancels the prediction at
// Replicate at once instead of running it (a disable from another process reaches a
// worker between its claim and its create this way).
func (s *Store) SetPrediction(ctx context.Context, jobID int64, owner, genID, predictionID string) error {
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		n, err := q.Exec(`UPDATE generations SET phase = 'submitted', prediction_id = ?, updated_at = ?
			WHERE job_id = ? AND lease_owner = ? AND state = 'running' AND cancel_requested = 0`,
			predictionID, now, jobID, owner)
		if err != nil {
			return struct{}{}, err
		}
		if n > 0 {
			// Replicate accepted it: booked, whatever its outcome (books in spending.go).
			return struct{}{}, book(q, jobID, fromMS(now))
		}
		var held int
		err = q.QueryRow(`SELECT count(*) FROM generations WHERE job_id = ? AND lease_owner = ? AND state = 'running'`,
			jobID, owner).Scan(&held)
		if err != nil {
			return struct{}{}, err
		}
		if held == 0 {
			return struct{}{}, db.ErrLeaseLost
		}
		// Canceled while the create was under way: Replicate accepted the prediction
		// all the same (the worker cancels it now), so it is booked; that booking must
		// commit although the answer is an error.
		return struct{}{}, errBookedCanceled
	})
	if errors.Is(err, errBookedCanceled) {
		if _, err := write(ctx, s, func(q Querier) (struct{}, error) {
			return struct{}{}, book(q, jobID, fromMS(now))
		}); err != nil {
			return err
		}
		return db.ErrCancelRequested
	}
	if s.e.UniqueViolation(err) {
		return &db.Error{Code: db.CodePredictionOwned, Reason: "prediction " + predictionID + " belongs to another job", Err: err}
	}
	return err
}

// errBookedCanceled is SetPrediction's write telling its caller that the job was
// canceled meanwhile, so its prediction is booked in a write of its own.
var errBookedCanceled = errors.New("canceled while the prediction was created")

// SetPhase records a phase change (e.g. PhaseDownloading) of a held job.
func (s *Store) SetPhase(ctx context.Context, jobID int64, owner, phase string) error {
	var p any
	if phase != "" {
		p = phase
	}
	return s.writeLeased(ctx, jobID, owner, `phase = ?, updated_at = ?`, p, ms(s.now()))
}

// RetryLater puts a held job back in the queue to run at runAfter. With newPrediction the
// previous prediction ended without a result (E6716, aborted, or a create Replicate
// refused) and the next attempt may create a new one; otherwise phase and prediction stay
// so the next attempt resumes or reconciles.
//
// The generation's event says so (its attempt and retry reason, db.AttemptOf and
// db.RetryReason), so its user sees the retry while it waits.
func (s *Store) RetryLater(ctx context.Context, jobID int64, owner string, runAfter time.Time, lastError string, newPrediction bool) error {
	set := `state = 'queued', lease_until = NULL, lease_owner = NULL, run_after = ?1, last_error = ?2, updated_at = ?3`
	if newPrediction {
		set += `, phase = NULL, prediction_id = NULL, submit_started_at = NULL`
	}
	now := ms(s.now())
	return s.updateHeld(ctx, now, `UPDATE generations SET `+set+
		` WHERE job_id = ?4 AND lease_owner = ?5 AND state = 'running'`,
		ms(runAfter), lastError, now, jobID, owner)
}

// updateHeld runs an UPDATE of a job its caller holds (the query's WHERE names the
// lease) with an event for its generation; no row updated is ErrLeaseLost.
func (s *Store) updateHeld(ctx context.Context, now int64, query string, args ...any) error {
	userID, err := writeEvents(ctx, s, func(q EventQuerier) (int64, error) {
		g, err := updateWithEvent(q, now, query, args...)
		if err != nil {
			return 0, err
		}
		if g == nil {
			return 0, db.ErrLeaseLost
		}
		return g.UserID, nil
	})
	if err != nil {
		return err
	}
	s.notify(userID)
	return nil
}

// Wait puts a held job back in the queue to run at w.RunAfter (it holds no worker
// meanwhile) and shows w.Message as its generation's error (with an event) while the
// generation stays running: a succeeded prediction's output that could not be stored
// (w.OutputUntil records until when it can be fetched, which then bounds the job's
// retries instead of its attempts: jobs.Service.retry), or a job put off until there
// is room (w.Uncounted gives the claim's attempt back).
func (s *Store) Wait(ctx context.Context, jobID int64, owner string, w db.Wait) error {
	now := ms(s.now())
	var until any
	if !w.OutputUntil.IsZero() {
		until = ms(w.OutputUntil)
	}
	uncount := 0
	if w.Uncounted {
		uncount = 1
	}
	return s.updateHeld(ctx, now, `UPDATE generations SET state = 'queued', lease_until = NULL,
		lease_owner = NULL, run_after = ?1, output_until = coalesce(?2, output_until),
		last_error = ?3, error = ?4, updated_at = ?5,
		attempts = CASE WHEN ?8 = 1 AND attempts > 0 THEN attempts - 1 ELSE attempts END
		WHERE job_id = ?6 AND lease_owner = ?7 AND state = 'running' AND status = 'running'`,
		ms(w.RunAfter), until, w.LastError, w.Message, now, jobID, owner, uncount)
}

// FailJob ends a held job as failed and its generation with message, a sentence for the
// user; lastError keeps the technical cause for the operator.
// A reservation still held (no prediction of it reached Replicate) is released.
func (s *Store) FailJob(ctx context.Context, jobID int64, owner, genID, message, lastError string) error {
	return s.finishJob(ctx, jobID, owner, db.JobFailed, lastError, `status = 'failed', error = ?3,
		completed_at = ?1, updated_at = ?1`, message)
}

// FinishCanceled ends a held job whose generation the user canceled.
// A reservation it still holds (its prediction never reached Replicate) is released.
func (s *Store) FinishCanceled(ctx context.Context, jobID int64, owner string) error {
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		if err := leased(q, jobID, owner, `state = 'canceled', lease_until = NULL, updated_at = ?`, ms(s.now())); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, release(q, jobID)
	})
	return err
}

// CompleteJob marks a held job done and its generation completed with the stored image,
// in one transaction. If the generation was canceled or deleted meanwhile it returns
// ErrLeaseLost and changes nothing; the caller then removes the files it stored.
func (s *Store) CompleteJob(ctx context.Context, jobID int64, owner, genID string, r db.Result) error {
	var metrics any // NULL keeps what is stored
	if len(r.Metrics) > 0 {
		metrics = string(r.Metrics)
	}
	return s.finishJob(ctx, jobID, owner, db.JobDone, "", `status = 'completed', error = '',
		image_key = ?3, image_type = ?4, thumb_key = ?5, width = ?6, height = ?7, bytes = ?8,
		sha256 = ?9, metrics = coalesce(?10, metrics), completed_at = ?1, updated_at = ?1`,
		r.ImageKey, r.ImageType, r.ThumbKey, r.Width, r.Height, r.Bytes, r.SHA256, metrics)
}

func (s *Store) finishJob(ctx context.Context, jobID int64, owner, state, lastError, genSet string, genArgs ...any) error {
	now := ms(s.now())
	// genSet numbers its own values from ?3 (?1 is now, ?2 the job); the job's follow.
	// Every parameter is used, which PostgreSQL requires (it cannot type one that no
	// expression refers to).
	n := 3 + len(genArgs)
	set := fmt.Sprintf(`, state = ?%d, lease_until = NULL`, n)
	args := append([]any{now, jobID}, genArgs...)
	args = append(args, state, owner)
	if lastError != "" {
		set += fmt.Sprintf(`, last_error = ?%d`, n+2)
		args = append(args, lastError)
	}
	// No row: the lease is lost, or the generation was canceled or deleted meanwhile.
	query := `UPDATE generations SET ` + genSet + set +
		fmt.Sprintf(` WHERE job_id = ?2 AND lease_owner = ?%d AND state = 'running'`, n+1) +
		` AND status IN ('pending', 'running')`
	userID, err := writeEvents(ctx, s, func(q EventQuerier) (int64, error) {
		if state == db.JobFailed {
			// Before the update, so its event shows what the generation holds after
			// (a lost lease rolls the release back with the rest).
			if err := release(q, jobID); err != nil {
				return 0, err
			}
		}
		g, err := updateWithEvent(q, now, query, args...)
		if err != nil {
			return 0, err
		}
		if g == nil {
			return 0, db.ErrLeaseLost
		}
		return g.UserID, nil
	})
	if err != nil {
		return err
	}
	s.notify(userID)
	return nil
}

// CancelGeneration marks the user's pending or running generation canceled (with an
// event). A queued job is removed from the queue at once; a running one is flagged so
// its worker cancels the prediction and stops. A finished generation is
// CodeAlreadyFinished.
func (s *Store) CancelGeneration(ctx context.Context, userID int64, genID string) (*db.CancelOutcome, error) {
	now := ms(s.now())
	out, err := writeEvents(ctx, s, func(q EventQuerier) (*db.CancelOutcome, error) {
		g, err := scanGeneration(q.QueryRow(`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`, genID, userID))
		if err != nil {
			return nil, err
		}
		if g.Terminal() {
			return nil, db.Errorf(db.CodeAlreadyFinished, "it is already %s", g.Status)
		}
		var state string
		if err := q.QueryRow(`SELECT state FROM generations WHERE id = ?`, genID).Scan(&state); err != nil {
			return nil, err
		}
		return cancelRow(q, g, state, now)
	})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) || errors.Is(err, db.ErrConflict) {
			return nil, err
		}
		return nil, wrapf(err, "cancel generation")
	}
	s.notify(userID)
	return out, nil
}

// cancelRow cancels g, whose job is in state, with an event. Running: flagged, its
// worker cancels the prediction and lets go. Queued (maybe between retries, with a
// prediction id): out of the queue now.
func cancelRow(q EventQuerier, g *db.Generation, state string, now int64) (*db.CancelOutcome, error) {
	out := &db.CancelOutcome{PredictionID: g.PredictionID, WasRunning: state == db.JobRunning}
	if state != db.JobRunning {
		// Out of the queue now: a reservation that never reached Replicate is released
		// (a held job's worker releases it as it lets go: FinishCanceled).
		var jobID int64
		if err := q.QueryRow(`SELECT job_id FROM generations WHERE id = ?`, g.ID).Scan(&jobID); err != nil {
			return nil, err
		}
		if err := release(q, jobID); err != nil {
			return nil, err
		}
		if err := q.QueryRow(`SELECT booked_micros + reserved_micros FROM generations WHERE id = ?`, g.ID).Scan(&g.BookedMicros); err != nil {
			return nil, err
		}
	}
	if _, err := q.Exec(`UPDATE generations SET status = 'canceled', completed_at = ?1,
		updated_at = ?1, cancel_requested = 1,
		state = CASE WHEN state = 'running' THEN state ELSE 'canceled' END,
		lease_until = CASE WHEN state = 'running' THEN lease_until END,
		lease_owner = CASE WHEN state = 'running' THEN lease_owner END
		WHERE id = ?2`, now, g.ID); err != nil {
		return nil, err
	}
	g.Status, g.CompletedAt, g.UpdatedAt = db.StatusCanceled, fromMS(now), fromMS(now)
	g.QueuePosition = 0
	out.Generation = g
	return out, insertEvent(q, g, db.StatusCanceled, now)
}

// cancelAll cancels every pending or running generation of the user (a disabled
// account), as CancelGeneration cancels one.
func cancelAll(q EventQuerier, userID int64, now int64) ([]db.CancelOutcome, error) {
	found, err := genStates(q, `SELECT `+genCols+`, state FROM generations
		WHERE user_id = ? AND status IN ('pending', 'running') ORDER BY job_id`, userID)
	if err != nil {
		return nil, err
	}
	out := make([]db.CancelOutcome, 0, len(found))
	for _, l := range found {
		o, err := cancelRow(q, l.g, l.state, now)
		if err != nil {
			return nil, err
		}
		out = append(out, *o)
	}
	return out, nil
}

// RetryGeneration puts the user's failed or canceled generation back in the queue with
// the same parameters and a fresh job (new attempts, at the back of the queue). Anything
// else is CodeNotRetryable; a canceled one whose worker has not yet let go is
// CodeStillStopping.
//
// b, when set, is the run's price, payer and limits: a run that will create a new
// prediction reserves its cost as CreateGeneration does (over a limit:
// CodeSpendingLimit, and nothing changes); one that fetches a succeeded prediction's
// output books nothing.
func (s *Store) RetryGeneration(ctx context.Context, userID int64, genID string, maxAttempts int, b *db.Budget) (*db.Generation, error) {
	if maxAttempts <= 0 {
		maxAttempts = db.DefaultMaxAttempts
	}
	now := ms(s.now())
	query := s.retryQuery()
	g, err := writeEvents(ctx, s, func(q EventQuerier) (*db.Generation, error) {
		g, err := scanGeneration(q.QueryRow(`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`, genID, userID))
		if err != nil {
			return nil, err
		}
		if g.Status != db.StatusFailed && g.Status != db.StatusCanceled {
			return nil, db.Errorf(db.CodeNotRetryable, "only failed or canceled generations can be retried, this one is %s", g.Status)
		}
		var state string
		if err := q.QueryRow(`SELECT state FROM generations WHERE id = ?`, genID).Scan(&state); err != nil {
			return nil, err
		}
		if state == db.JobRunning {
			return nil, db.Errorf(db.CodeStillStopping, "the previous run is still stopping; retry in a moment")
		}
		var reuses int
		if err := q.QueryRow(`SELECT count(*) FROM generations WHERE id = ? AND output_until > ? AND prediction_id IS NOT NULL`,
			genID, now).Scan(&reuses); err != nil {
			return nil, err
		}
		if b != nil && reuses == 0 {
			cost := db.Micros(b.PriceUSD)
			day, err := reserve(q, userID, 1, cost, b, fromMS(now))
			if err != nil {
				return nil, err
			}
			if _, err := q.Exec(`UPDATE generations SET cost_micros = ?, paid_by = ?, reserved_micros = ?, spend_day = ?
				WHERE id = ?`, cost, b.PaidBy, cost, day, genID); err != nil {
				return nil, err
			}
		}
		g, err = scanGeneration(q.QueryRow(query, now, maxAttempts, genID))
		if err != nil {
			return nil, err
		}
		return g, insertEvent(q, g, db.StatusPending, now)
	})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) || errors.Is(err, db.ErrConflict) || db.CodeOf(err) == db.CodeSpendingLimit {
			return nil, err
		}
		return nil, wrapf(err, "retry generation")
	}
	s.notify(userID)
	err = s.e.Read(ctx, func(q Querier) error { return queuePosition(q, g) })
	if err != nil {
		return nil, err
	}
	return g, nil
}

// retryQuery puts a failed or canceled generation (?3) back in the queue with a fresh
// job: a new job id (the back of the queue, rank 0), nothing of the old chain but a
// succeeded prediction whose output can still be fetched (output_until, Wait): the job
// resumes it ('submitted') and fetches the image it paid for. ?1 is now, ?2 the
// attempts.
func (s *Store) retryQuery() string {
	return `UPDATE generations SET status = 'pending', error = '',
		prediction_id = CASE WHEN output_until > ?1 THEN prediction_id END,
		phase = CASE WHEN output_until > ?1 AND prediction_id IS NOT NULL THEN 'submitted' END,
		image_key = NULL, image_type = NULL, thumb_key = NULL, width = NULL,
		height = NULL, bytes = NULL, sha256 = NULL, started_at = NULL, completed_at = NULL,
		updated_at = ?1, job_id = ` + s.e.NewJobID() + `, state = 'queued', queue_rank = 0,
		cancel_requested = 0, attempts = 0, max_attempts = ?2, run_after = ?1,
		lease_until = NULL, lease_owner = NULL, last_error = '', submit_started_at = NULL,
		submit_owner = NULL, job_created_at = ?1, started_by = NULL
		WHERE id = ?3 RETURNING ` + genCols
}

// QueueCounts returns the number of queued and running jobs for every user with any, as
// the triggers keep them (for metrics and tests).
func (s *Store) QueueCounts(ctx context.Context) (map[int64][2]int, error) {
	return read(ctx, s, func(q Querier) (map[int64][2]int, error) {
		rows, err := q.Query(`SELECT user_id, queued, running FROM queue_users`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[int64][2]int{}
		for rows.Next() {
			var u int64
			var queued, running int
			if err := rows.Scan(&u, &queued, &running); err != nil {
				return nil, err
			}
			out[u] = [2]int{queued, running}
		}
		return out, rows.Err()
	})
}
