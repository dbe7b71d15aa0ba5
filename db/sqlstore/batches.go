package sqlstore

import (
	"context"
	"errors"

	"nanobanana/db"
)

// genState is a generation with its job's state.
type genState struct {
	g     *db.Generation
	state string
}

// genStates runs a query of genCols and the job's state, and reads every row.
func genStates(q Querier, query string, args ...any) ([]genState, error) {
	rows, err := q.Query(query, args...)
	if err != nil {
		return nil, err
	}
	var out []genState
	for rows.Next() {
		g := new(db.Generation)
		var state string
		dest, finish := genDest(g)
		if err := rows.Scan(append(dest, &state)...); err != nil {
			rows.Close()
			return nil, err
		}
		if err := finish(); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, genState{g, state})
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return out, rows.Err()
}

// batchRows reads the user's generations of a batch with their jobs' states, in the
// batch's order (their ids descending: see CreateGenerations). None is ErrNotFound.
func batchRows(q Querier, userID int64, batchID string) ([]genState, error) {
	out, err := genStates(q, `SELECT `+genCols+`, state FROM generations
		WHERE batch_id = ? AND user_id = ? ORDER BY id DESC`, batchID, userID)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, db.ErrNotFound
	}
	return out, nil
}

// Batch returns the user's generations of a batch in the order they were asked for,
// the pending ones with their queue positions.
func (s *Store) Batch(ctx context.Context, userID int64, batchID string) ([]db.Generation, error) {
	out, err := read(ctx, s, func(q Querier) ([]db.Generation, error) {
		rows, err := batchRows(q, userID, batchID)
		if err != nil {
			return nil, err
		}
		out := make([]db.Generation, len(rows))
		for i, r := range rows {
			out[i] = *r.g
			if out[i].Status == db.StatusPending {
				if err := queuePosition(q, &out[i]); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	})
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, wrapf(err, "read batch")
	}
	return out, err
}

// CancelBatch cancels every pending or running generation of the user's batch, each as
// CancelGeneration does, in one transaction.
func (s *Store) CancelBatch(ctx context.Context, userID int64, batchID string) ([]db.CancelOutcome, error) {
	now := ms(s.now())
	out, err := writeEvents(ctx, s, func(q EventQuerier) ([]db.CancelOutcome, error) {
		rows, err := batchRows(q, userID, batchID)
		if err != nil {
			return nil, err
		}
		var out []db.CancelOutcome
		for _, r := range rows {
			if r.g.Terminal() {
				continue
			}
			o, err := cancelRow(q, r.g, r.state, now)
			if err != nil {
				return nil, err
			}
			out = append(out, *o)
		}
		if len(out) == 0 {
			return nil, db.Errorf(db.CodeAlreadyFinished, "every generation of it has finished already")
		}
		return out, nil
	})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) || errors.Is(err, db.ErrConflict) {
			return nil, err
		}
		return nil, wrapf(err, "cancel batch")
	}
	s.notify(userID)
	return out, nil
}

// RetryBatch queues again every failed or canceled generation of the user's batch, each
// as RetryGeneration does, in one transaction and in the batch's order (so their new
// jobs keep it). It returns the whole batch as it is then.
func (s *Store) RetryBatch(ctx context.Context, userID int64, batchID string, maxAttempts int, b *db.Budget) ([]db.Generation, error) {
	if maxAttempts <= 0 {
		maxAttempts = db.DefaultMaxAttempts
	}
	now := ms(s.now())
	query := s.retryQuery()
	_, err := writeEvents(ctx, s, func(q EventQuerier) (struct{}, error) {
		rows, err := batchRows(q, userID, batchID)
		if err != nil {
			return struct{}{}, err
		}
		var again []*db.Generation
		for _, r := range rows {
			if r.g.Status != db.StatusFailed && r.g.Status != db.StatusCanceled {
				continue
			}
			if r.state == db.JobRunning {
				return struct{}{}, db.Errorf(db.CodeStillStopping, "a canceled run of it is still stopping; retry in a moment")
			}
			again = append(again, r.g)
		}
		if len(again) == 0 {
			return struct{}{}, db.Errorf(db.CodeNotRetryable, "none of its generations failed or was canceled")
		}
		if b != nil {
			// As RetryGeneration: a run that fetches an output already paid for costs
			// nothing new; the others are reserved together, all or none.
			var pay []string
			for _, g := range again {
				var reuses int
				if err := q.QueryRow(`SELECT count(*) FROM generations WHERE id = ? AND output_until > ? AND prediction_id IS NOT NULL`,
					g.ID, now).Scan(&reuses); err != nil {
					return struct{}{}, err
				}
				if reuses == 0 {
					pay = append(pay, g.ID)
				}
			}
			if len(pay) > 0 {
				cost := db.Micros(b.PriceUSD)
				day, err := reserve(q, userID, len(pay), cost*int64(len(pay)), b, fromMS(now))
				if err != nil {
					return struct{}{}, err
				}
				for _, id := range pay {
					if _, err := q.Exec(`UPDATE generations SET cost_micros = ?, paid_by = ?, reserved_micros = ?, spend_day = ?
						WHERE id = ?`, cost, b.PaidBy, cost, day, id); err != nil {
						return struct{}{}, err
					}
				}
			}
		}
		for _, g := range again {
			g, err := scanGeneration(q.QueryRow(query, now, maxAttempts, g.ID))
			if err != nil {
				return struct{}{}, err
			}
			if err := insertEvent(q, g, db.StatusPending, now); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) || errors.Is(err, db.ErrConflict) || db.CodeOf(err) == db.CodeSpendingLimit {
			return nil, err
		}
		return nil, wrapf(err, "retry batch")
	}
	s.notify(userID)
	return s.Batch(ctx, userID, batchID)
}

// MoveQueued puts the user's pending generation first or last among their queued jobs.
// First: a rank below the user's lowest. Last: rank 0 and a new job id, where a new job
// goes (no rank is ever above 0). Only the user's own order changes: the claim still
// serves users in turn.
func (s *Store) MoveQueued(ctx context.Context, userID int64, id string, front bool) (*db.Generation, error) {
	now := ms(s.now())
	// queued_at (job_created_at) moves with it, so the generation's shape orders a
	// user's waiting generations as the claim does: a page sorts them by queued_at.
	set := `queue_rank = 0, job_id = ` + s.e.NewJobID() + `, job_created_at = ?1`
	if front {
		set = `queue_rank = (SELECT min(queue_rank) FROM generations WHERE user_id = ?3 AND state = 'queued') - 1,
			job_created_at = (SELECT min(job_created_at) FROM generations WHERE user_id = ?3 AND state = 'queued') - 1`
	}
	query := `UPDATE generations SET ` + set + `, updated_at = ?1
		WHERE id = ?2 AND user_id = ?3 AND status = 'pending' AND state = 'queued' RETURNING ` + genCols
	g, err := writeEvents(ctx, s, func(q EventQuerier) (*db.Generation, error) {
		g, err := scanGeneration(q.QueryRow(query, now, id, userID))
		if errors.Is(err, db.ErrNotFound) {
			// Missing, another user's, or not waiting: told apart by a read.
			was, err := scanGeneration(q.QueryRow(`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`, id, userID))
			if err != nil {
				return nil, err
			}
			return nil, db.Errorf(db.CodeNotWaiting, "only a generation waiting in the queue can be moved, this one is %s", was.Status)
		}
		if err != nil {
			return nil, err
		}
		// Its place changed: the stream shows it (the others' follow from their own
		// reads; every one moved by one at most).
		return g, insertEvent(q, g, db.StatusPending, now)
	})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) || errors.Is(err, db.ErrConflict) {
			return nil, err
		}
		return nil, wrapf(err, "move in queue")
	}
	s.notify(userID)
	if err := s.e.Read(ctx, func(q Querier) error { return queuePosition(q, g) }); err != nil {
		return nil, err
	}
	return g, nil
}

// SetQueuePaused pauses or resumes the user's own queue, with an event for each of
// their pending generations (paused, or back in line with a position).
func (s *Store) SetQueuePaused(ctx context.Context, userID int64, paused bool) (db.QueueState, error) {
	now := ms(s.now())
	flag := 0
	if paused {
		flag = 1
	}
	_, err := writeEvents(ctx, s, func(q EventQuerier) (struct{}, error) {
		n, err := q.Exec(`UPDATE users SET queue_paused = ? WHERE id = ? AND queue_paused <> ?`, flag, userID, flag)
		if err != nil || n == 0 {
			return struct{}{}, err // unchanged: nothing to tell
		}
		rows, err := q.Query(`SELECT `+genCols+` FROM generations
			WHERE user_id = ? AND state = 'queued' AND status = 'pending' ORDER BY queue_rank, job_id`, userID)
		if err != nil {
			return struct{}{}, err
		}
		var gs []*db.Generation
		for rows.Next() {
			g := new(db.Generation)
			dest, finish := genDest(g)
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return struct{}{}, err
			}
			if err := finish(); err != nil {
				rows.Close()
				return struct{}{}, err
			}
			gs = append(gs, g)
		}
		if err := rows.Close(); err != nil {
			return struct{}{}, err
		}
		if err := rows.Err(); err != nil {
			return struct{}{}, err
		}
		for _, g := range gs {
			if err := insertEvent(q, g, db.StatusPending, now); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	if err != nil {
		return db.QueueState{}, wrapf(err, "pause queue")
	}
	s.notify(userID)
	return s.QueueState(ctx, userID)
}

// QueueState reads the user's own queue: paused or not, and their queued and running
// jobs (as the triggers count them).
func (s *Store) QueueState(ctx context.Context, userID int64) (db.QueueState, error) {
	st, err := read(ctx, s, func(q Querier) (db.QueueState, error) {
		var st db.QueueState
		err := q.QueryRow(`SELECT coalesce((SELECT queue_paused FROM users WHERE id = ?1), 0) = 1,
			coalesce((SELECT queued FROM queue_users WHERE user_id = ?1), 0),
			coalesce((SELECT running FROM queue_users WHERE user_id = ?1), 0)`, userID).
			Scan(&st.Paused, &st.Waiting, &st.Running)
		return st, err
	})
	return st, wrapf(err, "queue state")
}
