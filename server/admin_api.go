package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/crypto/bcrypt"

	"nanobanana/db"
)

// The administration API under /api/v1/admin/: users, invitations, the queue of every
// user, settings and the audit log. The route table lets only administrators in
// (whoAdmin); every change here is written to the audit log.

// adminUserJSON is an account as administrators see it.
type adminUserJSON struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	IsAdmin   bool      `json:"is_admin"`
	Disabled  bool      `json:"disabled"`
	Approved  bool      `json:"approved"`
	HasAPIKey bool      `json:"has_api_key"`
	CreatedAt time.Time `json:"created_at"`
}

func toAdminUser(u *db.User) adminUserJSON {
	return adminUserJSON{ID: u.ID, Username: u.Username, Email: u.Email, IsAdmin: u.IsAdmin, Disabled: u.Disabled,
		Approved: u.Approved, HasAPIKey: u.HasAPIKey, CreatedAt: u.CreatedAt}
}

type adminUserList struct {
	Items      []adminUserJSON `json:"items"`
	NextCursor string          `json:"next_cursor"`
}

// userID reads the :id of a user route; anything but a positive integer is no user.
func userID(ps httprouter.Params) (int64, error) {
	id, err := strconv.ParseInt(ps.ByName("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound("No user with id " + strconv.Quote(ps.ByName("id")) + ".")
	}
	return id, nil
}

// subject loads the user a route names.
func (s *Server) subject(ctx context.Context, ps httprouter.Params) (*db.User, error) {
	id, err := userID(ps)
	if err != nil {
		return nil, err
	}
	u, err := s.db.UserByID(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, notFound("No user with id " + strconv.FormatInt(id, 10) + ".")
	}
	if err != nil {
		return nil, internal(err)
	}
	return u, nil
}

// queryLimit reads ?limit= (0 when absent).
func queryLimit(r *http.Request, most int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, invalid("limit", "limit must be a whole number from 1 to "+strconv.Itoa(most)+".")
	}
	return n, nil
}

func cursorError(err error) error {
	if errors.Is(err, db.ErrInvalidCursor) {
		return newError(db.CodeInvalidCursor, "This cursor was not given out by this list; start again without it.")
	}
	return internal(err)
}

func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	limit, err := queryLimit(r, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	users, next, err := s.db.SearchUsers(r.Context(), db.UserFilter{Query: strings.TrimSpace(q.Get("q")), Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return cursorError(err)
	}
	out := adminUserList{Items: make([]adminUserJSON, 0, len(users)), NextCursor: next}
	for i := range users {
		out.Items = append(out.Items, toAdminUser(&users[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type disabledRequest struct {
	Disabled *bool `json:"disabled"`
}
type adminRequest struct {
	Admin *bool `json:"admin"`
}
type approvedRequest struct {
	Approved *bool `json:"approved"`
}

// userDisabler stops a disabled user's work at Replicate too (jobs.Service).
type userDisabler interface {
	DisableUser(ctx context.Context, userID int64) error
}

// adminSetDisabled disables or enables an account. Disabling ends its sessions at once
// (the token version moves and its refresh families are revoked, in every process),
// cancels its waiting generations and stops its running ones.
func (s *Server) adminSetDisabled(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	var req disabledRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Disabled == nil {
		return invalid("disabled", "Send {\"disabled\": true} or {\"disabled\": false}.")
	}
	u, err := s.subject(r.Context(), ps)
	if err != nil {
		return err
	}
	if *req.Disabled && u.ID == p.ID {
		return newError(db.CodeLastAdmin, "You cannot disable your own account; another administrator can.")
	}
	switch d, ok := s.queue.(userDisabler); {
	case !*req.Disabled:
		_, err = s.db.SetDisabled(r.Context(), u.ID, false)
	case ok:
		err = d.DisableUser(r.Context(), u.ID)
	default:
		_, err = s.db.SetDisabled(r.Context(), u.ID, true)
	}
	if err != nil {
		return internal(err)
	}
	action := auditUserEnabled
	if *req.Disabled {
		action = auditUserDisabled
	}
	s.audit(r, action, p.User, u, nil)
	return s.answerUser(w, r, u.ID)
}

func (s *Server) answerUser(w http.ResponseWriter, r *http.Request, id int64) error {
	u, err := s.db.UserByID(r.Context(), id)
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, toAdminUser(u))
	return nil
}

func (s *Server) adminSetAdmin(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	var req adminRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Admin == nil {
		return invalid("admin", "Send {\"admin\": true} or {\"admin\": false}.")
	}
	u, err := s.subject(r.Context(), ps)
	if err != nil {
		return err
	}
	switch err := s.db.SetAdmin(r.Context(), u.ID, *req.Admin); {
	case db.CodeOf(err) == db.CodeLastAdmin:
		return newError(db.CodeLastAdmin, "This is the last enabled administrator; make another account an administrator first.")
	case err != nil:
		return internal(err)
	}
	action := auditAdminRemoved
	if *req.Admin {
		action = auditAdminGranted
	}
	s.audit(r, action, p.User, u, nil)
	return s.answerUser(w, r, u.ID)
}

func (s *Server) adminSetApproved(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	var req approvedRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Approved == nil {
		return invalid("approved", "Send {\"approved\": true} or {\"approved\": false}.")
	}
	u, err := s.subject(r.Context(), ps)
	if err != nil {
		return err
	}
	if err := s.db.SetApproved(r.Context(), u.ID, *req.Approved); err != nil {
		return internal(err)
	}
	action := auditUserUnapproved
	if *req.Approved {
		action = auditUserApproved
	}
	s.audit(r, action, p.User, u, nil)
	return s.answerUser(w, r, u.ID)
}

type resetPasswordRequest struct {
	// Password is the new password; empty: the server makes a one-time one and answers it.
	Password string `json:"password"`
}

type resetPasswordJSON struct {
	// Password is the one the server made (answered once, never stored in clear);
	// absent when the administrator chose it.
	Password string `json:"password,omitempty"`
}

// adminResetPassword sets a user's password and ends every session of the user.
func (s *Server) adminResetPassword(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	var req resetPasswordRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
	}
	u, err := s.subject(r.Context(), ps)
	if err != nil {
		return err
	}
	made := ""
	if req.Password == "" {
		made = oneTimePassword()
		req.Password = made
	} else if err := validPassword("password", req.Password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), s.bcryptCost())
	if err != nil {
		return internal(err)
	}
	if err := s.db.SetPassword(r.Context(), u.ID, string(hash), ""); err != nil {
		return internal(err)
	}
	s.audit(r, auditPasswordReset, p.User, u, map[string]any{"generated": made != ""})
	writeJSON(w, http.StatusOK, resetPasswordJSON{Password: made})
	return nil
}

// oneTimePassword is 16 characters a person can read out and type (no 0/O, 1/l/I).
func oneTimePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

// Invitations.

type invitationRequest struct {
	// ExpiresInHours is how long the link is good for: 1 to 8760 (a year); default 72.
	ExpiresInHours int    `json:"expires_in_hours"`
	Note           string `json:"note"`
}

type invitationJSON struct {
	ID        int64      `json:"id"`
	Note      string     `json:"note"`
	State     string     `json:"state" enum:"open,used,revoked,expired"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at"`
	UsedBy    string     `json:"used_by"`
	// Token and URL are answered once, when the invitation is made: only its hash is kept.
	Token string `json:"token,omitempty"`
	URL   string `json:"url,omitempty"`
}

type invitationList struct {
	Items []invitationJSON `json:"items"`
}

func (s *Server) toInvitationJSON(i *db.Invitation) invitationJSON {
	out := invitationJSON{ID: i.ID, Note: i.Note, State: i.State(s.now()), CreatedBy: i.CreatedByName,
		CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt, UsedBy: i.UsedByName}
	if !i.UsedAt.IsZero() {
		t := i.UsedAt
		out.UsedAt = &t
	}
	return out
}

// siteURL is where people reach this site: PUBLIC_URL, else the request's own address.
func (s *Server) siteURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if s.isHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) createInvitation(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	var req invitationRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
	}
	if req.ExpiresInHours == 0 {
		req.ExpiresInHours = 72
	}
	if req.ExpiresInHours < 1 || req.ExpiresInHours > 8760 {
		return invalid("expires_in_hours", "expires_in_hours must be from 1 to 8760 (a year).")
	}
	req.Note = strings.TrimSpace(req.Note)
	if len(req.Note) > 200 {
		return invalid("note", "The note must be at most 200 bytes.")
	}
	token := newOpaqueToken()
	inv, err := s.db.CreateInvitation(r.Context(), db.Invitation{Note: req.Note, CreatedBy: p.ID,
		ExpiresAt: s.now().Add(time.Duration(req.ExpiresInHours) * time.Hour)}, token)
	if err != nil {
		return internal(err)
	}
	s.audit(r, auditInviteCreated, p.User, nil, map[string]any{"invitation": inv.ID, "expires_at": inv.ExpiresAt, "note": inv.Note})
	out := s.toInvitationJSON(inv)
	out.Token, out.URL = token, s.siteURL(r)+"/#/invite/"+token
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	invs, err := s.db.Invitations(r.Context(), 200)
	if err != nil {
		return internal(err)
	}
	out := invitationList{Items: make([]invitationJSON, 0, len(invs))}
	for i := range invs {
		out.Items = append(out.Items, s.toInvitationJSON(&invs[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := strconv.ParseInt(ps.ByName("id"), 10, 64)
	if err != nil || id <= 0 {
		return notFound("No invitation with id " + strconv.Quote(ps.ByName("id")) + ".")
	}
	switch err := s.db.RevokeInvitation(r.Context(), id); {
	case errors.Is(err, db.ErrNotFound):
		return notFound("No invitation with id " + strconv.FormatInt(id, 10) + ".")
	case db.CodeOf(err) == db.CodeConflict:
		return newError(db.CodeConflict, "This invitation was used already; disable the account instead if it must not be used.")
	case err != nil:
		return internal(err)
	}
	s.audit(r, auditInviteRevoked, p.User, nil, map[string]any{"invitation": id})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// The queue of every user.

type adminQueueItem struct {
	ID         string     `json:"id"`
	UserID     int64      `json:"user_id"`
	Username   string     `json:"username"`
	Status     string     `json:"status" enum:"pending,running"`
	Prompt     string     `json:"prompt"`
	Resolution string     `json:"resolution"`
	Attempts   int        `json:"attempts"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	AgeSeconds int64      `json:"age_seconds"`
}

type adminQueueJSON struct {
	Paused bool             `json:"paused"`
	Items  []adminQueueItem `json:"items"`
}

func (s *Server) adminQueue(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	set, err := s.settings(r.Context())
	if err != nil {
		return internal(err)
	}
	entries, err := s.db.QueueOfAll(r.Context(), 500)
	if err != nil {
		return internal(err)
	}
	now := s.now()
	out := adminQueueJSON{Paused: set.QueuePaused, Items: make([]adminQueueItem, 0, len(entries))}
	for _, e := range entries {
		it := adminQueueItem{ID: e.GenerationID, UserID: e.UserID, Username: e.Username, Status: e.Status, Prompt: e.Prompt,
			Resolution: e.Resolution, Attempts: e.Attempts, CreatedAt: e.CreatedAt, AgeSeconds: int64(now.Sub(e.CreatedAt) / time.Second)}
		if !e.StartedAt.IsZero() {
			t := e.StartedAt
			it.StartedAt = &t
		}
		out.Items = append(out.Items, it)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// adminCancel cancels any user's pending or running generation (at Replicate too).
func (s *Server) adminCancel(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := genID(ps)
	if err != nil {
		return err
	}
	g, err := s.db.GenerationForJob(r.Context(), id)
	if err != nil {
		return genError(id, err)
	}
	if s.queue != nil {
		g, err = s.queue.Cancel(r.Context(), g.UserID, id)
	} else {
		var out *db.CancelOutcome
		if out, err = s.db.CancelGeneration(r.Context(), g.UserID, id); err == nil {
			g = out.Generation
		}
	}
	if err != nil {
		return genError(id, err)
	}
	owner := &db.User{ID: g.UserID}
	if u, err := s.db.UserByID(r.Context(), g.UserID); err == nil {
		owner = u
	}
	s.audit(r, auditGenCanceled, p.User, owner, map[string]any{"generation": id})
	s.writeGeneration(w, http.StatusOK, g)
	return nil
}

// pauseAll holds or releases all work of every user (the queue_paused setting).
func (s *Server) pauseAll(paused bool) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
		raw, _ := json.Marshal(paused)
		if err := s.db.PutSetting(r.Context(), SettingQueuePaused, raw, p.ID); err != nil {
			return internal(err)
		}
		action := auditQueueResumed
		if paused {
			action = auditQueuePaused
		}
		s.audit(r, action, p.User, nil, nil)
		if n, ok := s.queue.(interface{ Notify() }); ok && !paused {
			n.Notify() // workers look for work at once
		}
		return s.adminQueue(w, r, p, nil)
	}
}

// Settings.

type settingsJSON struct {
	Settings map[string]SettingValue `json:"settings"`
}

func (s *Server) adminSettings(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	set, err := s.settings(r.Context())
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, settingsJSON{Settings: set.All})
	return nil
}

// putSettings stores each key of the body, after every value passed its key's check
// (CheckSetting): one bad value stores nothing.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	var req map[string]json.RawMessage
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req) == 0 {
		return invalid("settings", "Send the settings to change as {\"key\": value, ...}.")
	}
	keys := make([]string, 0, len(req))
	bad := &apiError{Code: db.CodeInvalid}
	for k, v := range req {
		keys = append(keys, k)
		if err := CheckSetting(k, v); err != nil {
			bad.Fields = append(bad.Fields, fieldError{k, k + ": " + err.Error() + "."})
		}
	}
	if len(bad.Fields) > 0 {
		slices.SortFunc(bad.Fields, func(a, b fieldError) int { return strings.Compare(a.Field, b.Field) })
		msgs := make([]string, len(bad.Fields))
		for i, f := range bad.Fields {
			msgs[i] = f.Message
		}
		bad.Detail = "Nothing was changed: " + strings.Join(msgs, " ")
		return bad
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := s.db.PutSetting(r.Context(), k, req[k], p.ID); err != nil {
			return internal(err)
		}
		s.audit(r, auditSettingChanged, p.User, nil, map[string]any{"key": k, "value": req[k]})
	}
	return s.adminSettings(w, r, p, ps)
}

func (s *Server) deleteSetting(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	key := ps.ByName("key")
	if _, ok := settingDefs[key]; !ok {
		return notFound("There is no setting " + strconv.Quote(key) + ".")
	}
	if err := s.db.DeleteSetting(r.Context(), key); err != nil {
		return internal(err)
	}
	s.audit(r, auditSettingReset, p.User, nil, map[string]any{"key": key})
	return s.adminSettings(w, r, p, ps)
}

// The audit log.

type auditEntryJSON struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	Action    string          `json:"action"`
	ActorID   *int64          `json:"actor_id"`
	Actor     string          `json:"actor"`
	SubjectID *int64          `json:"subject_id"`
	Subject   string          `json:"subject"`
	Client    string          `json:"client"`
	Detail    json.RawMessage `json:"detail"`
}

type auditList struct {
	Items      []auditEntryJSON `json:"items"`
	NextCursor string           `json:"next_cursor"`
	Actions    []string         `json:"actions"`
}

// auditTime reads ?from= or ?to=: RFC 3339, or a date (YYYY-MM-DD, UTC midnight).
func auditTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, invalid(name, name+" must be a time such as 2026-01-31T12:00:00Z or a date such as 2026-01-31.")
}

func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	limit, err := queryLimit(r, 200)
	if err != nil {
		return err
	}
	from, err := auditTime(r, "from")
	if err != nil {
		return err
	}
	to, err := auditTime(r, "to")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	entries, next, err := s.db.AuditLog(r.Context(), db.AuditFilter{Actor: strings.TrimSpace(q.Get("actor")),
		Subject: strings.TrimSpace(q.Get("subject")), Action: strings.TrimSpace(q.Get("action")),
		From: from, To: to, Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return cursorError(err)
	}
	out := auditList{Items: make([]auditEntryJSON, 0, len(entries)), NextCursor: next, Actions: auditActions}
	for _, e := range entries {
		j := auditEntryJSON{ID: e.ID, At: e.At, Action: e.Action, Actor: e.Actor, Subject: e.Subject, Client: e.Client, Detail: e.Detail}
		if e.ActorID != 0 {
			id := e.ActorID
			j.ActorID = &id
		}
		if e.SubjectID != 0 {
			id := e.SubjectID
			j.SubjectID = &id
		}
		out.Items = append(out.Items, j)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
