package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
)

// An event-stream ticket lets a browser's EventSource, which cannot send headers, open
// its stream without putting the access token in a URL (URLs end up in histories,
// proxies' logs and Referer headers). It is good for GET /api/v1/events only, for
// ticketTTL, and carries what the stream needs of the access token it was made from:
// the user, the token version, the session and the token's expiry, at which the stream
// ends. The stream checks the account and the session when it opens and again on
// every event and heartbeat, like a request with the token would.

// ticketTTL is how long a ticket may be used to open a stream (a reconnect after a drop
// asks for a new one).
const ticketTTL = time.Minute

type ticket struct {
	userID, version int64
	session         string
	until           time.Time // the access token's expiry: the stream ends then
}

var errBadTicket = errors.New("invalid ticket")

// issueTicket answers POST /api/v1/events/ticket.
func (s *Server) issueTicket(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	exp := s.now().Add(ticketTTL)
	payload := strings.Join([]string{"t1", strconv.FormatInt(p.ID, 10), strconv.FormatInt(p.TokenVersion, 10),
		p.Session, strconv.FormatInt(exp.Unix(), 10), strconv.FormatInt(p.Until.UnixMilli(), 10)}, "|")
	raw := base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(s.ticketSig(payload))
	writeJSON(w, http.StatusOK, map[string]any{"ticket": raw, "expires_in": int(ticketTTL.Seconds())})
	return nil
}

func (s *Server) ticketSig(payload string) []byte {
	m := hmac.New(sha256.New, s.signKey)
	m.Write([]byte("event-stream-ticket\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// parseTicket checks a ticket's signature and that it may still open a stream.
func (s *Server) parseTicket(raw string) (ticket, error) {
	if len(raw) > 512 {
		return ticket{}, errBadTicket
	}
	p64, s64, ok := strings.Cut(raw, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sig, err2 := base64.RawURLEncoding.DecodeString(s64)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(sig, s.ticketSig(string(payload))) {
		return ticket{}, errBadTicket
	}
	f := strings.Split(string(payload), "|")
	if len(f) != 6 || f[0] != "t1" {
		return ticket{}, errBadTicket
	}
	uid, e1 := strconv.ParseInt(f[1], 10, 64)
	ver, e2 := strconv.ParseInt(f[2], 10, 64)
	exp, e3 := strconv.ParseInt(f[4], 10, 64)
	until, e4 := strconv.ParseInt(f[5], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil || e4 != nil || uid <= 0 {
		return ticket{}, errBadTicket
	}
	now := s.now()
	if !now.Before(time.Unix(exp, 0)) || !now.Before(time.UnixMilli(until)) {
		return ticket{}, errBadTicket
	}
	return ticket{userID: uid, version: ver, session: f[3], until: time.UnixMilli(until)}, nil
}
