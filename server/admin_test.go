package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"nanobanana/db"
)

// setSettings stores settings as an administrator, failing the test on a refusal.
func (ts *testServer) setSettings(t testing.TB, admin string, kv map[string]any) {
	t.Helper()
	if r := ts.do(t, call{Method: "PUT", Path: "/api/v1/admin/settings", Token: admin, Body: kv}); r.Status != 200 {
		t.Fatalf("settings %v: %d %s", kv, r.Status, r.Body)
	}
}

func signUp(name, invitation string) map[string]string {
	return map[string]string{"username": name, "email": name + "@example.com", "password": "password-" + name, "invitation": invitation}
}

// invite makes an invitation and answers its token.
func (ts *testServer) invite(t testing.TB, admin string, hours int) (token string, id int64) {
	t.Helper()
	r := ts.do(t, call{Method: "POST", Path: "/api/v1/admin/invitations", Token: admin, Body: map[string]any{"expires_in_hours": hours, "note": "test"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	token = m["token"].(string)
	if !strings.HasSuffix(m["url"].(string), "/#/invite/"+token) || m["state"] != "open" {
		t.Fatalf("invitation answer: %s", r.Body)
	}
	return token, int64(m["id"].(float64))
}

// Registration modes: open lets anyone in; invite only with a valid invitation, used
// once, until it expires or is revoked; closed lets no one in, invitation or not.
func TestRegistrationModesAndInvitations(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.register(t, "admin")
	ts.setSettings(t, admin.Access, map[string]any{"registration": "invite"})
	if m := ts.do(t, call{Method: "GET", Path: "/api/v1/meta"}).JSON(t); m["registration"] != "invite" || m["registration_open"] != true {
		t.Fatalf("meta in invite mode: %v", m)
	}
	reg := func(name, inv string) reply {
		return ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: signUp(name, inv)})
	}
	if r := reg("walkin", ""); r.Status != 403 || r.Code(t) != db.CodeInvitationRequired {
		t.Fatalf("invite mode without an invitation: %d %s", r.Status, r.Body)
	}
	if r := reg("forger", "not-a-real-invitation"); r.Status != 403 || r.Code(t) != db.CodeInvitationInvalid {
		t.Fatalf("invite mode with a made-up invitation: %d %s", r.Status, r.Body)
	}
	tok, _ := ts.invite(t, admin.Access, 72)
	if r := reg("ann", tok); r.Status != 201 {
		t.Fatalf("sign-up with the invitation: %d %s", r.Status, r.Body)
	}
	if r := reg("ann2", tok); r.Status != 403 || r.Code(t) != db.CodeInvitationInvalid {
		t.Fatalf("the invitation used twice: %d %s", r.Status, r.Body)
	}
	// Expired: its time is moved into the past.
	old, oldID := ts.invite(t, admin.Access, 1)
	if err := ts.DB.Raw(context.Background(), `UPDATE invitations SET expires_at = 1 WHERE id = ?`, []any{oldID}); err != nil {
		t.Fatal(err)
	}
	if r := reg("late", old); r.Status != 403 || r.Code(t) != db.CodeInvitationInvalid {
		t.Fatalf("an expired invitation: %d %s", r.Status, r.Body)
	}
	// Revoked.
	gone, goneID := ts.invite(t, admin.Access, 72)
	if r := ts.do(t, call{Method: "DELETE", Path: fmt.Sprint("/api/v1/admin/invitations/", goneID), Token: admin.Access}); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := reg("revoked", gone); r.Status != 403 || r.Code(t) != db.CodeInvitationInvalid {
		t.Fatalf("a revoked invitation: %d %s", r.Status, r.Body)
	}
	list := ts.do(t, call{Method: "GET", Path: "/api/v1/admin/invitations", Token: admin.Access}).JSON(t)["items"].([]any)
	states := map[string]int{}
	for _, it := range list {
		m := it.(map[string]any)
		states[m["state"].(string)]++
		if _, ok := m["token"]; ok {
			t.Errorf("the list shows an invitation's token: %v", m)
		}
	}
	if states["used"] != 1 || states["expired"] != 1 || states["revoked"] != 1 {
		t.Fatalf("invitation states: %v", states)
	}

	// Closed: no one, not even with a good invitation.
	tok, _ = ts.invite(t, admin.Access, 72)
	ts.setSettings(t, admin.Access, map[string]any{"registration": "closed"})
	if r := reg("closedout", tok); r.Status != 403 || r.Code(t) != db.CodeRegistrationClosed {
		t.Fatalf("closed with an invitation: %d %s", r.Status, r.Body)
	}
	// Back to the environment's value (open).
	r := ts.do(t, call{Method: "DELETE", Path: "/api/v1/admin/settings/registration", Token: admin.Access})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"registration":{"value":"open","source":"environment"}`) {
		t.Fatalf("reset registration: %d %s", r.Status, r.Body)
	}
	if r := reg("opendoor", ""); r.Status != 201 {
		t.Fatalf("open again: %d %s", r.Status, r.Body)
	}
}

// REGISTRATION from the environment: invite mode from the start, and the old
// ALLOW_REGISTRATION=false still closes.
func TestRegistrationFromTheEnvironment(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(o *Options) { o.Config.Registration = "invite" })
	r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: signUp("first", "")})
	if r.Status != 403 || r.Code(t) != db.CodeInvitationRequired {
		t.Fatalf("REGISTRATION=invite: %d %s", r.Status, r.Body)
	}
	closed := newTestServer(t, func(o *Options) { o.Config.AllowRegistration = false })
	if r := closed.do(t, call{Method: "GET", Path: "/api/v1/meta"}).JSON(t); r["registration"] != "closed" || r["registration_open"] != false {
		t.Fatalf("ALLOW_REGISTRATION=false: %v", r)
	}
}

// approval_required: a new account may not spend the shared token until approved; its
// own key works; an invited account is approved by its invitation.
func TestApprovalGate(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	admin := p.register(t, "admin")
	p.setSettings(t, admin.Access, map[string]any{"approval_required": true})
	newbie := p.register(t, "newbie")
	body := map[string]any{"prompt": "a lamp", "resolution": "1K"}
	r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: newbie.Access, Body: body})
	if r.Status != 403 || r.Code(t) != db.CodeNotApproved || !strings.Contains(r.Detail(t), "own key") {
		t.Fatalf("unapproved generate: %d %s", r.Status, r.Body)
	}
	users := p.do(t, call{Method: "GET", Path: "/api/v1/admin/users?q=newb", Token: admin.Access}).JSON(t)["items"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["approved"] != false {
		t.Fatalf("admin list: %v", users)
	}
	// Its own key works at once.
	withKey := p.register(t, "withkey")
	if r := p.do(t, call{Method: "PUT", Path: "/api/v1/users/api-key", Token: withKey.Access, Body: map[string]string{"api_key": "r8_own-key-of-withkey"}}); r.Status != 200 {
		t.Fatalf("save key: %d %s", r.Status, r.Body)
	}
	p.generate(t, withKey.Access, body)
	// Invited: approved.
	tok, _ := p.invite(t, admin.Access, 24)
	inv := p.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: signUp("invited", tok)})
	if inv.Status != 201 {
		t.Fatalf("invited sign-up: %d %s", inv.Status, inv.Body)
	}
	p.generate(t, inv.JSON(t)["access_token"].(string), body)
	// Approved: the shared token is its.
	if r := p.do(t, call{Method: "PUT", Path: fmt.Sprint("/api/v1/admin/users/approved/", newbie.ID), Token: admin.Access, Body: map[string]bool{"approved": true}}); r.Status != 200 || r.JSON(t)["approved"] != true {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	p.generate(t, newbie.Access, body)
}

// Disabling a user through the API ends its sessions at once: its access token and its
// refresh token are refused at their next use; enabling lets it sign in again.
func TestAdminDisableEndsSessionsAtOnce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.register(t, "admin")
	bob := ts.register(t, "bob")
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: bob.Access}); r.Status != 200 {
		t.Fatalf("before: %d", r.Status)
	}
	r := ts.do(t, call{Method: "PUT", Path: fmt.Sprint("/api/v1/admin/users/disabled/", bob.ID), Token: admin.Access, Body: map[string]bool{"disabled": true}})
	if r.Status != 200 || r.JSON(t)["disabled"] != true {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: bob.Access}); r.Status != 401 || r.Code(t) != db.CodeSessionEnded {
		t.Fatalf("the disabled user's token: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": bob.Refresh}}); r.Status != 401 {
		t.Fatalf("the disabled user's refresh: %d %s", r.Status, r.Body)
	}
	login := map[string]string{"username": "bob", "password": "password-bob"}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: login}); r.Status != 403 || r.Code(t) != db.CodeAccountDisabled {
		t.Fatalf("the disabled user signs in: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "PUT", Path: fmt.Sprint("/api/v1/admin/users/disabled/", admin.ID), Token: admin.Access, Body: map[string]bool{"disabled": true}}); r.Status != 409 {
		t.Fatalf("an admin disables itself: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "PUT", Path: fmt.Sprint("/api/v1/admin/users/disabled/", bob.ID), Token: admin.Access, Body: map[string]bool{"disabled": false}}); r.Status != 200 {
		t.Fatalf("enable: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: login}); r.Status != 200 {
		t.Fatalf("sign-in after enable: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "PUT", Path: "/api/v1/admin/users/disabled/999999", Token: admin.Access, Body: map[string]bool{"disabled": true}}); r.Status != 404 {
		t.Fatalf("an unknown user: %d %s", r.Status, r.Body)
	}
}

// The admin flag: granted and removed, never from the last administrator; a removed
// administrator is refused the admin routes at its next request.
func TestAdminFlagAndLastAdmin(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.register(t, "admin")
	carol := ts.register(t, "carol")
	path := func(id int64) string { return fmt.Sprint("/api/v1/admin/users/admin/", id) }
	if r := ts.do(t, call{Method: "PUT", Path: path(admin.ID), Token: admin.Access, Body: map[string]bool{"admin": false}}); r.Status != 409 || r.Code(t) != db.CodeLastAdmin {
		t.Fatalf("removing the last admin: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "PUT", Path: path(carol.ID), Token: admin.Access, Body: map[string]bool{"admin": true}}); r.Status != 200 || r.JSON(t)["is_admin"] != true {
		t.Fatalf("grant: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/admin/users", Token: carol.Access}); r.Status != 200 {
		t.Fatalf("the new admin: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "PUT", Path: path(admin.ID), Token: carol.Access, Body: map[string]bool{"admin": false}}); r.Status != 200 {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/admin/users", Token: admin.Access}); r.Status != 403 {
		t.Fatalf("the removed admin: %d %s", r.Status, r.Body)
	}
}

// A password reset by an administrator: a one-time password is answered once, works,
// and every session of the user ended; a chosen one is checked.
func TestAdminResetPassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.register(t, "admin")
	dave := ts.register(t, "dave")
	r := ts.do(t, call{Method: "POST", Path: fmt.Sprint("/api/v1/admin/users/password/", dave.ID), Token: admin.Access})
	pw, _ := r.JSON(t)["password"].(string)
	if r.Status != 200 || len(pw) != 16 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: dave.Access}); r.Status != 401 {
		t.Fatalf("the old session after a reset: %d", r.Status)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "dave", "password": pw}}); r.Status != 200 {
		t.Fatalf("sign-in with the one-time password: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "POST", Path: fmt.Sprint("/api/v1/admin/users/password/", dave.ID), Token: admin.Access, Body: map[string]string{"password": "short"}}); r.Status != 422 {
		t.Fatalf("a short chosen password: %d %s", r.Status, r.Body)
	}
}

// Settings: each value is checked by its key, one bad value stores nothing, and each
// shows its source.
func TestAdminSettingsValidateAndShowTheirSource(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.register(t, "admin")
	r := ts.do(t, call{Method: "PUT", Path: "/api/v1/admin/settings", Token: admin.Access,
		Body: map[string]any{"registration": "sometimes", "approval_required": true, "nonsense": 1}})
	if r.Status != 422 || len(r.JSON(t)["fields"].([]any)) != 2 {
		t.Fatalf("bad settings: %d %s", r.Status, r.Body)
	}
	got := ts.do(t, call{Method: "GET", Path: "/api/v1/admin/settings", Token: admin.Access}).JSON(t)["settings"].(map[string]any)
	if a := got["approval_required"].(map[string]any); a["source"] != "environment" || a["value"] != false {
		t.Fatalf("a refused batch stored something: %v", a)
	}
	ts.setSettings(t, admin.Access, map[string]any{"approval_required": true, "audit_retention_days": 30})
	got = ts.do(t, call{Method: "GET", Path: "/api/v1/admin/settings", Token: admin.Access}).JSON(t)["settings"].(map[string]any)
	if a := got["audit_retention_days"].(map[string]any); a["source"] != "stored" || a["value"] != 30.0 {
		t.Fatalf("stored: %v", a)
	}
	if r := ts.do(t, call{Method: "DELETE", Path: "/api/v1/admin/settings/nonsense", Token: admin.Access}); r.Status != 404 {
		t.Fatalf("reset of no setting: %d %s", r.Status, r.Body)
	}
}

// The audit log: an entry for each kind of event, with actor, subject and client
// address; filters; and never a secret.
func TestAuditLogRecordsEventsWithoutSecrets(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.register(t, "admin")
	eve := ts.register(t, "eve")
	do := func(c call, want int) {
		t.Helper()
		if r := ts.do(t, c); r.Status != want {
			t.Fatalf("%s %s: %d %s", c.Method, c.Path, r.Status, r.Body)
		}
	}
	const apiKey = "r8_secret-key-of-eve-123456"
	do(call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "eve", "password": "wrong-password-9"}}, 401)
	// A password typed into the name field is not written down either.
	do(call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "typed-password-77", "password": "x"}}, 401)
	do(call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "eve", "password": "password-eve"}}, 200)
	do(call{Method: "PUT", Path: "/api/v1/users/api-key", Token: eve.Access, Body: map[string]string{"api_key": apiKey}}, 200)
	do(call{Method: "DELETE", Path: "/api/v1/users/api-key", Token: eve.Access}, 204)
	do(call{Method: "PUT", Path: "/api/v1/auth/password", Token: eve.Access, Body: map[string]string{"current_password": "password-eve", "new_password": "new-password-of-eve"}}, 204)
	inv, _ := ts.invite(t, admin.Access, 24)
	do(call{Method: "POST", Path: "/api/v1/auth/register", Body: signUp("frank", inv)}, 201)
	user := fmt.Sprint(eve.ID)
	do(call{Method: "PUT", Path: "/api/v1/admin/users/disabled/" + user, Token: admin.Access, Body: map[string]bool{"disabled": true}}, 200)
	do(call{Method: "PUT", Path: "/api/v1/admin/users/disabled/" + user, Token: admin.Access, Body: map[string]bool{"disabled": false}}, 200)
	do(call{Method: "PUT", Path: "/api/v1/admin/users/admin/" + user, Token: admin.Access, Body: map[string]bool{"admin": true}}, 200)
	do(call{Method: "PUT", Path: "/api/v1/admin/users/admin/" + user, Token: admin.Access, Body: map[string]bool{"admin": false}}, 200)
	do(call{Method: "PUT", Path: "/api/v1/admin/users/approved/" + user, Token: admin.Access, Body: map[string]bool{"approved": false}}, 200)
	do(call{Method: "POST", Path: "/api/v1/admin/users/password/" + user, Token: admin.Access, Body: map[string]string{"password": "reset-password-of-eve"}}, 200)
	do(call{Method: "PUT", Path: "/api/v1/admin/settings", Token: admin.Access, Body: map[string]any{"approval_required": true}}, 200)
	do(call{Method: "DELETE", Path: "/api/v1/admin/settings/approval_required", Token: admin.Access}, 200)
	do(call{Method: "PUT", Path: "/api/v1/admin/limits/" + user, Token: admin.Access, Body: map[string]any{"day_usd": 1.5, "month_images": 40}}, 200)
	do(call{Method: "POST", Path: "/api/v1/admin/queue/pause", Token: admin.Access}, 200)
	do(call{Method: "POST", Path: "/api/v1/admin/queue/resume", Token: admin.Access}, 200)

	var all []map[string]any
	var raw strings.Builder
	cursor := ""
	for range 20 {
		r := ts.do(t, call{Method: "GET", Path: "/api/v1/admin/audit?limit=5&cursor=" + cursor, Token: admin.Access})
		raw.Write(r.Body)
		m := r.JSON(t)
		for _, it := range m["items"].([]any) {
			all = append(all, it.(map[string]any))
		}
		if cursor, _ = m["next_cursor"].(string); cursor == "" {
			break
		}
	}
	seen := map[string]map[string]any{}
	for _, e := range all {
		seen[e["action"].(string)] = e
		if e["client"] != "127.0.0.1" {
			t.Errorf("entry without the client's address: %v", e)
		}
	}
	for _, a := range []string{auditLogin, auditLoginFailed, auditPasswordChanged, auditRegistered, auditKeySaved, auditKeyRemoved,
		auditInviteCreated, auditInviteUsed, auditUserDisabled, auditUserEnabled, auditAdminGranted, auditAdminRemoved,
		auditUserUnapproved, auditPasswordReset, auditSettingChanged, auditSettingReset, auditQueuePaused, auditQueueResumed, auditLimitsSet} {
		if seen[a] == nil {
			t.Errorf("no audit entry %s", a)
		}
	}
	if e := seen[auditUserDisabled]; e != nil && (e["actor"] != "admin" || e["subject"] != "eve") {
		t.Errorf("disable entry: %v", e)
	}
	if e := seen[auditInviteUsed]; e != nil && e["subject"] != "frank" {
		t.Errorf("invitation entry: %v", e)
	}
	for _, secret := range []string{"password-eve", "new-password-of-eve", "reset-password-of-eve", "wrong-password-9", "typed-password-77", apiKey, inv, eve.Access, eve.Refresh} {
		if strings.Contains(raw.String(), secret) {
			t.Errorf("the audit log holds a secret: %q", secret)
		}
	}
	// Filters.
	q := url.Values{"actor": {"ADMIN"}, "subject": {"eve"}, "action": {auditUserDisabled}}
	r := ts.do(t, call{Method: "GET", Path: "/api/v1/admin/audit?" + q.Encode(), Token: admin.Access})
	items := r.JSON(t)["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("filtered: %s", r.Body)
	}
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/admin/audit?from=2000-01-01&to=2000-01-02", Token: admin.Access}); len(r.JSON(t)["items"].([]any)) != 0 {
		t.Fatalf("a window with nothing: %s", r.Body)
	}
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/admin/audit?from=yesterday", Token: admin.Access}); r.Status != 422 {
		t.Fatalf("a bad from: %d", r.Status)
	}
	var detail map[string]any
	if err := json.Unmarshal(mustJSON(t, seen[auditSettingChanged]["detail"]), &detail); err != nil || detail["key"] != "approval_required" {
		t.Fatalf("settings entry's detail: %v %v", detail, err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The queue of every user: an administrator sees another user's waiting generation
// with its user, age and attempts, cancels it, and pauses and resumes all work.
func TestAdminQueue(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	admin := p.register(t, "admin")
	gina := p.register(t, "gina")
	r := p.do(t, call{Method: "POST", Path: "/api/v1/admin/queue/pause", Token: admin.Access})
	if r.Status != 200 || r.JSON(t)["paused"] != true {
		t.Fatalf("pause: %d %s", r.Status, r.Body)
	}
	g := p.generate(t, gina.Access, map[string]any{"prompt": "a waiting boat", "resolution": "1K"})
	id := g["id"].(string)
	q := p.do(t, call{Method: "GET", Path: "/api/v1/admin/queue", Token: admin.Access}).JSON(t)
	items := q["items"].([]any)
	found := false
	for _, it := range items {
		m := it.(map[string]any)
		if m["id"] == id {
			// Paused: the claim takes nothing, so it waits.
			found = m["username"] == "gina" && m["status"] == "pending" && m["attempts"] == 0.0 && m["age_seconds"] != nil
		}
	}
	if !found {
		t.Fatalf("gina's generation in the admin queue: %v", q)
	}
	r = p.do(t, call{Method: "POST", Path: "/api/v1/admin/queue/cancel/" + id, Token: admin.Access})
	if r.Status != 200 || r.JSON(t)["status"] != "canceled" {
		t.Fatalf("admin cancel: %d %s", r.Status, r.Body)
	}
	if st := p.do(t, call{Method: "GET", Path: "/api/v1/images/status/" + id, Token: gina.Access}).JSON(t)["status"]; st != "canceled" {
		t.Fatalf("gina sees %v", st)
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/admin/queue/cancel/" + anID, Token: admin.Access}); r.Status != 404 {
		t.Fatalf("cancel of nothing: %d %s", r.Status, r.Body)
	}
	waiting := p.generate(t, gina.Access, map[string]any{"prompt": "a boat after the pause", "resolution": "1K"})["id"].(string)
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/admin/queue/resume", Token: admin.Access}); r.JSON(t)["paused"] != false {
		t.Fatalf("resume: %s", r.Body)
	}
	p.waitStatus(t, gina.Access, waiting, "completed")
}
