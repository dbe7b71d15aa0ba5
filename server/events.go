package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
	"nanobanana/internal/jsonenc"
)

// sseHeartbeat keeps idle streams open through proxies that close quiet connections.
const sseHeartbeat = 15 * time.Second

// eventsBatch is how many events one read of the log returns.
const eventsBatch = 200

// events streams the user's generation changes as Server-Sent Events. Every change is a
// row in the events table, so a reconnect with Last-Event-ID replays exactly what was
// missed; the db's Subscribe signal only says "read again", so no event is lost when a
// signal is. A browser opens it with a ticket (bearerOrTicket, tickets.go).
//
// A stream serves its caller only while the credential it came with would still be
// accepted: it ends when that credential expires, and when the account is disabled, its
// token version bumped (password change, sign out everywhere) or its session ended
// (sign-out). Those changes signal the user's subscribers (in every process, on
// PostgreSQL), and the stream checks its caller again on each signal and heartbeat
// before it sends anything more; its last event, "closed", says why.
//
// What a stream may hold is bounded: each write (a batch of events, a heartbeat) must
// drain within EVENTS_WRITE_TIMEOUT_SECONDS or the stream and its connection are dropped
// (a client that stops reading would otherwise pin its data in the kernel's buffers for
// as long as it stays connected); a user has at most MAX_STREAMS_PER_USER streams (a new
// one ends the oldest, with a last event saying why) and the process MAX_EVENT_STREAMS.
func (s *Server) events(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	ctx := r.Context()
	last, err := lastEventID(r)
	if err != nil {
		return err
	}
	reg, err := s.streams.open(p.ID, s.cfg.MaxStreamsPerUser, s.cfg.MaxEventStreams)
	if err != nil {
		return err
	}
	defer s.streams.close(reg)

	// Subscribe before reading where to start, so a change committed in between is
	// signalled rather than missed.
	wake, unsubscribe := s.db.Subscribe(p.ID)
	defer unsubscribe()
	if last < 0 {
		if last, err = s.db.LastEventID(ctx, p.ID); err != nil {
			return err
		}
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := &eventStream{s: s, rc: http.NewResponseController(w), bw: bufio.NewWriterSize(w, 8<<10), p: p, last: last}
	// Tell EventSource how soon to reconnect after a drop.
	st.bw.WriteString("retry: 3000\n\n")

	heartbeat := time.NewTicker(sseHeartbeat)
	defer heartbeat.Stop()
	expiry := time.NewTimer(p.Until.Sub(s.now()))
	defer expiry.Stop()
	for first := true; ; first = false {
		if !first {
			if code, detail := s.streamEnded(r, p); code != "" {
				st.end(code, detail)
				return nil
			}
		}
		if err := st.begin(); err != nil {
			return nil
		}
		if !st.drain(ctx) {
			return nil
		}
		if err := st.flush(); err != nil {
			return nil // dropped: the client did not read in time, or went away
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case <-reg.evicted:
			st.end(db.CodeTooManyStreams, "You have more than "+strconv.Itoa(s.cfg.MaxStreamsPerUser)+
				" live views open; this one was closed. Reload it to follow your generations here again.")
			return nil
		case <-wake:
		case <-expiry.C:
		case <-heartbeat.C:
			st.bw.WriteString(": ping\n\n")
		}
	}
}

// streamEnded tells whether a stream's caller is no longer served, and why, as a code
// of the catalogue: unauthorized (the credential's time is up) or session_ended.
func (s *Server) streamEnded(r *http.Request, p *principal) (db.Code, string) {
	if !s.now().Before(p.Until) {
		return db.CodeUnauthorized, "The access token this stream was opened with has expired; open it again with a new ticket."
	}
	if p.Token != nil {
		// A personal access token: the stream ends when it is revoked.
		ts, err := s.db.AccessTokens(r.Context(), p.ID)
		if err != nil {
			return "", ""
		}
		if !slices.ContainsFunc(ts, func(t db.AccessToken) bool { return t.ID == p.Token.ID }) {
			return "session_ended", "The personal access token this stream was opened with was revoked."
		}
		return "", ""
	}
	if _, err := s.checkSession(r, p.ID, p.TokenVersion, p.Session, p.Until); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Code == db.CodeInternal {
			return "", "" // the database did not answer: the next check decides
		}
		return db.CodeSessionEnded, "This session has ended; sign in again."
	}
	return "", ""
}

// eventStream is one open stream's writing side. Every write goes through begin (its
// deadline) and flush; a check that must run before anything more is sent to the user,
// such as whether their session still holds, belongs in begin.
type eventStream struct {
	s    *Server
	rc   *http.ResponseController
	bw   *bufio.Writer
	p    *principal
	last int64 // the id of the last event sent
}

// begin starts a write: it must reach the client within the write timeout.
func (st *eventStream) begin() error {
	return st.rc.SetWriteDeadline(time.Now().Add(st.s.streamWriteTimeout()))
}

// drain writes the user's events after the last sent, in batches; false when the
// stream must end (the log could not be read).
func (st *eventStream) drain(ctx context.Context) bool {
	for {
		evs, err := st.s.db.EventsSince(ctx, st.p.ID, st.last, eventsBatch)
		if err != nil {
			if ctx.Err() == nil {
				st.s.log.WarnContext(ctx, "event stream: read failed", "err", err, "request_id", requestID(ctx))
			}
			return false // headers are sent; the client reconnects with Last-Event-ID
		}
		for i := range evs {
			st.s.writeEvent(ctx, st.bw, &evs[i])
			st.last = evs[i].ID
		}
		if len(evs) < eventsBatch {
			return true
		}
	}
}

// flush sends what is buffered, within the deadline begin set.
func (st *eventStream) flush() error {
	if err := st.bw.Flush(); err != nil {
		return err
	}
	return st.rc.Flush()
}

// end sends a last event saying why the stream closes (its data: a code of the
// catalogue and a sentence), so the client does not reconnect blindly.
func (st *eventStream) end(code db.Code, detail string) {
	if st.begin() != nil {
		return
	}
	b := append([]byte(`{"code":`), jsonenc.AppendString(nil, string(code))...)
	b = append(b, `,"detail":`...)
	b = append(jsonenc.AppendString(b, detail), '}')
	st.bw.WriteString("event: closed\ndata: ")
	st.bw.Write(b)
	st.bw.WriteString("\n\n")
	_ = st.flush()
}

func (s *Server) streamWriteTimeout() time.Duration {
	if s.cfg.StreamWriteTimeout > 0 {
		return s.cfg.StreamWriteTimeout
	}
	return 10 * time.Second
}

// streamSet counts the open event streams, per user (oldest first) and in all.
type streamSet struct {
	mu     sync.Mutex
	n      int
	byUser map[int64][]*streamReg
}

// streamReg is one open stream in the set; evicted is closed to end it.
type streamReg struct {
	user    int64
	evicted chan struct{}
	listed  bool // still counted among its user's streams
}

// open registers a new stream of user: past the process's cap it is refused (503,
// try again soon); past the user's, the user's oldest stream is asked to end.
func (ss *streamSet) open(user int64, perUser, perProcess int) (*streamReg, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if perProcess > 0 && ss.n >= perProcess {
		return nil, &apiError{Code: db.CodeUnavailable, RetryAfter: 5 * time.Second,
			Detail: "The server has as many live event streams open as it allows; try again in a few seconds."}
	}
	if ss.byUser == nil {
		ss.byUser = map[int64][]*streamReg{}
	}
	list := ss.byUser[user]
	for perUser > 0 && len(list) >= perUser {
		old := list[0]
		list = list[1:]
		old.listed = false
		close(old.evicted)
	}
	r := &streamReg{user: user, evicted: make(chan struct{}), listed: true}
	ss.byUser[user] = append(list, r)
	ss.n++
	return r, nil
}

// close forgets a stream that ended.
func (ss *streamSet) close(r *streamReg) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.n--
	if !r.listed {
		return
	}
	list := ss.byUser[r.user]
	for i, x := range list {
		if x == r {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(ss.byUser, r.user)
	} else {
		ss.byUser[r.user] = list
	}
}

// count is how many streams are open (for tests).
func (ss *streamSet) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.n
}

// lastEventID reads where a reconnecting client left off: the Last-Event-ID header, or
// ?last_event_id= for clients that cannot set headers. -1 means "from now".
func lastEventID(r *http.Request) (int64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, invalid("Last-Event-ID", "Last-Event-ID must be an event id this server sent.")
	}
	return n, nil
}

// writeEvent writes one event. Its data is the generation as the status answer shows it
// at this moment: the stored part written with the change, completed with what the
// answer would add now (db.AppendView). A deletion is event "deleted" with the ids.
func (s *Server) writeEvent(ctx context.Context, bw *bufio.Writer, e *db.Event) {
	bw.WriteString("id: ")
	bw.WriteString(strconv.FormatInt(e.ID, 10))
	if e.Type == db.EventDeleted {
		bw.WriteString("\nevent: deleted\ndata: ")
		bw.Write(e.Data)
		bw.WriteString("\n\n")
		return
	}
	v := s.eventView(ctx, e)
	bp := jsonBufs.Get().(*[]byte)
	b := db.AppendView((*bp)[:0], e.Data, e.Type, &v)
	bw.WriteString("\nevent: generation\ndata: ")
	bw.Write(b) // JSON has no raw newlines, so one data line suffices
	bw.WriteString("\n\n")
	*bp = b[:0]
	jsonBufs.Put(bp)
}

// eventView is the View a status answer would give the event's generation now. The
// price follows the stored resolution; a pending event shows the generation's current
// place in the queue and a completed one its signed URLs, both read from the row as it
// is now (a generation deleted or run again since shows none).
func (s *Server) eventView(ctx context.Context, e *db.Event) db.View {
	var stored struct {
		Resolution string   `json:"resolution"`
		References []string `json:"reference_image_ids"`
	}
	_ = json.Unmarshal(e.Data, &stored)
	v := db.View{PriceUSD: s.prices(ctx).Price(stored.Resolution), ReferenceURLs: s.referenceURLs(stored.References, e.UserID)}
	if e.Type != db.StatusPending && e.Type != db.StatusCompleted {
		return v
	}
	g, err := s.db.GetGeneration(ctx, e.UserID, e.GenerationID)
	if err != nil {
		return v
	}
	now := s.view(g)
	if e.Type == db.StatusPending {
		v.QueuePosition, v.QueuePaused = now.QueuePosition, now.QueuePaused
	} else {
		v.ImageURL, v.ThumbnailURL = now.ImageURL, now.ThumbnailURL
	}
	return v
}
