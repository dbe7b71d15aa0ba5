package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"nanobanana/db"
)

// insertEvent appends an event for g's current state. The caller notifies subscribers
// after its transaction commits.
func insertEvent(q EventQuerier, g *db.Generation, typ string, now int64) error {
	return insertEventData(q, g.UserID, g.ID, typ, db.AppendStored(nil, g), now)
}

// insertEventData appends an event whose data was encoded already (db.AppendStored),
// possibly before the write was queued, which keeps the encoding off the writer.
func insertEventData(q EventQuerier, userID int64, genID, typ string, data []byte, now int64) error {
	if _, err := q.Exec(`INSERT INTO events (user_id, generation_id, type, data, created_at)
		VALUES (?, ?, ?, ?, ?)`, userID, genID, typ, string(data), now); err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

// eventReturning is what an UPDATE of a generation returns for its event: the fields
// the stored part shows, so the event needs no second read of the row.
const eventReturning = ` RETURNING id, user_id, status, prompt, resolution, aspect_ratio, output_format,
	safety_filter_level, generation_mode, reference_ids, error, coalesce(width, 0), coalesce(height, 0),
	coalesce(bytes, 0), created_at, started_at, completed_at, ` + moneyCols + `, ` + jobShapeCols + `, favorite, coalesce(batch_id, '')`

// updateWithEvent runs an UPDATE of one generation (query, without RETURNING) and
// appends an event for the row as that UPDATE left it, which it returns; nil, with no
// event, when no row matched.
func updateWithEvent(q EventQuerier, now int64, query string, args ...any) (*db.Generation, error) {
	var g db.Generation
	var refs string
	var created int64
	var started, completed, runAfter, queued sql.NullInt64
	money, moneyDone := moneyDest(&g)
	err := q.QueryRow(query+eventReturning, args...).Scan(append(append([]any{&g.ID, &g.UserID, &g.Status,
		&g.Prompt, &g.Resolution, &g.AspectRatio, &g.OutputFormat, &g.SafetyFilterLevel, &g.Mode,
		&refs, &g.Error, &g.Width, &g.Height, &g.Bytes, &created, &started, &completed}, money...),
		&g.Attempts, &g.JobState, &g.LastError, &runAfter, &queued, &g.Favorite, &g.BatchID)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := parseRefs(refs, &g.ReferenceIDs); err != nil {
		return nil, fmt.Errorf("generation %s: reference_ids: %w", g.ID, err)
	}
	moneyDone()
	g.CreatedAt = fromMS(created)
	g.StartedAt, g.CompletedAt = nullMS(started), nullMS(completed)
	g.RunAfter, g.QueuedAt = nullMS(runAfter), nullMS(queued)
	return &g, insertEvent(q, &g, g.Status, now)
}

// EventsSince returns the user's events with id > afterID, oldest first, at most limit
// (default 100, at most 1000). SQLite has no index by user: the walk goes by id from
// afterID and skips other users' events, so its cost is what everyone logged since
// afterID.
func (s *Store) EventsSince(ctx context.Context, userID int64, afterID int64, limit int) ([]db.Event, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	out, err := read(ctx, s, func(q Querier) ([]db.Event, error) {
		rows, err := q.Query(`SELECT id, user_id, generation_id, type, data, created_at
			FROM events WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?`, userID, afterID, limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []db.Event
		for rows.Next() {
			var e db.Event
			var data string
			var created int64
			if err := rows.Scan(&e.ID, &e.UserID, &e.GenerationID, &e.Type, &data, &created); err != nil {
				return nil, err
			}
			e.Data = storedShape(e.Type, []byte(data))
			e.CreatedAt = fromMS(created)
			out = append(out, e)
		}
		return out, rows.Err()
	})
	return out, wrapf(err, "events since")
}

// storedShape returns an event's data in the stored shape (db.AppendStored). Events
// written before the shape was one (they lack "image_id") are decoded and written
// again, so a stream replaying them shows the same object as any other event.
func storedShape(typ string, data []byte) []byte {
	if typ == db.EventDeleted || bytes.Contains(data, []byte(`"image_id":`)) {
		return data
	}
	var old struct {
		ID                string     `json:"id"`
		Status            string     `json:"status"`
		Prompt            string     `json:"prompt"`
		Resolution        string     `json:"resolution"`
		AspectRatio       string     `json:"aspect_ratio"`
		OutputFormat      string     `json:"output_format"`
		SafetyFilterLevel string     `json:"safety_filter_level"`
		GenerationMode    string     `json:"generation_mode"`
		ReferenceImageIDs []string   `json:"reference_image_ids"`
		Error             string     `json:"error"`
		Width             int        `json:"width"`
		Height            int        `json:"height"`
		Bytes             int64      `json:"bytes"`
		CreatedAt         time.Time  `json:"created_at"`
		StartedAt         *time.Time `json:"started_at"`
		CompletedAt       *time.Time `json:"completed_at"`
	}
	if err := json.Unmarshal(data, &old); err != nil || old.ID == "" {
		return data
	}
	g := db.Generation{ID: old.ID, Status: old.Status, Params: db.Params{Prompt: old.Prompt,
		Resolution: old.Resolution, AspectRatio: old.AspectRatio, OutputFormat: old.OutputFormat,
		SafetyFilterLevel: old.SafetyFilterLevel, Mode: old.GenerationMode,
		ReferenceIDs: old.ReferenceImageIDs}, Error: old.Error, Width: old.Width,
		Height: old.Height, Bytes: old.Bytes, CreatedAt: old.CreatedAt}
	if old.StartedAt != nil {
		g.StartedAt = *old.StartedAt
	}
	if old.CompletedAt != nil {
		g.CompletedAt = *old.CompletedAt
	}
	return db.AppendStored(nil, &g)
}

// LastEventID returns an id that every later event of the user's will exceed (0 when
// there are no events), so a new SSE stream without Last-Event-ID can start from now:
// the newest event's of any user, which the table's own order gives at once, where the
// user's own newest would be a walk back without an index by user. Starting after it
// shows the user the same events.
func (s *Store) LastEventID(ctx context.Context, userID int64) (int64, error) {
	id, err := read(ctx, s, func(q Querier) (sql.NullInt64, error) {
		var id sql.NullInt64
		err := q.QueryRow(`SELECT max(id) FROM events`).Scan(&id)
		return id, err
	})
	return id.Int64, wrapf(err, "last event id")
}

// PruneEvents deletes events created before olderThan, except the newest event, and
// returns how many. A client reconnecting with an older Last-Event-ID simply misses them
// and re-reads the list. The newest stays because a new event's id is one past the
// largest present: an emptied table would hand out old ids again. There is no index on
// created_at (one more b-tree written with every event): ids grow with time, so
// everything below the oldest event young enough to keep goes, and walking up from the
// lowest id to find it reads only what is deleted.
func (s *Store) PruneEvents(ctx context.Context, olderThan time.Time) (int64, error) {
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM events WHERE id < coalesce(
			(SELECT id FROM events WHERE created_at >= ? ORDER BY id LIMIT 1),
			(SELECT max(id) FROM events))`, ms(olderThan))
	})
	return n, wrapf(err, "prune events")
}

// broker fans "something new for user U" out to that user's subscribers. A signal
// carries no data: subscribers read EventsSince, so a slow one that misses signals
// (sends never block, a pending signal absorbs later ones) still sees every event.
type broker struct {
	mu   sync.Mutex
	subs map[int64]map[chan struct{}]struct{}
}

// Subscribe returns a channel that receives a signal after each commit that wrote an
// event for userID, and a function that ends the subscription (call it once done).
func (s *Store) Subscribe(userID int64) (<-chan struct{}, func()) {
	b := &s.events
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[int64]map[chan struct{}]struct{}{}
	}
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
func (s *Store) notify(userIDs ...int64) { s.Notify(userIDs...) }

// Notify signals the subscribers of each user that new events may be there: called by
// the store after its commits, and by an engine that hears of other processes' events.
func (s *Store) Notify(userIDs ...int64) {
	b := &s.events
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

// NotifyAll signals every subscriber (after a gap in cross-process notifications, when
// any user may have new events).
func (s *Store) NotifyAll() {
	b := &s.events
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
