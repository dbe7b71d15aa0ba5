package server

import (
	"errors"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/crypto/bcrypt"

	"nanobanana/db"
)

const refreshCookie = "nb_refresh"

// sessionFlagCookie is readable by the page: it only says that a refresh cookie was set.
const sessionFlagCookie = "nb_session"

// userJSON is a user as the API shows it (seed fields first).
type userJSON struct {
	ID             int64     `json:"id"`
	Username       string    `json:"username"`
	Email          string    `json:"email"`
	IsAdmin        bool      `json:"is_admin"`
	HasAPIKey      bool      `json:"has_api_key"`
	APIKeyLast4    string    `json:"api_key_last4,omitempty"`
	APIKeyVerified bool      `json:"api_key_verified"`
	CreatedAt      time.Time `json:"created_at"`
}

func toUserJSON(u *db.User) userJSON {
	return userJSON{ID: u.ID, Username: u.Username, Email: u.Email, IsAdmin: u.IsAdmin, HasAPIKey: u.HasAPIKey,
		APIKeyLast4: u.APIKeyLast4, APIKeyVerified: u.APIKeyVerified, CreatedAt: u.CreatedAt}
}

type tokenPair struct {
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token,omitempty"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int64    `json:"expires_in"`
	User         userJSON `json:"user"`
}

var usernameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,32}$`)

func validUsername(name string) error {
	if !usernameRE.MatchString(name) {
		return invalid("username", "The username must be 3 to 32 characters of letters, digits, '_', '.' or '-'.")
	}
	return nil
}

func validEmail(email string) error {
	a, err := mail.ParseAddress(email)
	at := strings.LastIndexByte(email, '@')
	if err != nil || a.Address != email || len(email) > 254 || at < 1 || !strings.Contains(email[at+1:], ".") {
		return invalid("email", "The email must be a plain address such as name@example.com.")
	}
	return nil
}

func validPassword(field, pw string) error {
	switch {
	case len(pw) < 8:
		return invalid(field, "The password must be at least 8 bytes long.")
	case len(pw) > 72:
		// bcrypt reads only 72 bytes; a longer password would silently lose its tail.
		return invalid(field, "The password must be at most 72 bytes long (bcrypt ignores anything after that).")
	}
	return nil
}

// issuePair mints an access token and a refresh token in a new or existing family.
// Browsers that ask with X-Refresh-Cookie get the refresh token as an HttpOnly cookie
// instead of in the body, so no script can read it.
func (s *Server) issuePair(w http.ResponseWriter, r *http.Request, u *db.User, family, refresh string) (*tokenPair, error) {
	access, exp, err := s.tokens.issue(u.ID, u.TokenVersion, family)
	if err != nil {
		return nil, internal(err)
	}
	p := &tokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "bearer",
		ExpiresIn: int64(exp.Sub(s.now()).Seconds()), User: toUserJSON(u)}
	if wantsCookie(r) {
		s.setRefreshCookie(w, r, refresh, int(s.cfg.RefreshTokenTTL.Seconds()))
		p.RefreshToken = ""
	}
	return p, nil
}

func wantsCookie(r *http.Request) bool { return r.Header.Get("X-Refresh-Cookie") == "1" }

// setRefreshCookie sets (or, with maxAge -1, clears) the refresh cookie and its readable
// companion nb_session=1: no secret, only the hint that a session may exist, so the page
// resumes one silently only when there can be one (a first visit asks nothing that fails).
// The two share their lifetime and are always set and cleared together.
func (s *Server) setRefreshCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: refreshCookie, Value: value, Path: "/api/v1/auth", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.isHTTPS(r),
	})
	flag := "1"
	if maxAge < 0 {
		flag = ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionFlagCookie, Value: flag, Path: "/", MaxAge: maxAge,
		SameSite: http.SameSiteStrictMode, Secure: s.isHTTPS(r),
	})
}

// isHTTPS tells whether the client reached us over TLS: directly, through a trusted proxy
// that says so, or by the public address, when PUBLIC_URL is https. The last is how a
// server behind a shared host's Apache knows: a proxy set up from .htaccess sends no
// X-Forwarded-Proto.
func (s *Server) isHTTPS(r *http.Request) bool {
	if r.TLS != nil || strings.HasPrefix(s.cfg.PublicURL, "https://") {
		return true
	}
	peer, viaSocket := remoteAddr(r)
	return (viaSocket || s.trusted(peer)) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// startSession creates a refresh family for a fresh sign-in and answers the pair.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *db.User, status int) error {
	family, refresh := db.NewID(), newOpaqueToken()
	if err := s.db.AddRefreshToken(r.Context(), u.ID, family, refresh, s.cfg.RefreshTokenTTL); err != nil {
		return internal(err)
	}
	p, err := s.issuePair(w, r, u, family, refresh)
	if err != nil {
		return err
	}
	writeJSON(w, status, p)
	return nil
}

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
	// Invitation is an invitation's token (from its link): needed when registration is
	// by invitation.
	Invitation string `json:"invitation,omitempty"`
}

func (s *Server) register(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	set, err := s.settings(r.Context())
	if err != nil {
		return internal(err)
	}
	if set.Registration == "closed" {
		return newError(db.CodeRegistrationClosed, "Registration is closed on this server; ask an administrator to create your account.")
	}
	var req registerRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	req.Invitation = strings.TrimSpace(req.Invitation)
	if set.Registration == "invite" && req.Invitation == "" {
		return newError(db.CodeInvitationRequired, "Registration on this server is by invitation only; open the invitation link an administrator sent you.")
	}
	req.Username, req.Email = strings.TrimSpace(req.Username), strings.TrimSpace(req.Email)
	if err := errors.Join(validUsername(req.Username), validEmail(req.Email), validPassword("password", req.Password)); err != nil {
		return mergeInvalid(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), s.bcryptCost())
	if err != nil {
		return internal(err)
	}
	// An invited account was let in by an administrator: it needs no approval.
	a := db.NewAccount{Username: req.Username, Email: req.Email, PasswordHash: string(hash), Invitation: req.Invitation,
		Unapproved: set.ApprovalRequired && req.Invitation == ""}
	u, err := s.db.Register(r.Context(), a)
	if db.CodeOf(err) == db.CodeInvitationInvalid && set.Registration == "open" {
		// Open sign-up needs no invitation: a stale link does not stand in the way.
		a.Invitation, a.Unapproved = "", set.ApprovalRequired
		u, err = s.db.Register(r.Context(), a)
	}
	switch code := db.CodeOf(err); {
	case err == nil:
	case code == db.CodeInvitationInvalid:
		return newError(code, "This invitation is unknown, used, revoked or expired; ask an administrator for a new one.")
	case code == db.CodeUsernameTaken:
		return newError(code, "That username is taken; choose another.")
	case code == db.CodeEmailTaken:
		return newError(code, "An account with that email already exists; sign in instead.")
	case code.Kind() == db.KindConflict:
		// Taken by a concurrent sign-up: the store cannot tell which of the two.
		return newError(code, "That username or email was just registered; choose another username, or sign in.")
	default:
		return internal(err)
	}
	s.log.InfoContext(r.Context(), "user registered", "user_id", u.ID, "admin", u.IsAdmin)
	s.audit(r, auditRegistered, u, u, map[string]any{"approved": u.Approved, "admin": u.IsAdmin})
	if a.Invitation != "" {
		s.audit(r, auditInviteUsed, u, u, nil)
	}
	return s.startSession(w, r, u, http.StatusCreated)
}

// mergeInvalid joins several field errors into one 422.
func mergeInvalid(err error) error {
	out := &apiError{Code: db.CodeInvalid}
	var msgs []string
	for _, e := range unwrapAll(err) {
		var ae *apiError
		if errors.As(e, &ae) {
			out.Fields = append(out.Fields, ae.Fields...)
			msgs = append(msgs, ae.Detail)
		}
	}
	out.Detail = strings.Join(msgs, " ")
	return out
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

type loginRequest struct {
	Username string `json:"username"`
	// UsernameOrEmail is the original service's own name for the same field: its
	// frontend and scripts send it.
	UsernameOrEmail string `json:"username_or_email"`
	Password        string `json:"password"`
}

// login accepts JSON and the OAuth2 password form that FastAPI clients send.
func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	var req loginRequest
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return jsonError(err)
		}
		req.Username, req.Password = r.PostForm.Get("username"), r.PostForm.Get("password")
	} else if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Username) == "" {
		req.Username = req.UsernameOrEmail
	}
	req.Username = strings.TrimSpace(req.Username)
	if req.Username == "" || req.Password == "" {
		return invalid("username", "Send username (or email) and password.")
	}
	ctx := r.Context()
	u, err := s.db.UserByLogin(ctx, req.Username)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return internal(err)
	}
	// An account is one key whether it is named by username or email; a name that is
	// no account is counted by name, so guessing at it costs the same.
	acct, addr := "acct:"+strings.ToLower(req.Username), "addr:"+s.clientIP(r).String()
	if u != nil {
		acct = accountKey(u.ID)
	}
	// Counted before the password is checked (as a failure, taken back on success), so
	// attempts sent at once cannot pass the limit.
	if wait := s.logins.attempt(ctx, acct, addr); wait > 0 {
		return &apiError{Code: db.CodeTooManyAttempts, RetryAfter: wait,
			Detail: "Too many failed sign-ins; wait " + roundUp(wait) + " and try again."}
	}
	ok := false
	if u != nil {
		ok = bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(req.Password)) == nil
	} else {
		// Same work as a real compare: an unknown user must not answer faster.
		_ = bcrypt.CompareHashAndPassword(s.dummy(), []byte(req.Password))
	}
	if !ok {
		// What was typed is kept only when it names an account: a name that is none may
		// be a password typed into the wrong field.
		detail := map[string]any{"reason": "unknown account"}
		if u != nil {
			detail = map[string]any{"reason": "wrong password"}
		}
		s.audit(r, auditLoginFailed, nil, u, detail)
		return newError(db.CodeBadCredentials, "Incorrect username or password.")
	}
	s.logins.succeeded(ctx, acct, addr)
	if u.Disabled {
		s.audit(r, auditLoginFailed, u, u, map[string]any{"reason": "disabled"})
		return newError(db.CodeAccountDisabled, "This account is disabled; contact the administrator.")
	}
	s.audit(r, auditLogin, u, u, nil)
	return s.startSession(w, r, u, http.StatusOK)
}

// accountKey is the throttle's key of an existing account.
func accountKey(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

func roundUp(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 120 {
		return strconv.Itoa(secs) + " seconds"
	}
	return strconv.Itoa((secs+59)/60) + " minutes"
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	writeJSON(w, http.StatusOK, toUserJSON(p.User))
	return nil
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refreshToken reads the refresh token from the body, else from the cookie.
// refreshToken reads the refresh token: from the JSON body (scripts), or from the
// refresh cookie, which is honoured only for the site's own pages: with
// X-Refresh-Cookie: 1 and a same-origin request (Sec-Fetch-Site, else Origin). A page
// of another origin, another port of the same host included (SameSite does not tell
// ports apart), cannot use the cookie to refresh or end a session.
func (s *Server) refreshToken(r *http.Request) (string, error) {
	var req refreshRequest
	if r.ContentLength != 0 && r.Header.Get("Content-Type") != "" {
		if err := decodeJSON(r, &req); err != nil {
			return "", err
		}
	}
	if req.RefreshToken != "" {
		return req.RefreshToken, nil
	}
	if c, err := r.Cookie(refreshCookie); err == nil && c.Value != "" {
		if !wantsCookie(r) || !s.sameOrigin(r) {
			return "", forbidden("The refresh cookie is honoured only for this site's own pages (X-Refresh-Cookie: 1 from the same origin); scripts send {\"refresh_token\": \"...\"}.")
		}
		return c.Value, nil
	}
	return "", unauthorized("Send the refresh token as {\"refresh_token\": \"...\"}.")
}

// sameOrigin reports whether a browser sent r from this site's own pages: the
// browser's Sec-Fetch-Site says so, or, from browsers without it, the Origin header is
// this site's (PUBLIC_URL's when set, else the scheme and host the request came to).
func (s *Server) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true
	case "":
	default: // same-site (another port or subdomain), cross-site, none
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	if s.cfg.PublicURL != "" {
		if u, err := url.Parse(s.cfg.PublicURL); err == nil {
			return strings.EqualFold(origin, u.Scheme+"://"+u.Host)
		}
		return false
	}
	scheme := "http"
	if s.isHTTPS(r) {
		scheme = "https"
	}
	return strings.EqualFold(origin, scheme+"://"+r.Host)
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	old, err := s.refreshToken(r)
	if err != nil {
		return err
	}
	next := newOpaqueToken()
	userID, family, err := s.db.RotateRefreshToken(r.Context(), old, next, s.cfg.RefreshTokenTTL)
	switch {
	case errors.Is(err, db.ErrTokenReused):
		s.log.WarnContext(r.Context(), "refresh token reuse: session family revoked", "client", s.clientIP(r).String())
		s.clearRefreshCookie(w, r)
		return newError(db.CodeTokenReused, "This refresh token was already used, so the session was ended for safety; sign in again.")
	case errors.Is(err, db.ErrNotFound):
		s.clearRefreshCookie(w, r)
		return unauthorized("The refresh token is invalid or expired; sign in again.")
	case err != nil:
		return internal(err)
	}
	u, err := s.db.UserByID(r.Context(), userID)
	if err != nil {
		return internal(err)
	}
	p, err := s.issuePair(w, r, u, family, next)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) clearRefreshCookie(w http.ResponseWriter, r *http.Request) {
	_, errRefresh := r.Cookie(refreshCookie)
	_, errFlag := r.Cookie(sessionFlagCookie)
	if errRefresh == nil || errFlag == nil {
		s.setRefreshCookie(w, r, "", -1)
	}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	token, err := s.refreshToken(r)
	if err != nil {
		return err
	}
	_, err = s.db.RevokeRefreshFamily(r.Context(), token)
	s.clearRefreshCookie(w, r)
	if errors.Is(err, db.ErrNotFound) {
		return unauthorized("The refresh token is invalid; nothing to sign out.")
	}
	if err != nil {
		return internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) logoutAll(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	if err := s.db.SignOutEverywhere(r.Context(), p.ID); err != nil {
		return internal(err)
	}
	s.clearRefreshCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword ends every other session at once (the token version moves on); the
// caller's own session survives through its refresh token.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	var req passwordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	acct := accountKey(p.ID)
	if wait := s.logins.attempt(r.Context(), acct, ""); wait > 0 {
		return &apiError{Code: db.CodeTooManyAttempts, RetryAfter: wait,
			Detail: "Too many wrong passwords; wait " + roundUp(wait) + " and try again."}
	}
	if bcrypt.CompareHashAndPassword([]byte(p.PasswordHash), []byte(req.CurrentPassword)) != nil {
		s.audit(r, auditLoginFailed, p.User, p.User, map[string]any{"reason": "wrong current password"})
		return invalid("current_password", "The current password is not correct.")
	}
	s.logins.succeeded(r.Context(), acct, "")
	if err := validPassword("new_password", req.NewPassword); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.NewPassword), s.bcryptCost())
	if err != nil {
		return internal(err)
	}
	if err := s.db.SetPassword(r.Context(), p.ID, string(hash), p.Session); err != nil {
		return internal(err)
	}
	s.audit(r, auditPasswordChanged, p.User, p.User, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
