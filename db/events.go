package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Event is one change of a generation, as written in the same transaction as the change.
// Data is the generation's public fields at that moment (see EventData), so a replay
// after a reconnect shows what the user would have seen live.
type Event struct {
	ID           int64
	UserID       int64
	GenerationID string
	Type         string // the generation's new status, or EventDeleted
	Data         json.RawMessage
	CreatedAt    time.Time
}

// EventDeleted is the Type of the event written when a generation is deleted.
const EventDeleted = "deleted"

// EventData is the JSON shape of Event.Data: the generation's public fields, named as
// in the HTTP API. The server adds its own URLs (image_url, thumbnail_url) if it wants.
type EventData struct {
	ID                string     `json:"id"`
	Status            string     `json:"status"`
	Prompt            string     `json:"prompt"`
	Resolution        string     `json:"resolution"`
	AspectRatio       string     `json:"aspect_ratio"`
	OutputFormat      string     `json:"output_format"`
	SafetyFilterLevel string     `json:"safety_filter_level"`
	GenerationMode    string     `json:"generation_mode"`
	ReferenceImageIDs []string   `json:"reference_image_ids"`
	Error             string     `json:"error,omitempty"`
	Width             int        `json:"width,omitempty"`
	Height            int        `json:"height,omitempty"`
	Bytes             int64      `json:"bytes,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	StartedAt         *time.Time `json:"started_at,omitempty"`
	CompletedAt       *time.Time `json:"completed_at,omitempty"`
}

func eventData(g *Generation) EventData {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	refs := g.ReferenceIDs
	if refs == nil {
		refs = []string{} // [] as in the status answer, not null
	}
	return EventData{
		ID: g.ID, Status: g.Status, Prompt: g.Prompt, Resolution: g.Resolution,
		AspectRatio: g.AspectRatio, OutputFormat: g.OutputFormat,
		SafetyFilterLevel: g.SafetyFilterLevel, GenerationMode: g.Mode, ReferenceImageIDs: refs,
		Error: g.Error,
		Width: g.Width, Height: g.Height, Bytes: g.Bytes,
		CreatedAt: g.CreatedAt, StartedAt: opt(g.StartedAt), CompletedAt: opt(g.CompletedAt),
	}
}

// insertEvent appends an event for g's current state. The caller notifies subscribers
// after its transaction commits.
func insertEvent(ctx context.Context, tx *wtx, g *Generation, typ string, now time.Time) error {
	return insertEventData(ctx, tx, g.UserID, g.ID, typ, string(appendEventData(nil, g)), now)
}

// insertEventData appends an event whose data was encoded already (appendEventData),
// possibly before the write was queued, which keeps the encoding off the writer.
func insertEventData(ctx context.Context, tx *wtx, userID int64, genID, typ, data string, now time.Time) error {
	if tx.d.pg && !tx.eventsLocked {
		return errors.New("insert event: PostgreSQL event writes must run in eventTx")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (user_id, generation_id, type, data, created_at)
		VALUES (?, ?, ?, ?, ?)`, userID, genID, typ, data, ms(now)); err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

// eventReturning is what an UPDATE of a generation returns for its event: the fields
// EventData shows, so the event needs no second read of the row.
const eventReturning = ` RETURNING id, user_id, status, prompt, resolution, aspect_ratio, output_format,
	safety_filter_level, generation_mode, reference_ids, error, coalesce(width, 0), coalesce(height, 0),
	coalesce(bytes, 0), created_at, started_at, completed_at`

// updateWithEvent runs an UPDATE of one generation (q, without RETURNING) and appends an
// event for the row as that UPDATE left it. updated is false, with no event, when no row
// matched.
func updateWithEvent(ctx context.Context, tx *wtx, now time.Time, q string, args ...any) (userID int64, updated bool, err error) {
	var g Generation
	var refs string
	var created int64
	var started, completed sql.NullInt64
	err = tx.QueryRowContext(ctx, q+eventReturning, args...).Scan(&g.ID, &g.UserID, &g.Status,
		&g.Prompt, &g.Resolution, &g.AspectRatio, &g.OutputFormat, &g.SafetyFilterLevel, &g.Mode,
		&refs, &g.Error, &g.Width, &g.Height, &g.Bytes, &created, &started, &completed)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if err := parseRefs(refs, &g.ReferenceIDs); err != nil {
		return 0, false, fmt.Errorf("generation %s: reference_ids: %w", g.ID, err)
	}
	g.CreatedAt = fromMS(created)
	g.StartedAt, g.CompletedAt = nullMS(started), nullMS(completed)
	return g.UserID, true, insertEvent(ctx, tx, &g, g.Status, now)
}

// EventsSince returns the user's events with id > afterID, oldest first, at most limit
// (default 100, at most 1000). SQLite has no index by user (migration 0005): the walk
// goes by id from afterID and skips other users' events, so its cost is what everyone
// logged since afterID.
func (d *DB) EventsSince(ctx context.Context, userID int64, afterID int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	rows, err := d.query(ctx, `SELECT id, user_id, generation_id, type, data, created_at
		FROM events WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?`, userID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("events since: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var data string
		var created int64
		if err := rows.Scan(&e.ID, &e.UserID, &e.GenerationID, &e.Type, &data, &created); err != nil {
			return nil, fmt.Errorf("events since: %w", err)
		}
		e.Data = json.RawMessage(data)
		e.CreatedAt = fromMS(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastEventID returns an id that every later event of the user's will exceed (0 when
// there are no events), so a new SSE stream without Last-Event-ID can start from now:
// the newest event's of any user, which the table's own order gives at once, where the
// user's own newest would be a walk back without an index by user (migration 0005).
// Starting after it shows the user the same events.
func (d *DB) LastEventID(ctx context.Context, userID int64) (int64, error) {
	var id sql.NullInt64
	err := d.queryRow(ctx, `SELECT max(id) FROM events`).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("last event id: %w", err)
	}
	return id.Int64, nil
}

// PruneEvents deletes events created before olderThan, except the newest event, and
// returns how many. A client reconnecting with an older Last-Event-ID simply misses them
// and re-reads the list. The newest stays because a new event's id is one past the
// largest present (migration 0003): an emptied table would hand out old ids again.
// There is no index on created_at (one more b-tree written with every event): ids grow
// with time, so everything below the oldest event young enough to keep goes, and
// walking up from the lowest id to find it reads only what is deleted.
func (d *DB) PruneEvents(ctx context.Context, olderThan time.Time) (int64, error) {
	var n int64
	err := d.writeTx(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id < coalesce(
			(SELECT id FROM events WHERE created_at >= ? ORDER BY id LIMIT 1),
			(SELECT max(id) FROM events))`, ms(olderThan))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	return n, nil
}

// broker fans "something new for user U" out to that user's subscribers. A signal
// carries no data: subscribers read EventsSince, so a slow one that misses signals
// (sends never block, a pending signal absorbs later ones) still sees every event.
type broker struct {
	mu   sync.Mutex
	subs map[int64]map[chan struct{}]struct{}
}

func (d *DB) broker() *broker {
	b := &d.events
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[int64]map[chan struct{}]struct{}{}
	}
	b.mu.Unlock()
	return b
}

// Subscribe returns a channel that receives a signal after each commit that wrote an
// event for userID, and a function that ends the subscription (call it once done).
func (d *DB) Subscribe(userID int64) (<-chan struct{}, func()) {
	b := d.broker()
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	m := b.subs[userID]
	if m == nil {
		m = map[chan struct{}]struct{}{}
		b.subs[userID] = m
	}
	m[ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs[userID], ch)
			if len(b.subs[userID]) == 0 {
				delete(b.subs, userID)
			}
			b.mu.Unlock()
		})
	}
}

// notify signals the subscribers of each user; call it only after the commit.
func (d *DB) notify(userIDs ...int64) {
	b := d.broker()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range userIDs {
		for ch := range b.subs[u] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// notifyAll signals every subscriber (after a gap in cross-process notifications, when
// any user may have new events).
func (d *DB) notifyAll() {
	b := d.broker()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, subs := range b.subs {
		for ch := range subs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}
