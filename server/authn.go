package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// principal is the signed-in caller of a request.
type principal struct {
	*db.User
	Session string // the refresh family the access token was issued under
	// LinkExpires is set when the caller holds a signed file link instead of a session
	// (bearerOrLink).
	LinkExpires time.Time
	// Until is when the credential the caller came with expires (an access token's, or
	// the token's a stream ticket was made from): an event stream ends then.
	Until time.Time
	// Token is the personal access token the caller came with (nil for a session): its
	// scopes bound the routes it may call.
	Token *db.AccessToken
}

// The credentials a route of the table may take (route.creds); each checks the caller
// before the handler runs, and before any body is read.

// bearer reads the access token from the Authorization header: the default.
func (s *Server) bearer(r *http.Request, _ httprouter.Params) (*principal, error) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	if h == "" {
		return nil, unauthorized("Not signed in: send the access token as Authorization: Bearer <token>.")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return nil, unauthorized("The Authorization header must be \"Bearer <access token>\".")
	}
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, patPrefix) {
		return s.personalToken(r, raw)
	}
	return s.accessToken(r, raw)
}

// bearerOrTicket also takes an event-stream ticket as ?ticket= when no header is sent:
// a browser's EventSource cannot send one. The ticket is short-lived, good for this
// route only, and names the access token's session and expiry (tickets.go); an access
// token in the query is not accepted.
func (s *Server) bearerOrTicket(r *http.Request, ps httprouter.Params) (*principal, error) {
	if r.Header.Get("Authorization") == "" {
		if raw := r.URL.Query().Get("ticket"); raw != "" {
			t, err := s.parseTicket(raw)
			if err != nil {
				return nil, unauthorized("The event stream's ticket is invalid or expired; ask for a new one with POST /api/v1/events/ticket.")
			}
			return s.checkSession(r, t.userID, t.version, t.session, t.until)
		}
		if r.URL.Query().Has("access_token") {
			return nil, unauthorized("The event stream takes no access token in its URL: send it as Authorization: Bearer <token>, or get a ticket with POST /api/v1/events/ticket and open /api/v1/events?ticket=<ticket>.")
		}
	}
	return s.bearer(r, ps)
}

// bearerOrLink also takes a signed link to the route's file (?u=&exp=&sig=, which <img>
// tags use; see signedURL). The user is not loaded: the link names only the user id.
func (s *Server) bearerOrLink(kind fileKind) credentials {
	return func(r *http.Request, ps httprouter.Params) (*principal, error) {
		q := r.URL.Query()
		if !q.Has("sig") {
			return s.bearer(r, ps)
		}
		uid, expires, err := s.verifySigned(kind, ps.ByName("id"), q)
		if err != nil {
			return nil, err
		}
		// The link outlives nothing of its owner's: a disabled account's links stop.
		u, err := s.db.UserByID(r.Context(), uid)
		if errors.Is(err, db.ErrNotFound) {
			return nil, newError(db.CodeInvalidLink, "This image link is no longer valid.")
		}
		if err != nil {
			return nil, internal(err)
		}
		if u.Disabled {
			return nil, newError(db.CodeAccountDisabled, "The account this image belongs to is disabled.")
		}
		return &principal{User: u, LinkExpires: expires}, nil
	}
}

// accessToken checks an access token, and that its user still exists, is enabled, has
// not revoked the token's version (password change, sign out everywhere) and has not
// ended its session (sign-out).
func (s *Server) accessToken(r *http.Request, raw string) (*principal, error) {
	userID, version, session, until, err := s.tokens.parse(raw)
	if err != nil {
		return nil, unauthorized("The access token is invalid or expired; sign in again or refresh it.")
	}
	return s.checkSession(r, userID, version, session, until)
}

// checkSession loads the caller of a credential (an access token, or a stream ticket
// made from one) and checks it is still good: one read, in every process the same.
func (s *Server) checkSession(r *http.Request, userID, version int64, session string, until time.Time) (*principal, error) {
	u, err := s.db.UserForSession(r.Context(), userID, session)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return nil, unauthorized("The access token is invalid or expired; sign in again or refresh it.")
	case db.CodeOf(err) == db.CodeSessionEnded:
		return nil, newError(db.CodeSessionEnded, "This session has ended (signed out); sign in again.")
	case err != nil:
		return nil, internal(err)
	}
	if u.Disabled || u.TokenVersion != version {
		return nil, newError(db.CodeSessionEnded, "This session has ended (password changed or signed out everywhere); sign in again.")
	}
	return &principal{User: u, Session: session, Until: until}, nil
}
