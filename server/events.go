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
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
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
// before it sends anything more; its last event, "end", says why.
func (s *Server) events(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	ctx := r.Context()
	rc := http.NewResponseController(w)

	// Subscribe before reading where to start, so a change committed in between is
	// signalled rather than missed.
	wake, unsubscribe := s.db.Subscribe(p.ID)
	defer unsubscribe()

	last, err := lastEventID(r)
	if err != nil {
		return err
	}
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
	// The stream lives for hours: no write deadline from the server's defaults.
	_ = rc.SetWriteDeadline(time.Time{})
	bw := bufio.NewWriterSize(w, 8<<10)
	// Tell EventSource how soon to reconnect after a drop.
	bw.WriteString("retry: 3000\n\n")

	heartbeat := time.NewTicker(sseHeartbeat)
	defer heartbeat.Stop()
	expiry := time.NewTimer(p.Until.Sub(s.now()))
	defer expiry.Stop()
	for first := true; ; first = false {
		if !first {
			if reason, detail := s.streamEnded(r, p); reason != "" {
				bw.WriteString("event: end\ndata: ")
				bw.Write(endEvent(reason, detail))
				bw.WriteString("\n\n")
				_ = bw.Flush()
				_ = rc.Flush()
				return nil
			}
		}
		// Drain the log past last, in batches.
		for {
			evs, err := s.db.EventsSince(ctx, p.ID, last, eventsBatch)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.WarnContext(ctx, "event stream: read failed", "err", err, "request_id", requestID(ctx))
				return nil // headers are sent; the client reconnects with Last-Event-ID
			}
			for i := range evs {
				s.writeEvent(ctx, bw, &evs[i])
				last = evs[i].ID
			}
			if len(evs) < eventsBatch {
				break
			}
		}
		if err := bw.Flush(); err != nil {
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case <-wake:
		case <-expiry.C:
		case <-heartbeat.C:
			bw.WriteString(": ping\n\n")
		}
	}
}

// streamEnded tells whether a stream's caller is no longer served, and why: "expired"
// (the credential's time is up) or "session_ended".
func (s *Server) streamEnded(r *http.Request, p *principal) (reason, detail string) {
	if !s.now().Before(p.Until) {
		return "expired", "The access token this stream was opened with has expired; open it again with a new ticket."
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
		return "session_ended", "This session has ended; sign in again."
	}
	return "", ""
}

// endEvent is the data of a stream's last event.
func endEvent(reason, detail string) []byte {
	b, _ := json.Marshal(map[string]string{"reason": reason, "detail": detail})
	return b
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
		Resolution string `json:"resolution"`
	}
	_ = json.Unmarshal(e.Data, &stored)
	v := db.View{PriceUSD: s.cfg.Prices.Price(stored.Resolution)}
	if e.Type != db.StatusPending && e.Type != db.StatusCompleted {
		return v
	}
	g, err := s.db.GetGeneration(ctx, e.UserID, e.GenerationID)
	if err != nil {
		return v
	}
	now := s.view(g)
	if e.Type == db.StatusPending {
		v.QueuePosition = now.QueuePosition
	} else {
		v.ImageURL, v.ThumbnailURL = now.ImageURL, now.ThumbnailURL
	}
	return v
}
