package db

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Generation statuses (the seed's words, plus canceled).
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Generation modes.
const (
	ModeTextToImage  = "text-to-image"
	ModeImageToImage = "image-to-image"
)

// Params are what the user asked for; the server validates them before they get here.
type Params struct {
	Prompt            string
	Resolution        string
	AspectRatio       string
	OutputFormat      string
	SafetyFilterLevel string
	Mode              string   // ModeTextToImage or ModeImageToImage
	ReferenceIDs      []string // upload ids, for image-to-image
}

// Generation is one requested image and what became of it.
type Generation struct {
	ID     string
	UserID int64
	Status string
	Params
	Error        string // a sentence a person can act on
	PredictionID string
	ImageKey     string // storage key of the image, once completed
	ImageType    string // its content type, sniffed from the bytes
	ThumbKey     string
	Width        int
	Height       int
	Bytes        int64
	SHA256       string
	CreatedAt    time.Time
	StartedAt    time.Time
	CompletedAt  time.Time
	UpdatedAt    time.Time
	// QueuePosition is set for pending generations: an estimate (1 = next) of where this
	// one stands in the fair claim order; 0 otherwise.
	QueuePosition int
}

// Terminal reports whether the generation will not change again on its own.
func (g *Generation) Terminal() bool {
	switch g.Status {
	case StatusCompleted, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

const genCols = `id, user_id, status, prompt, resolution, aspect_ratio, output_format,
	safety_filter_level, generation_mode, reference_ids, error, coalesce(prediction_id, ''),
	coalesce(image_key, ''), coalesce(image_type, ''), coalesce(thumb_key, ''),
	coalesce(width, 0), coalesce(height, 0), coalesce(bytes, 0), coalesce(sha256, ''),
	created_at, started_at, completed_at, updated_at`

type scanner interface{ Scan(...any) error }

func scanGeneration(row scanner) (*Generation, error) {
	var g Generation
	dest, finish := genDest(&g)
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
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
func genDest(g *Generation) ([]any, func() error) {
	var refs string
	var created, updated int64
	var started, completed sql.NullInt64
	dest := []any{&g.ID, &g.UserID, &g.Status, &g.Prompt, &g.Resolution, &g.AspectRatio,
		&g.OutputFormat, &g.SafetyFilterLevel, &g.Mode, &refs, &g.Error, &g.PredictionID,
		&g.ImageKey, &g.ImageType, &g.ThumbKey, &g.Width, &g.Height, &g.Bytes, &g.SHA256,
		&created, &started, &completed, &updated}
	return dest, func() error {
		if err := parseRefs(refs, &g.ReferenceIDs); err != nil {
			return fmt.Errorf("generation %s: reference_ids: %w", g.ID, err)
		}
		g.CreatedAt, g.UpdatedAt = fromMS(created), fromMS(updated)
		g.StartedAt, g.CompletedAt = nullMS(started), nullMS(completed)
		return nil
	}
}

// listCols are genCols without what a listed Generation leaves out (see ListGenerations).
const listCols = `id, status, prompt, resolution, aspect_ratio, output_format,
	safety_filter_level, generation_mode, reference_ids, error,
	coalesce(image_key, ''), coalesce(thumb_key, ''),
	coalesce(width, 0), coalesce(height, 0), coalesce(bytes, 0),
	created_at, started_at, completed_at`

// scanListed scans a listCols row into g, in place.
func scanListed(row scanner, g *Generation) error {
	var refs string
	var created int64
	var started, completed sql.NullInt64
	if err := row.Scan(&g.ID, &g.Status, &g.Prompt, &g.Resolution, &g.AspectRatio,
		&g.OutputFormat, &g.SafetyFilterLevel, &g.Mode, &refs, &g.Error,
		&g.ImageKey, &g.ThumbKey, &g.Width, &g.Height, &g.Bytes,
		&created, &started, &completed); err != nil {
		return err
	}
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

// DefaultMaxAttempts bounds a job's claims when CreateGeneration's caller does not say.
const DefaultMaxAttempts = 5

// CreateGeneration inserts a pending generation, queued (its job is part of its row),
// and its first event in one transaction, and returns it with its queue position.
func (d *DB) CreateGeneration(ctx context.Context, userID int64, p Params) (*Generation, error) {
	return d.CreateGenerationAttempts(ctx, userID, p, DefaultMaxAttempts)
}

// CreateGenerationAttempts is CreateGeneration with the job's attempt bound.
func (d *DB) CreateGenerationAttempts(ctx context.Context, userID int64, p Params, maxAttempts int) (*Generation, error) {
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	if p.ReferenceIDs == nil {
		p.ReferenceIDs = []string{}
	}
	refs, err := json.Marshal(p.ReferenceIDs)
	if err != nil {
		return nil, err
	}
	now := d.now()
	g := &Generation{ID: NewTimeID(), UserID: userID, Status: StatusPending, Params: p,
		CreatedAt: fromMS(ms(now)), UpdatedAt: fromMS(ms(now))}
	event := string(appendEventData(nil, g)) // encoded here, off the writer
	err = d.eventTx(ctx, func(tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO generations (id, user_id, status, prompt,
			resolution, aspect_ratio, output_format, safety_filter_level, generation_mode,
			reference_ids, created_at, updated_at, state, max_attempts, run_after, job_created_at)
			VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 'queued', ?11, ?10, ?10)`,
			g.ID, userID, p.Prompt, p.Resolution, p.AspectRatio, p.OutputFormat,
			p.SafetyFilterLevel, p.Mode, string(refs), ms(now), maxAttempts); err != nil {
			return fmt.Errorf("insert generation: %w", err)
		}
		// The new job is its user's last queued one: its fair-order rank r is the user's
		// queued count, and every user's first r jobs come before or with it.
		// (The user's count is a scalar subquery, run once: as a joined subquery SQLite
		// planned the statement from the bound user id and prepared it again each time.)
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(CASE
				WHEN queued < (SELECT queued FROM queue_users WHERE user_id = ?1) THEN queued
				ELSE (SELECT queued FROM queue_users WHERE user_id = ?1) END), 0)
			FROM queue_users`,
			userID).Scan(&g.QueuePosition); err != nil {
			return fmt.Errorf("queue position: %w", err)
		}
		return insertEventData(ctx, tx, userID, g.ID, StatusPending, event, now)
	})
	if err != nil {
		return nil, fmt.Errorf("create generation: %w", err)
	}
	d.notify(userID)
	return g, nil
}

// GetGeneration returns the user's generation. Another user's id is ErrNotFound, exactly
// like a missing one, so ids reveal nothing.
func (d *DB) GetGeneration(ctx context.Context, userID int64, id string) (*Generation, error) {
	g, err := scanGeneration(d.queryRow(ctx,
		`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`, id, userID))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get generation: %w", err)
	}
	if g.Status == StatusPending {
		if err := d.queuePosition(ctx, g); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// queuePosition estimates where a pending generation stands in the fair order: with rank
// r among its user's queued jobs, every user's first r jobs go first (ties among users
// are counted as ahead, so it errs on the long side by at most the number of users).
func (d *DB) queuePosition(ctx context.Context, g *Generation) error {
	err := d.queryRow(ctx, `WITH r AS (
			SELECT count(*) AS rank FROM generations
			WHERE user_id = ?1 AND state = 'queued'
			  AND job_id <= (SELECT job_id FROM generations WHERE id = ?2))
		SELECT coalesce(sum(CASE WHEN q.queued < r.rank THEN q.queued ELSE r.rank END), 0)
		FROM queue_users q, r
		WHERE r.rank > 0`, g.UserID, g.ID).Scan(&g.QueuePosition)
	if err != nil {
		return fmt.Errorf("queue position: %w", err)
	}
	return nil
}

// ListFilter selects a page of a user's generations.
type ListFilter struct {
	Status string // "" for all
	Limit  int    // default 20, at most 100
	Cursor string // "" for the first page, else a next cursor from a previous page
}

// ListGenerations returns one page of the user's generations, newest first, and the
// cursor of the next page ("" after the last). The items have every field but
// PredictionID, ImageType, SHA256 and UpdatedAt, which the API does not show: scanning
// columns is most of a list's cost. Pagination is by keyset on
// (created_at, id), so pages stay stable while new generations arrive.
func (d *DB) ListGenerations(ctx context.Context, userID int64, f ListFilter) ([]Generation, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	switch f.Status {
	case "", StatusPending, StatusRunning, StatusCompleted, StatusFailed, StatusCanceled:
	default:
		return nil, "", Errorf(CodeInvalid, "status %q is not a generation status", f.Status)
	}
	q := `SELECT ` + listCols + ` FROM generations WHERE user_id = ?`
	args := []any{userID}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Cursor != "" {
		created, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND (created_at, id) < (?, ?)`
		args = append(args, created, id)
	}
	// The limit goes into the text: SQLite plans a LIMIT from its bound value and would
	// prepare the statement again whenever the value changed (one statement per limit,
	// 1 to 101, is cached instead).
	q += ` ORDER BY created_at DESC, id DESC LIMIT ` + strconv.Itoa(limit+1)
	rows, err := d.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list generations: %w", err)
	}
	defer rows.Close()
	out := make([]Generation, 0, limit+1)
	for rows.Next() {
		out = append(out, Generation{UserID: userID})
		if err := scanListed(rows, &out[len(out)-1]); err != nil {
			return nil, "", fmt.Errorf("list generations: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list generations: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(ms(last.CreatedAt), last.ID)
	}
	for i := range out {
		if out[i].Status == StatusPending {
			if err := d.queuePosition(ctx, &out[i]); err != nil {
				return nil, "", err
			}
		}
	}
	return out, next, nil
}

func encodeCursor(createdMS int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(createdMS, 10) + "." + id))
}

func decodeCursor(c string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", ErrInvalidCursor
	}
	a, id, ok := strings.Cut(string(raw), ".")
	if !ok || len(id) != 32 {
		return 0, "", ErrInvalidCursor
	}
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil || n < 0 {
		return 0, "", ErrInvalidCursor
	}
	return n, id, nil
}

// DeleteGeneration removes the user's generation (and so its job), writes a deleted
// event, and returns the row as it was (so the caller can remove its files). The caller
// cancels a pending or running one first; the queue's conditional writes then find
// nothing to update, and a worker that stored files after this cleans them up itself.
func (d *DB) DeleteGeneration(ctx context.Context, userID int64, id string) (*Generation, error) {
	var g *Generation
	err := d.eventTx(ctx, func(tx *wtx) error {
		var err error
		g, err = scanGeneration(tx.QueryRowContext(ctx,
			`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`, id, userID))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM generations WHERE id = ?`, id); err != nil {
			return err
		}
		return insertEvent(ctx, tx, g, EventDeleted, d.now())
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("delete generation: %w", err)
	}
	d.notify(userID)
	return g, nil
}
