package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"nanobanana/db"
	"nanobanana/internal/jsonenc"
)

const genCols = `id, user_id, status, prompt, resolution, aspect_ratio, output_format,
	safety_filter_level, generation_mode, reference_ids, error, coalesce(prediction_id, ''),
	coalesce(image_key, ''), coalesce(image_type, ''), coalesce(thumb_key, ''),
	coalesce(width, 0), coalesce(height, 0), coalesce(bytes, 0), coalesce(sha256, ''),
	created_at, started_at, completed_at, updated_at, ` + moneyCols + `, ` + jobShapeCols + `, favorite, coalesce(batch_id, '')`

// moneyCols are a generation's books as its JSON shows them (scanMoney).
const moneyCols = `cost_micros, paid_by, booked_micros + reserved_micros, coalesce(metrics, '')`

// moneyDest returns the scan destinations of moneyCols for g, and what completes g.
func moneyDest(g *db.Generation) ([]any, func()) {
	var metrics string
	return []any{&g.CostMicros, &g.PaidBy, &g.BookedMicros, &metrics}, func() {
		if metrics != "" {
			g.Metrics = []byte(metrics)
		}
	}
}

// jobShapeCols are the job's columns the generation's shape shows (db.Generation's
// Attempts, JobState, LastError, RunAfter, QueuedAt).
const jobShapeCols = `attempts, state, last_error, run_after, job_created_at`

func scanGeneration(row Row) (*db.Generation, error) {
	var g db.Generation
	dest, finish := genDest(&g)
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return &g, nil
}

// genDest returns the scan destinations of genCols for g, and what completes g once
// they are scanned (so genCols can follow other columns in one row, as in the claim).
func genDest(g *db.Generation) ([]any, func() error) {
	var refs string
	var created, updated int64
	var started, completed, runAfter, queued sql.NullInt64
	money, moneyDone := moneyDest(g)
	dest := append(append([]any{&g.ID, &g.UserID, &g.Status, &g.Prompt, &g.Resolution, &g.AspectRatio,
		&g.OutputFormat, &g.SafetyFilterLevel, &g.Mode, &refs, &g.Error, &g.PredictionID,
		&g.ImageKey, &g.ImageType, &g.ThumbKey, &g.Width, &g.Height, &g.Bytes, &g.SHA256,
		&created, &started, &completed, &updated}, money...), &g.Attempts, &g.JobState, &g.LastError, &runAfter, &queued, &g.Favorite, &g.BatchID)
	return dest, func() error {
		moneyDone()
		if err := parseRefs(refs, &g.ReferenceIDs); err != nil {
			return fmt.Errorf("generation %s: reference_ids: %w", g.ID, err)
		}
		g.CreatedAt, g.UpdatedAt = fromMS(created), fromMS(updated)
		g.StartedAt, g.CompletedAt = nullMS(started), nullMS(completed)
		g.RunAfter, g.QueuedAt = nullMS(runAfter), nullMS(queued)
		return nil
	}
}

// listCols are genCols without what a listed Generation leaves out (see ListGenerations).
const listCols = `id, status, prompt, resolution, aspect_ratio, output_format,
	safety_filter_level, generation_mode, reference_ids, error,
	coalesce(image_key, ''), coalesce(thumb_key, ''),
	coalesce(width, 0), coalesce(height, 0), coalesce(bytes, 0),
	created_at, started_at, completed_at, ` + moneyCols + `, ` + jobShapeCols + `, favorite, coalesce(batch_id, '')`

// scanListed scans a listCols row into g, in place.
func scanListed(row Row, g *db.Generation) error {
	var refs string
	var created int64
	var started, completed, runAfter, queued sql.NullInt64
	money, moneyDone := moneyDest(g)
	if err := row.Scan(append(append([]any{&g.ID, &g.Status, &g.Prompt, &g.Resolution, &g.AspectRatio,
		&g.OutputFormat, &g.SafetyFilterLevel, &g.Mode, &refs, &g.Error,
		&g.ImageKey, &g.ThumbKey, &g.Width, &g.Height, &g.Bytes,
		&created, &started, &completed}, money...), &g.Attempts, &g.JobState, &g.LastError, &runAfter, &queued, &g.Favorite, &g.BatchID)...); err != nil {
		return err
	}
	moneyDone()
	g.RunAfter, g.QueuedAt = nullMS(runAfter), nullMS(queued)
	if err := parseRefs(refs, &g.ReferenceIDs); err != nil {
		return fmt.Errorf("generation %s: reference_ids: %w", g.ID, err)
	}
	g.CreatedAt = fromMS(created)
	g.StartedAt, g.CompletedAt = nullMS(started), nullMS(completed)
	return nil
}

// parseRefs decodes reference_ids; most generations have none, and "[]" needs no
// decoder.
func parseRefs(refs string, out *[]string) error {
	if refs == "[]" {
		*out = []string{}
		return nil
	}
	return json.Unmarshal([]byte(refs), out)
}

// CreateGeneration inserts a pending generation, queued (its job is part of its row),
// and its first event in one transaction, and returns it with its queue position.
func (s *Store) CreateGeneration(ctx context.Context, userID int64, p db.Params, o db.CreateOptions) (*db.Generation, error) {
	gs, err := s.CreateGenerations(ctx, userID, []db.Params{p}, o)
	if err != nil {
		return nil, err
	}
	return gs[0], nil
}

// CreateGenerations inserts pending generations, each queued with its first event, all
// in one transaction, and returns them with their queue positions. Two or more form a
// batch: one new batch_id, queued in the order given.
func (s *Store) CreateGenerations(ctx context.Context, userID int64, ps []db.Params, o db.CreateOptions) ([]*db.Generation, error) {
	if len(ps) == 0 || len(ps) > db.MaxBatch {
		return nil, db.Errorf(db.CodeInvalid, "a request makes 1 to %d generations, not %d", db.MaxBatch, len(ps))
	}
	maxAttempts := o.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = db.DefaultMaxAttempts
	}
	now := s.now()
	// The ids are made first and sorted, descending: the batch's order is the reverse
	// order of its ids, so a list newest first (created_at, then id, descending) shows
	// the batch's generations, which share created_at, in the order asked for.
	ids := make([]string, len(ps))
	for i := range ids {
		ids[i] = db.NewTimeID()
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	var batchID any // NULL for a single generation
	if len(ps) > 1 {
		batchID = db.NewID()
	}
	type row struct {
		g      db.Generation
		refs   string   // reference_ids as stored
		refIDs []string // each upload once; an https:// reference is Replicate's to fetch
		event  []byte
	}
	rows := make([]row, len(ps))
	for i, p := range ps {
		if p.ReferenceIDs == nil {
			p.ReferenceIDs = []string{}
		}
		refs, err := json.Marshal(p.ReferenceIDs)
		if err != nil {
			return nil, err
		}
		r := &rows[i]
		r.refs = string(refs)
		for _, ref := range p.ReferenceIDs {
			if !strings.HasPrefix(ref, "https://") {
				r.refIDs = append(r.refIDs, ref)
			}
		}
		r.refIDs = slices.Compact(slices.Sorted(slices.Values(r.refIDs)))
		r.g = db.Generation{ID: ids[i], UserID: userID, Status: db.StatusPending, Params: p,
			CreatedAt: fromMS(ms(now)), UpdatedAt: fromMS(ms(now)),
			// A batch's i-th is queued i ms after its first, so queued_at orders the
			// batch as the claim does (by job id, in this order).
			JobState: db.JobQueued, RunAfter: fromMS(ms(now)), QueuedAt: fromMS(ms(now) + int64(i))}
		if batchID != nil {
			r.g.BatchID = batchID.(string)
		}
		if b := o.Budget; b != nil {
			// Each generation is its own prediction at its own price.
			r.g.CostMicros, r.g.PaidBy = db.Micros(b.PriceUSD), b.PaidBy
			r.g.BookedMicros = r.g.CostMicros // reserved
		}
		r.event = db.AppendStored(nil, &r.g) // encoded here, off the writer
	}
	type created struct {
		pos          []int
		paused       bool
		existing     string // the generation of a stored idempotency key
		existingHash string
	}
	out, err := writeEvents(ctx, s, func(q EventQuerier) (created, error) {
		if o.IdempotencyKey != "" {
			// The key first: when it is stored already, nothing else is written. The
			// unique (user_id, key) decides between concurrent requests (a PostgreSQL
			// insert waits for the other's transaction, then does nothing); an expired
			// key is taken over. The generations are inserted below, in this
			// transaction (the reference to the first is checked at commit); a batch's
			// key names its first generation, and so the batch.
			if _, err := q.Exec(`DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND created_at < ?`,
				userID, o.IdempotencyKey, ms(now.Add(-db.IdempotencyTTL))); err != nil {
				return created{}, fmt.Errorf("expire idempotency key: %w", err)
			}
			n, err := q.Exec(`INSERT INTO idempotency_keys (user_id, key, generation_id, request_hash, created_at)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, key) DO NOTHING`,
				userID, o.IdempotencyKey, ids[0], o.RequestHash, ms(now))
			if err != nil {
				return created{}, fmt.Errorf("insert idempotency key: %w", err)
			}
			if n == 0 {
				var c created
				if err := q.QueryRow(`SELECT generation_id, request_hash FROM idempotency_keys WHERE user_id = ? AND key = ?`,
					userID, o.IdempotencyKey).Scan(&c.existing, &c.existingHash); err != nil {
					return created{}, fmt.Errorf("read idempotency key: %w", err)
				}
				return c, nil
			}
		}
		if o.MaxPending > 0 {
			// Counted in the write that adds them, so concurrent requests cannot pass the
			// bound together: SQLite has one writer, and PostgreSQL's event writes take
			// their lock in turn. A batch passes whole or not at all.
			var waiting int
			if err := q.QueryRow(`SELECT coalesce((SELECT queued FROM queue_users WHERE user_id = ?), 0)`,
				userID).Scan(&waiting); err != nil {
				return created{}, err
			}
			if waiting+len(ps) > o.MaxPending {
				if len(ps) == 1 {
					return created{}, db.Errorf(db.CodePendingLimit, "%d of your generations are already waiting, the most one account may queue; wait for some to finish or cancel some, then try again", waiting)
				}
				return created{}, db.Errorf(db.CodePendingLimit, "%d of your generations are already waiting and these %d would pass the most one account may queue (%d), so none was queued; ask for fewer, or wait for some to finish or cancel some, then try again", waiting, len(ps), o.MaxPending)
			}
		}
		var day int64
		if o.Budget != nil {
			// The reservation, once for all the generations this write queues: a batch
			// passes the limits whole or not at all.
			var total int64
			for i := range rows {
				total += rows[i].g.CostMicros
			}
			var err error
			if day, err = reserve(q, userID, len(rows), total, o.Budget, now); err != nil {
				return created{}, err
			}
		}
		for i := range rows {
			r := &rows[i]
			p := r.g.Params
			if _, err := q.Exec(`INSERT INTO generations (id, user_id, status, prompt,
				resolution, aspect_ratio, output_format, safety_filter_level, generation_mode,
				reference_ids, created_at, updated_at, state, max_attempts, run_after, job_created_at,
				batch_id, cost_micros, paid_by, reserved_micros, spend_day)
				VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 'queued', ?11, ?10, ?16, ?12,
					?13, ?14, ?13, ?15)`,
				r.g.ID, userID, p.Prompt, p.Resolution, p.AspectRatio, p.OutputFormat,
				p.SafetyFilterLevel, p.Mode, r.refs, ms(now), maxAttempts, batchID,
				r.g.CostMicros, r.g.PaidBy, day, ms(r.g.QueuedAt)); err != nil {
				return created{}, fmt.Errorf("insert generation: %w", err)
			}
			for _, ref := range r.refIDs {
				// From the uploads table, so a reference that is missing (deleted or
				// expired since the caller looked) or another user's inserts nothing.
				n, err := q.Exec(`INSERT INTO upload_refs (upload_id, generation_id)
					SELECT id, ?1 FROM uploads WHERE id = ?2 AND user_id = ?3`, r.g.ID, ref, userID)
				if err != nil {
					return created{}, fmt.Errorf("insert reference: %w", err)
				}
				if n == 0 {
					return created{}, &db.Error{Code: db.CodeNotFound, Reason: "a reference image does not exist or is not yours"}
				}
			}
			if err := insertEventData(q, userID, r.g.ID, db.StatusPending, r.event, ms(now)); err != nil {
				return created{}, err
			}
		}
		c := created{pos: make([]int, len(rows))}
		if err := q.QueryRow(`SELECT coalesce((SELECT queue_paused FROM users WHERE id = ?), 0) = 1`,
			userID).Scan(&c.paused); err != nil {
			return created{}, fmt.Errorf("queue paused: %w", err)
		}
		if c.paused {
			return c, nil // no position while paused
		}
		// The new jobs are their user's last queued ones (no rank is above a new job's
		// 0): the i-th of n has fair-order rank r = the user's queued count - (n-1-i),
		// and every user's first r jobs come before or with it; paused users' wait.
		// (The user's count is a scalar subquery, run once: as a joined subquery SQLite
		// planned the statement from the bound user id and prepared it again each time.)
		for i := range rows {
			if err := q.QueryRow(`SELECT coalesce(sum(CASE
					WHEN queued < (SELECT queued FROM queue_users WHERE user_id = ?1) - ?2 THEN queued
					ELSE (SELECT queued FROM queue_users WHERE user_id = ?1) - ?2 END), 0)
				FROM queue_users WHERE user_id NOT IN (SELECT id FROM users WHERE queue_paused = 1)`,
				userID, len(rows)-1-i).Scan(&c.pos[i]); err != nil {
				return created{}, fmt.Errorf("queue position: %w", err)
			}
		}
		return c, nil
	})
	if err != nil {
		if c := db.CodeOf(err); c == db.CodePendingLimit || c == db.CodeSpendingLimit {
			return nil, err
		}
		return nil, wrapf(err, "create generation")
	}
	if out.existing != "" {
		if out.existingHash != o.RequestHash {
			return nil, db.Errorf(db.CodeIdempotencyKeyReused, "This Idempotency-Key was sent before with other parameters; send a new key for a new request.")
		}
		ex, err := s.GetGeneration(ctx, userID, out.existing)
		if err != nil {
			return nil, err
		}
		gs := []*db.Generation{ex}
		if ex.BatchID != "" {
			batch, err := s.Batch(ctx, userID, ex.BatchID)
			if err != nil {
				return nil, err
			}
			gs = gs[:0]
			for i := range batch {
				gs = append(gs, &batch[i])
			}
		}
		for _, g := range gs {
			g.Replayed = true
		}
		return gs, nil
	}
	s.notify(userID)
	gs := make([]*db.Generation, len(rows))
	for i := range rows {
		rows[i].g.QueuePosition = out.pos[i]
		rows[i].g.QueuePaused = out.paused
		gs[i] = &rows[i].g
	}
	return gs, nil
}

// PruneIdempotencyKeys deletes idempotency keys stored before olderThan.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, olderThan time.Time) (int64, error) {
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM idempotency_keys WHERE created_at < ?`, ms(olderThan))
	})
	return n, wrapf(err, "prune idempotency keys")
}

// GetGeneration returns the user's generation. Another user's id is ErrNotFound, exactly
// like a missing one, so ids reveal nothing.
func (s *Store) GetGeneration(ctx context.Context, userID int64, id string) (*db.Generation, error) {
	g, err := read(ctx, s, func(q Querier) (*db.Generation, error) {
		g, err := scanGeneration(q.QueryRow(`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`, id, userID))
		if err != nil {
			return nil, err
		}
		if g.Status == db.StatusPending {
			if err := queuePosition(q, g); err != nil {
				return nil, err
			}
		}
		return g, nil
	})
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, wrapf(err, "get generation")
	}
	return g, err
}

// queuePosition estimates where a pending generation stands in the fair order: with rank
// r among its user's queued jobs (in the user's order: queue_rank, then job_id), every
// user's first r jobs go first (ties among users are counted as ahead, so it errs on
// the long side by at most the number of users). Paused users' jobs wait, so they are
// not counted; a generation of a paused user has no position (QueuePaused).
func queuePosition(q Querier, g *db.Generation) error {
	// One statement (a list of pending ones runs it for each).
	err := q.QueryRow(`SELECT coalesce((SELECT queue_paused FROM users WHERE id = ?1), 0) = 1,
		coalesce((SELECT sum(CASE WHEN q.queued < r.rank THEN q.queued ELSE r.rank END)
			FROM queue_users q, (
				SELECT count(*) AS rank FROM generations j, generations me
				WHERE me.id = ?2 AND j.user_id = ?1 AND j.state = 'queued'
				  AND (j.queue_rank, j.job_id) <= (me.queue_rank, me.job_id)) r
			WHERE r.rank > 0 AND q.user_id NOT IN (SELECT id FROM users WHERE queue_paused = 1)), 0)`,
		g.UserID, g.ID).Scan(&g.QueuePaused, &g.QueuePosition)
	if g.QueuePaused {
		g.QueuePosition = 0
	}
	return wrapf(err, "queue position")
}

// The list's statements: one text for each combination of filters, the limit bound as
// a parameter, so every list request runs one of these prepared statements whatever its
// limit, status and cursor (a text per variant would prepare a statement per limit on
// every connection). Which rows a status filter reads:
//   - none, completed: the user's history newest first (generations_user_created);
//     completed is most of any history, so its page is among the newest rows;
//   - pending, running: the user's part of the queue, found by the queue's indexes (the
//     user's queued jobs, and the jobs running now), then sorted; a running generation
//     is running or queued for another try, a pending one queued. No index of their
//     own, which every job would write three more times;
//   - failed, canceled: their index (migration 0011), whose condition the text names so
//     the planner may use it for a bound status.
//
// The variant is the status kind times two, plus one with a cursor.
const (
	listAll = iota
	listCompleted
	listPending
	listRunning
	listEnded
	listKinds
)

// queueRows are the user's queued jobs (?1), and every job running now: the rows a
// pending or running generation can be in. +user_id below keeps SQLite from walking
// generations_user_created instead of reading these few rows by id.
const (
	queuedRows = `SELECT job_id FROM generations WHERE user_id = ?1 AND state = 'queued'`
	activeRows = queuedRows + ` UNION ALL SELECT job_id FROM generations WHERE state = 'running'`
)

var listQueries = func() (q [2 * listKinds]string) {
	for kind := range listKinds {
		for cursor := range 2 {
			where, n := ` WHERE user_id = ?1`, 1
			switch kind {
			case listPending:
				where = ` WHERE job_id IN (` + queuedRows + `) AND +user_id = ?1`
			case listRunning:
				where = ` WHERE job_id IN (` + activeRows + `) AND +user_id = ?1`
			}
			if kind != listAll {
				n++
				where += fmt.Sprintf(` AND status = ?%d`, n)
			}
			if kind == listEnded {
				where += ` AND status IN ('failed', 'canceled')`
			}
			if cursor == 1 {
				where += fmt.Sprintf(` AND (created_at, id) < (?%d, ?%d)`, n+1, n+2)
				n += 2
			}
			q[2*kind+cursor] = `SELECT ` + listCols + ` FROM generations` + where +
				fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT ?%d`, n+1)
		}
	}
	return q
}()

// ListQuery returns the statement ListGenerations runs for f and its arguments (the
// page's limit one past f's), for checking its plan (EXPLAIN): tests and operators.
func ListQuery(userID int64, f db.ListFilter) (string, []any, error) {
	variant, args, _, err := listArgs(userID, f)
	if err != nil {
		return "", nil, err
	}
	return listQueries[variant], args, nil
}

// listArgs picks the list's statement for f and binds its arguments.
func listArgs(userID int64, f db.ListFilter) (variant int, args []any, limit int, err error) {
	limit = f.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	args = make([]any, 1, 5)
	args[0] = userID
	kind := listAll
	switch f.Status {
	case "":
	case db.StatusCompleted:
		kind = listCompleted
	case db.StatusPending:
		kind = listPending
	case db.StatusRunning:
		kind = listRunning
	case db.StatusFailed, db.StatusCanceled:
		kind = listEnded
	default:
		return 0, nil, 0, db.Errorf(db.CodeInvalid, "status %q is not a generation status", f.Status)
	}
	if kind != listAll {
		args = append(args, f.Status)
	}
	variant = 2 * kind
	if f.Cursor != "" {
		created, after, err := decodeCursor(f.Cursor)
		if err != nil {
			return 0, nil, 0, err
		}
		variant++
		args = append(args, created, after)
	}
	return variant, append(args, limit+1), limit, nil
}

// ListGenerations returns one page of the user's generations, newest first, and the
// cursor of the next page ("" after the last). The items have every field but
// PredictionID, ImageType, SHA256 and UpdatedAt, which the API does not show: scanning
// columns is most of a list's cost. Pagination is by keyset on (created_at, id), so
// pages stay stable while new generations arrive.
func (s *Store) ListGenerations(ctx context.Context, userID int64, f db.ListFilter) ([]db.Generation, string, error) {
	var text string
	var args []any
	var limit int
	var err error
	if f.Filtered() {
		var few bool
		if few, err = s.searchMatchesFew(ctx, userID, f); err != nil {
			return nil, "", wrapf(err, "list generations")
		}
		text, args, limit, err = filterArgs(s.e, s.filterTexts(), userID, f, few)
	} else {
		var variant int
		variant, args, limit, err = listArgs(userID, f)
		text = listQueries[variant]
	}
	if err != nil {
		return nil, "", err
	}
	return s.listPage(ctx, userID, text, args, limit)
}

// listPage runs a list statement (listCols, ordered newest first, limit+1 rows) and
// returns the page and the next page's cursor.
func (s *Store) listPage(ctx context.Context, userID int64, text string, args []any, limit int) ([]db.Generation, string, error) {
	out, err := read(ctx, s, func(q Querier) ([]db.Generation, error) {
		rows, err := q.Query(text, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := make([]db.Generation, 0, limit+1)
		for rows.Next() {
			out = append(out, db.Generation{UserID: userID})
			if err := scanListed(rows, &out[len(out)-1]); err != nil {
				return nil, err
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for i := range min(len(out), limit) {
			if out[i].Status == db.StatusPending {
				if err := queuePosition(q, &out[i]); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, "", wrapf(err, "list generations")
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(ms(last.CreatedAt), last.ID)
	}
	return out, next, nil
}

func encodeCursor(createdMS int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(createdMS, 10) + "." + id))
}

func decodeCursor(c string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", db.ErrInvalidCursor
	}
	a, id, ok := strings.Cut(string(raw), ".")
	if !ok || len(id) != 32 {
		return 0, "", db.ErrInvalidCursor
	}
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil || n < 0 {
		return 0, "", db.ErrInvalidCursor
	}
	return n, id, nil
}

// DeleteGeneration removes the user's generation (and so its job), writes a deleted
// event, and returns the row as it was (so the caller can remove its files). The caller
// cancels a pending or running one first; the queue's conditional writes then find
// nothing to update, and a worker that stored files after this cleans them up itself.
func (s *Store) DeleteGeneration(ctx context.Context, userID int64, id string) (*db.Generation, error) {
	now := ms(s.now())
	g, err := writeEvents(ctx, s, func(q EventQuerier) (*db.Generation, error) {
		g, err := scanGeneration(q.QueryRow(`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`, id, userID))
		if err != nil {
			return nil, err
		}
		// A reservation still held (the caller canceled the generation first, which
		// released it, unless a worker still holds the job) goes with the row.
		var jobID int64
		if err := q.QueryRow(`SELECT job_id FROM generations WHERE id = ?`, id).Scan(&jobID); err != nil {
			return nil, err
		}
		if err := release(q, jobID); err != nil {
			return nil, err
		}
		if _, err := q.Exec(`DELETE FROM generations WHERE id = ?`, id); err != nil {
			return nil, err
		}
		return g, insertEventData(q, userID, id, db.EventDeleted, deletedEvent(id), now)
	})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, db.ErrNotFound
		}
		return nil, wrapf(err, "delete generation")
	}
	s.notify(userID)
	return g, nil
}

// deletedEvent is a deleted event's data: the generation's ids, and "deleted".
func deletedEvent(id string) []byte {
	b := append([]byte(`{"id":`), jsonenc.AppendString(nil, id)...)
	b = append(b, `,"image_id":`...)
	b = jsonenc.AppendString(b, id)
	return append(b, `,"status":"deleted"}`...)
}
