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
	// (bearerOrLink): then only User.ID is known.
	LinkExpires time.Time
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
	return s.accessToken(r, strings.TrimSpace(raw))
}

// bearerOrQuery also takes the token as ?access_token= when no header is sent: a
// browser's EventSource cannot send one. Only the event stream allows it; the token is a
// short-lived JWT, and the access log records the path only, never the query.
func (s *Server) bearerOrQuery(r *http.Request, ps httprouter.Params) (*principal, error) {
	if r.Header.Get("Authorization") == "" {
		if tok := r.URL.Query().Get("access_token"); tok != "" {
			return s.accessToken(r, tok)
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
		return &principal{User: &db.User{ID: uid}, LinkExpires: expires}, nil
	}
}

// accessToken checks an access token and that its user still exists, is enabled and
// has not revoked the token's version (password change, sign out everywhere).
func (s *Server) accessToken(r *http.Request, raw string) (*principal, error) {
	userID, version, session, err := s.tokens.parse(raw)
	if err != nil {
		return nil, unauthorized("The access token is invalid or expired; sign in again or refresh it.")
	}
	u, err := s.db.UserByID(r.Context(), userID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, unauthorized("The access token is invalid or expired; sign in again or refresh it.")
	}
	if err != nil {
		return nil, internal(err)
	}
	if u.Disabled || u.TokenVersion != version {
		return nil, newError(db.CodeSessionEnded, "This session has ended (password changed or signed out everywhere); sign in again.")
	}
	return &principal{User: u, Session: session}, nil
}
