package server

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/jobs"
	"nanobanana/replicate/replicatetest"
)

// ticket asks for an event-stream ticket with the access token.
func (p *pipeline) ticket(t *testing.T, access string) string {
	t.Helper()
	r := p.do(t, call{Method: "POST", Path: "/api/v1/events/ticket", Token: access})
	if r.Status != 200 {
		t.Fatalf("ticket: %d %s", r.Status, r.Body)
	}
	tk, _ := r.JSON(t)["ticket"].(string)
	if tk == "" {
		t.Fatalf("ticket: %s", r.Body)
	}
	return tk
}

// end waits for the stream's last event ("closed") and returns its code, failing if any
// other event comes first or the stream closes without one.
func (s *sseStream) end(t *testing.T) string {
	t.Helper()
	select {
	case ev, ok := <-s.Events:
		if !ok {
			t.Fatal("the stream closed without an end event")
		}
		if ev.Event != "closed" {
			t.Fatalf("got %s event %v; want the end of the stream", ev.Event, ev.Data)
		}
		reason, _ := ev.Data["code"].(string)
		// Nothing comes after the end.
		select {
		case ev, ok := <-s.Events:
			if ok {
				t.Fatalf("an event after the end: %+v", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the connection stayed open after the end event")
		}
		return reason
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end")
	}
	return ""
}

// The access token is no longer accepted in the stream's URL; a ticket is, for the
// stream only, and a forged or stale one is not.
func TestEventsTakeATicketNotATokenInTheURL(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "ticketed")
	if r := p.get(t, "/api/v1/events?access_token="+url.QueryEscape(u.Access), "", nil); r.Status != 401 {
		t.Errorf("access token in the URL: %d %s", r.Status, r.Body)
	}
	tk := p.ticket(t, u.Access)
	s := p.openEvents(t, "/api/v1/events?ticket="+url.QueryEscape(tk), nil)
	id := p.generate(t, u.Access, map[string]any{"prompt": "by ticket", "resolution": "1K"})["id"].(string)
	s.until(t, id, "completed")
	// Tampered: the same signature over a payload that names another user. (Changing
	// the last characters of the base64 is not enough: their spare bits may decode to
	// the same signature, and the stream would open.)
	payload, sig, _ := strings.Cut(tk, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Split(string(raw), "|")
	fields[1] = "999999"
	tampered := base64.RawURLEncoding.EncodeToString([]byte(strings.Join(fields, "|"))) + "." + sig
	for name, bad := range map[string]string{
		"tampered":     tampered,
		"not a ticket": u.Access,
		"empty-ish":    "x.y",
	} {
		if r := p.get(t, "/api/v1/events?ticket="+url.QueryEscape(bad), "", nil); r.Status != 401 {
			t.Errorf("%s ticket: %d", name, r.Status)
		}
	}
	// A ticket is no bearer token anywhere else.
	if r := p.get(t, "/api/v1/images/list", tk, nil); r.Status != 401 {
		t.Errorf("a ticket as a bearer token: %d", r.Status)
	}
	if r := p.get(t, "/api/v1/images/list?ticket="+url.QueryEscape(tk), "", nil); r.Status != 401 {
		t.Errorf("a ticket on another route: %d", r.Status)
	}
}

// A stream ends when the access token it was opened with expires: events written after
// that are not sent on it. The clock is the server's, moved by the test.
func TestEventsEndWhenTheirTokenExpires(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	p := newPipeline(t, func(o *Options) { o.Now = clock })
	u := p.register(t, "expiring")
	for name, open := range map[string]func() *sseStream{
		"header": func() *sseStream {
			return p.openEvents(t, "/api/v1/events", http.Header{"Authorization": {"Bearer " + u.Access}})
		},
		"ticket": func() *sseStream {
			return p.openEvents(t, "/api/v1/events?ticket="+url.QueryEscape(p.ticket(t, u.Access)), nil)
		},
	} {
		offset.Store(0)
		s := open()
		// Past the token's expiry; a new generation's events wake the stream.
		offset.Store(int64(p.Cfg.AccessTokenTTL + time.Minute))
		if err := p.DB.Raw(context.Background(), `INSERT INTO events (user_id, generation_id, type, data, created_at) VALUES (?, 'x', 'pending', '{}', 0)`, []any{u.ID}); err != nil {
			t.Fatal(err)
		}
		p.DB.(interface{ Notify(...int64) }).Notify(u.ID)
		if reason := s.end(t); reason != string(db.CodeUnauthorized) {
			t.Errorf("%s: the stream ended for %q; want unauthorized (expired)", name, reason)
		}
	}
}

// Every way a session can end ends its open event streams at once, and the stream
// sends nothing more: sign-out, password change, sign out everywhere, a disabled
// account.
func TestEventsEndWhenTheSessionEnds(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	cases := []struct {
		name   string
		revoke func(u session)
	}{
		{"sign-out", func(u session) {
			if r := p.do(t, call{Method: "POST", Path: "/api/v1/auth/logout", Body: map[string]string{"refresh_token": u.Refresh}}); r.Status != 204 {
				t.Fatalf("logout: %d %s", r.Status, r.Body)
			}
		}},
		{"password change", func(u session) {
			// Changed from another session of the same account.
			other := p.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": u.Name, "password": "password-" + u.Name}}).JSON(t)
			r := p.do(t, call{Method: "PUT", Path: "/api/v1/auth/password", Token: other["access_token"].(string),
				Body: map[string]string{"current_password": "password-" + u.Name, "new_password": "a-new-password-1"}})
			if r.Status != 204 && r.Status != 200 {
				t.Fatalf("password change: %d %s", r.Status, r.Body)
			}
		}},
		{"sign out everywhere", func(u session) {
			if r := p.do(t, call{Method: "POST", Path: "/api/v1/auth/logout-all", Token: u.Access}); r.Status != 204 {
				t.Fatalf("logout-all: %d %s", r.Status, r.Body)
			}
		}},
		{"disabled", func(u session) {
			if err := p.Jobs.DisableUser(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, c := range cases {
		u := p.register(t, "revoked"+string(rune('a'+i)))
		byHeader := p.openEvents(t, "/api/v1/events", http.Header{"Authorization": {"Bearer " + u.Access}})
		byTicket := p.openEvents(t, "/api/v1/events?ticket="+url.QueryEscape(p.ticket(t, u.Access)), nil)
		c.revoke(u)
		for _, s := range []*sseStream{byHeader, byTicket} {
			if reason := s.end(t); reason != string(db.CodeSessionEnded) {
				t.Errorf("%s: the stream ended for %q; want session_ended", c.name, reason)
			}
		}
		// And the token that opened them opens nothing any more.
		if r := p.get(t, "/api/v1/events", u.Access, nil); r.Status != 401 {
			t.Errorf("%s: a new stream with the old token: %d", c.name, r.Status)
		}
	}
}

// Signing out ends the access token at once, not only the refresh token; other
// sessions of the account keep working.
func TestSignOutEndsTheAccessToken(t *testing.T) {
	ts := newTestServer(t)
	a := ts.register(t, "leaver")
	other := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "leaver", "password": "password-leaver"}}).JSON(t)
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: a.Access}); r.Status != 200 {
		t.Fatalf("before: %d", r.Status)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/logout", Body: map[string]string{"refresh_token": a.Refresh}}); r.Status != 204 {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	r := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: a.Access})
	if r.Status != 401 || r.Code(t) != db.CodeSessionEnded {
		t.Errorf("the signed-out access token: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: other["access_token"].(string)}); r.Status != 200 {
		t.Errorf("another session of the account: %d", r.Status)
	}
}

// A signed image link stops working when its owner's account is disabled.
func TestSignedLinksOfADisabledAccountStop(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "linked")
	id := p.generate(t, u.Access, map[string]any{"prompt": "linked image", "resolution": "1K"})["id"].(string)
	done := p.waitStatus(t, u.Access, id, "completed")
	link := done["image_url"].(string)
	if r := p.get(t, link, "", nil); r.Status != 200 {
		t.Fatalf("the link before: %d", r.Status)
	}
	if _, err := p.DB.SetDisabled(context.Background(), u.ID, true); err != nil {
		t.Fatal(err)
	}
	if r := p.get(t, link, "", nil); r.Status != 403 || r.Code(t) != db.CodeAccountDisabled {
		t.Errorf("the link after the disable: %d %s", r.Status, r.Body)
	}
	if _, err := p.DB.SetDisabled(context.Background(), u.ID, false); err != nil {
		t.Fatal(err)
	}
	if r := p.get(t, link, "", nil); r.Status != 200 {
		t.Errorf("the link after enabling again: %d", r.Status)
	}
}

// The refresh cookie serves the site's own pages only: with X-Refresh-Cookie: 1 and a
// same-origin request. Without the header, from another origin (another port of the
// same host included) or with no origin at all it is refused, for refresh and for
// sign-out alike, and no answer ever carries a refresh token in its body.
func TestRefreshCookieOnlyFromTheSameOrigin(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Header: http.Header{"X-Refresh-Cookie": {"1"}},
		Body: map[string]string{"username": "cookie", "email": "c@example.com", "password": "password-cookie"}})
	var cookie string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == refreshCookie {
			cookie = refreshCookie + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("no refresh cookie: %v", r.Header)
	}
	host := ts.URL[len("http://"):]
	refused := map[string]http.Header{
		"no header":          {"Cookie": {cookie}, "Sec-Fetch-Site": {"same-origin"}},
		"another port":       {"Cookie": {cookie}, "X-Refresh-Cookie": {"1"}, "Sec-Fetch-Site": {"same-site"}},
		"another site":       {"Cookie": {cookie}, "X-Refresh-Cookie": {"1"}, "Sec-Fetch-Site": {"cross-site"}},
		"origin of a port":   {"Cookie": {cookie}, "X-Refresh-Cookie": {"1"}, "Origin": {"http://127.0.0.1:1"}},
		"no origin at all":   {"Cookie": {cookie}, "X-Refresh-Cookie": {"1"}},
		"a form, no headers": {"Cookie": {cookie}, "Content-Type": {"application/x-www-form-urlencoded"}},
	}
	for name, h := range refused {
		for _, path := range []string{"/api/v1/auth/refresh", "/api/v1/auth/logout"} {
			r := ts.do(t, call{Method: "POST", Path: path, Header: h})
			if r.Status != 403 {
				t.Errorf("%s %s: %d %s", name, path, r.Status, r.Body)
			}
			if _, ok := r.JSON(t)["refresh_token"]; ok {
				t.Errorf("%s %s: a refresh token in the body", name, path)
			}
		}
	}
	// The site's own pages: by Sec-Fetch-Site, or by Origin from browsers without it.
	for name, h := range map[string]http.Header{
		"sec-fetch-site": {"Sec-Fetch-Site": {"same-origin"}},
		"origin":         {"Origin": {"http://" + host}},
	} {
		h.Set("Cookie", cookie)
		h.Set("X-Refresh-Cookie", "1")
		r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Header: h})
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
		if _, ok := r.JSON(t)["refresh_token"]; ok {
			t.Errorf("%s: the cookie refresh answered a refresh token in its body", name)
		}
		for _, c := range (&http.Response{Header: r.Header}).Cookies() {
			if c.Name == refreshCookie {
				cookie = refreshCookie + "=" + c.Value
			}
		}
	}
}

// An account may have at most MAX_PENDING_PER_USER generations waiting: the rest of a
// burst is refused with 429 and a sentence, decided with the insert (not one extra gets
// through), and other accounts are not held back.
func TestPendingGenerationsAreCapped(t *testing.T) {
	t.Parallel()
	const limit = 5
	p := newPipelineWith(t, func(o *jobs.Options) { o.MaxPending = limit })
	// Nothing leaves the queue meanwhile: predictions wait an hour to start, and each
	// user runs one at a time.
	p.Fake.Configure(func(c *replicatetest.Config) { c.QueueTime = time.Hour })
	u := p.register(t, "burst")
	first := p.generate(t, u.Access, map[string]any{"prompt": "first", "resolution": "1K"})["id"].(string)
	p.waitStatus(t, u.Access, first, "running")

	const burst = limit + 2000
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for range burst {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: u.Access,
				Body: map[string]any{"prompt": "one of many", "resolution": "1K"}})
			switch {
			case r.Status == 202:
				accepted.Add(1)
			case r.Status == 429 && r.Code(t) == db.CodePendingLimit && r.Detail(t) != "":
				refused.Add(1)
			default:
				t.Errorf("generate: %d %s", r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	if accepted.Load() != limit || refused.Load() != burst-limit {
		t.Errorf("accepted %d and refused %d of %d; want %d accepted", accepted.Load(), refused.Load(), burst, limit)
	}
	other := p.register(t, "neighbour")
	p.generate(t, other.Access, map[string]any{"prompt": "not held back", "resolution": "1K"})
}

// Disabling an account cancels its waiting generations and stops its running one at
// Replicate; no prediction is created for it afterwards.
func TestDisablingStopsTheAccountsWork(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "disabled")
	running := p.generate(t, u.Access, map[string]any{"prompt": "[[slow]] running", "resolution": "1K"})["id"].(string)
	p.waitStatus(t, u.Access, running, "running")
	var waiting []string
	for range 5 {
		waiting = append(waiting, p.generate(t, u.Access, map[string]any{"prompt": "waiting", "resolution": "1K"})["id"].(string))
	}
	// The running one's prediction exists at Replicate before the disable.
	for deadline := time.Now().Add(15 * time.Second); p.Fake.Stats().Created < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the running generation never reached Replicate")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Jobs.DisableUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range append([]string{running}, waiting...) {
		g, err := p.DB.GetGeneration(context.Background(), u.ID, id)
		if err != nil || g.Status != db.StatusCanceled {
			t.Errorf("generation %s after the disable: %+v %v", id, g, err)
		}
	}
	// The running prediction is canceled at Replicate, and the worker lets go of it.
	for deadline := time.Now().Add(15 * time.Second); ; {
		counts, err := p.DB.QueueCounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if p.Fake.Stats().Canceled >= 1 && counts[u.ID] == [2]int{0, 0} {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the disable: %d canceled at Replicate, queue %v", p.Fake.Stats().Canceled, counts[u.ID])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := p.Fake.Stats().Created; n != 1 {
		t.Errorf("%d predictions created for the account; want only the one running before the disable", n)
	}
}
