package server

import (
	"errors"
	"net/http"
	"strings"

	"nanobanana/db"
)

// principal is the signed-in caller of a request.
type principal struct {
	*db.User
	Session string // the refresh family the access token was issued under
}

// authenticate checks the bearer token and that the user still exists, is enabled and
// has not revoked the token's version (password change, sign out everywhere).
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	if h == "" {
		return nil, unauthorized("Not signed in: send the access token as Authorization: Bearer <token>.")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return nil, unauthorized("The Authorization header must be \"Bearer <access token>\".")
	}
	userID, version, session, err := s.tokens.parse(strings.TrimSpace(raw))
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
