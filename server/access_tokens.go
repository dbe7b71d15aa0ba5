package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// Personal access tokens: long-lived credentials a user makes for scripts, sent as
// Authorization: Bearer like an access token, told apart by their prefix. Each carries
// scopes; a route of the table names the scope it needs (route.scope), and a route with
// none is for signed-in sessions only (a token cannot change the password or make
// tokens). The secret is shown once; the database keeps its SHA-256.

// patPrefix starts every personal access token, so bearer can tell one from a JWT
// (which starts "eyJ") and secret scanners can find leaked ones.
const patPrefix = "nbp_"

// The scopes a token may carry. A session has all of them.
const (
	scopeRead     = "read"     // read the account's generations, files and events
	scopeGenerate = "generate" // create, cancel, retry and delete generations, upload
	scopeAdmin    = "admin"    // the account's settings (Replicate key, token list) and, for an administrator, admin routes
)

var allScopes = []string{scopeRead, scopeGenerate, scopeAdmin}

// touchEvery bounds the writes of last use: at most one per token per interval.
const touchEvery = time.Minute

type accessTokenRequest struct {
	Name          string   `json:"name"`
	Scopes        []string `json:"scopes"`
	ExpiresInDays int      `json:"expires_in_days"` // 0: never expires
}

// accessTokenJSON is a token as the API shows it; Token (the secret) only once, when
// it is created.
type accessTokenJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Token      string     `json:"token,omitempty"`
}

type accessTokenList struct {
	Items []accessTokenJSON `json:"items"`
}

func toAccessTokenJSON(t *db.AccessToken) accessTokenJSON {
	opt := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		return &v
	}
	return accessTokenJSON{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scopes: t.Scopes, CreatedAt: t.CreatedAt,
		ExpiresAt: opt(t.ExpiresAt), LastUsedAt: opt(t.LastUsedAt)}
}

func (s *Server) createAccessToken(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	var req accessTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return invalid("name", "Name the token (1 to 100 characters), e.g. after the script that uses it.")
	}
	if len(req.Scopes) == 0 {
		return invalid("scopes", "Give the token at least one scope: "+strings.Join(allScopes, ", ")+".")
	}
	var scopes []string
	for _, sc := range allScopes { // in a fixed order, once each
		if slices.Contains(req.Scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	for _, sc := range req.Scopes {
		if !slices.Contains(allScopes, sc) {
			return invalid("scopes", "Unknown scope "+strconv.Quote(sc)+"; the scopes are "+strings.Join(allScopes, ", ")+".")
		}
	}
	if req.ExpiresInDays < 0 || req.ExpiresInDays > 3650 {
		return invalid("expires_in_days", "expires_in_days must be 0 (never) to 3650.")
	}
	var expires time.Time
	if req.ExpiresInDays > 0 {
		expires = s.now().Add(time.Duration(req.ExpiresInDays) * 24 * time.Hour)
	}
	secret := patPrefix + newOpaqueToken()
	t, err := s.db.CreateAccessToken(r.Context(), db.AccessToken{UserID: p.ID, Name: name,
		Prefix: secret[:len(patPrefix)+6], Scopes: scopes, ExpiresAt: expires}, secret)
	if err != nil {
		return internal(err)
	}
	s.log.InfoContext(r.Context(), "access token created", "user_id", p.ID, "token_id", t.ID, "scopes", strings.Join(scopes, " "))
	out := toAccessTokenJSON(t)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listAccessTokens(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	ts, err := s.db.AccessTokens(r.Context(), p.ID)
	if err != nil {
		return internal(err)
	}
	out := accessTokenList{Items: make([]accessTokenJSON, len(ts))}
	for i := range ts {
		out.Items[i] = toAccessTokenJSON(&ts[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeAccessToken(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := strconv.ParseInt(ps.ByName("id"), 10, 64)
	if err != nil || id <= 0 {
		return notFound("No such access token: it does not exist or is not yours.")
	}
	if err := s.db.DeleteAccessToken(r.Context(), p.ID, id); errors.Is(err, db.ErrNotFound) {
		return notFound("No such access token: it does not exist or is not yours.")
	} else if err != nil {
		return internal(err)
	}
	s.log.InfoContext(r.Context(), "access token revoked", "user_id", p.ID, "token_id", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// personalToken authenticates a personal access token: it must exist (revoking deletes
// it, so a revoked token fails at its next request), be unexpired, and its user enabled.
func (s *Server) personalToken(r *http.Request, raw string) (*principal, error) {
	if len(raw) > 200 {
		return nil, unauthorized("The personal access token is invalid, expired or revoked.")
	}
	u, t, err := s.db.UserForAccessToken(r.Context(), raw)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return nil, unauthorized("The personal access token is invalid, expired or revoked; make a new one in Settings.")
	case err != nil:
		return nil, internal(err)
	}
	if u.Disabled {
		return nil, newError(db.CodeAccountDisabled, "This account is disabled; contact the administrator.")
	}
	s.touchToken(r.Context(), t)
	until := t.ExpiresAt
	if until.IsZero() {
		// An event stream opened with a token that never expires is still renewed daily.
		until = s.now().Add(24 * time.Hour)
	}
	return &principal{User: u, Token: t, Until: until}, nil
}

// touchToken records the token's use, at most once per touchEvery per token and
// process: the common request costs no write.
func (s *Server) touchToken(ctx context.Context, t *db.AccessToken) {
	now := s.now()
	if now.Sub(t.LastUsedAt) < touchEvery {
		return
	}
	if last, ok := s.tokenTouches.Load(t.ID); ok && now.Sub(last.(time.Time)) < touchEvery {
		return
	}
	s.tokenTouches.Store(t.ID, now)
	if err := s.db.TouchAccessToken(context.WithoutCancel(ctx), t.ID, now, now.Add(-touchEvery)); err != nil {
		s.log.WarnContext(ctx, "could not record an access token's use", "token_id", t.ID, "err", err)
	}
}

// allows tells whether the caller may call a route that needs scope: a session may
// call every route; a token only those whose scope it carries.
func (p *principal) allows(scope string) bool {
	return p.Token == nil || (scope != "" && slices.Contains(p.Token.Scopes, scope))
}
