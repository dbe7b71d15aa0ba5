package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"nanobanana/db"
	"nanobanana/internal/dbtest"
	"nanobanana/replicate"
	"nanobanana/replicate/replicatetest"
)

// The seed's own register call, byte for byte what its Python example sends.
func TestSeedRegisterReturnsAccessToken(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register",
		Body: `{"username": "user1", "email": "user1@example.com", "password": "password123"}`})
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if tok, _ := m["access_token"].(string); tok == "" || m["token_type"] != "bearer" {
		t.Fatalf("register answer lacks a bearer access_token: %s", r.Body)
	}
	u := m["user"].(map[string]any)
	if u["username"] != "user1" || u["is_admin"] != true {
		t.Errorf("first user should be user1 and admin: %v", u)
	}
	me := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: m["access_token"].(string)})
	if me.Status != 200 || me.JSON(t)["email"] != "user1@example.com" || me.JSON(t)["has_api_key"] != false {
		t.Fatalf("me: %d %s", me.Status, me.Body)
	}
	if strings.Contains(string(me.Body), "password") {
		t.Errorf("me leaks a password field: %s", me.Body)
	}
}

func TestRegisterValidation(t *testing.T) {
	ts := newTestServer(t)
	ts.register(t, "taken")
	for _, tc := range []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"short username", `{"username":"ab","email":"a@example.com","password":"password1"}`, 422, "username"},
		{"bad username chars", `{"username":"a b/c","email":"a@example.com","password":"password1"}`, 422, "username"},
		{"bad email", `{"username":"alice","email":"not-an-email","password":"password1"}`, 422, "email"},
		{"short password", `{"username":"alice","email":"a@example.com","password":"short"}`, 422, "password"},
		{"long password", `{"username":"alice","email":"a@example.com","password":"` + strings.Repeat("x", 73) + `"}`, 422, "password"},
		{"taken username other case", `{"username":"TAKEN","email":"new@example.com","password":"password1"}`, 409, ""},
		{"taken email", `{"username":"newname","email":"Taken@example.com","password":"password1"}`, 409, ""},
		{"not json", `username=alice`, 400, ""},
		{"wrong type", `{"username":5,"email":"a@example.com","password":"password1"}`, 422, "username"},
		{"empty body", ``, 400, ""},
	} {
		r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: tc.body})
		if r.Status != tc.status {
			t.Errorf("%s: %d %s; want %d", tc.name, r.Status, r.Body, tc.status)
			continue
		}
		if r.Detail(t) == "" {
			t.Errorf("%s: no detail sentence: %s", tc.name, r.Body)
		}
		if tc.field != "" && !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
			t.Errorf("%s: error does not name field %s: %s", tc.name, tc.field, r.Body)
		}
	}
}

func TestRegistrationClosed(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.Config.AllowRegistration = false })
	r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]string{"username": "alice", "email": "a@example.com", "password": "password1"}})
	if r.Status != http.StatusForbidden || !strings.Contains(r.Detail(t), "closed") {
		t.Fatalf("closed registration: %d %s", r.Status, r.Body)
	}
}

func TestLoginJSONFormEmailAndSameAnswerForUnknownUser(t *testing.T) {
	ts := newTestServer(t)
	ts.register(t, "alice")
	ok := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "alice", "password": "password-alice"}})
	if ok.Status != 200 || ok.JSON(t)["access_token"] == nil || ok.JSON(t)["refresh_token"] == nil {
		t.Fatalf("JSON login: %d %s", ok.Status, ok.Body)
	}
	form := url.Values{"username": {"alice@example.com"}, "password": {"password-alice"}, "grant_type": {"password"}}
	fr := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: form.Encode(),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if fr.Status != 200 || fr.JSON(t)["access_token"] == nil {
		t.Fatalf("OAuth2 form login by email: %d %s", fr.Status, fr.Body)
	}
	wrong := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "alice", "password": "wrong-password"}})
	unknown := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "nobody", "password": "wrong-password"}})
	if wrong.Status != 401 || unknown.Status != 401 || string(wrong.Body) != string(unknown.Body) || wrong.Code(t) != db.CodeBadCredentials {
		t.Fatalf("wrong password and unknown user must answer alike: %d %s / %d %s", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
	}
}

// clock is a server clock that moves only when the test says: a throttle's wait then
// ends when the test decides, never because the machine was slow.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func login(name, password string) call {
	return call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": name, "password": password}}
}

func TestFailedLoginsAreThrottledPerAccountAndAddress(t *testing.T) {
	clk := newClock()
	ts := newTestServer(t, func(o *Options) { o.Now = clk.Now })
	ts.register(t, "alice")
	for i := 0; i < 5; i++ {
		if r := ts.do(t, login("alice", "wrong-password")); r.Status != 401 {
			t.Fatalf("attempt %d: %d", i, r.Status)
		}
	}
	// By email it is the same account.
	r := ts.do(t, login("alice@example.com", "password-alice"))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" || r.Code(t) != db.CodeTooManyAttempts {
		t.Fatalf("6th attempt (even with the right password, by email) must wait 2 s: %d %s, Retry-After %q", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	// The count is in the database: a restarted server, or another process sharing a
	// PostgreSQL database, goes on refusing.
	other := newTestServer(t, func(o *Options) { o.DB = ts.DB; o.Now = clk.Now })
	if r := other.do(t, login("alice", "password-alice")); r.Status != http.StatusTooManyRequests {
		t.Fatalf("a second server on the same database let alice try again: %d %s", r.Status, r.Body)
	}
	// Each failure after the wait doubles it, up to five minutes; the server never holds
	// the connection, it tells the client how long.
	var waits []string
	for range 10 {
		wait, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		clk.Add(time.Duration(wait) * time.Second)
		if r := ts.do(t, login("alice", "wrong-password")); r.Status != 401 {
			t.Fatalf("after waiting %d s: %d %s", wait, r.Status, r.Body)
		}
		r = ts.do(t, login("alice", "password-alice"))
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("right after a failure: %d %s", r.Status, r.Body)
		}
		waits = append(waits, r.Header.Get("Retry-After"))
	}
	if got := strings.Join(waits, ","); got != "4,8,16,32,64,128,256,300,300,300" {
		t.Fatalf("waits after each failure: %s", got)
	}
	clk.Add(5 * time.Minute)
	if r := ts.do(t, login("alice", "password-alice")); r.Status != 200 {
		t.Fatalf("the right password after the wait: %d %s", r.Status, r.Body)
	}
	// The success forgot the failures.
	if r := ts.do(t, login("alice", "wrong-password")); r.Status != 401 {
		t.Fatalf("a failure after a success: %d %s", r.Status, r.Body)
	}

	// Per address: many accounts guessed from one client.
	for i := 0; i < 30; i++ {
		ts.do(t, login("user"+strconv.Itoa(i), "x-password"))
	}
	r = ts.do(t, login("user3", "x-password"))
	if wait, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != http.StatusTooManyRequests || wait <= 0 || wait > 900 {
		t.Fatalf("an address past 30 failures, for an account with failures: %d %s Retry-After %q", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
}

// 300 wrong passwords at once over 30 accounts from one address: no account has more
// passwords checked (401) than its five, and the address no more than its 30 plus one
// per account nobody had failed on yet. Before, the limits were read before the
// attempts were counted, and 312 passwords were checked in such a run.
func TestConcurrentWrongPasswordsNeverPassTheLimit(t *testing.T) {
	clk := newClock() // no wait ends during the test
	ts := newTestServer(t, func(o *Options) { o.Now = clk.Now })
	const accounts, each = 30, 10
	for i := range accounts {
		ts.register(t, fmt.Sprint("victim", i))
	}
	var checked [accounts]atomic.Int32
	var total atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for a := range accounts {
		for range each {
			wg.Go(func() {
				<-start
				body := fmt.Sprintf(`{"username":"victim%d","password":"not-the-password"}`, a)
				resp, err := client.Post(ts.URL+"/api/v1/auth/login", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusUnauthorized: // the password was checked
					checked[a].Add(1)
					total.Add(1)
				case http.StatusTooManyRequests:
				default:
					t.Errorf("login: %d", resp.StatusCode)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	for a := range accounts {
		if n := checked[a].Load(); n > 5 {
			t.Errorf("victim%d: %d passwords checked; the limit is 5", a, n)
		}
	}
	if n := total.Load(); n > 30+accounts {
		t.Errorf("%d passwords checked from one address; at most %d allowed", n, 30+accounts)
	}
	t.Logf("%d of %d wrong passwords were checked", total.Load(), accounts*each)
}

// An address past its limit (a guesser behind the same network address as everyone
// else of an office) does not keep out a user of another account who types the right
// password; a stranger's five wrong tries make the account wait seconds, not minutes.
func TestCorrectPasswordFromAThrottledAddress(t *testing.T) {
	clk := newClock()
	ts := newTestServer(t, func(o *Options) { o.Now = clk.Now })
	ts.register(t, "bob")
	ts.register(t, "carol")
	for i := range 40 {
		ts.do(t, login(fmt.Sprint("guess", i%8), "wrong-password"))
	}
	if r := ts.do(t, login("guess1", "wrong-password")); r.Status != http.StatusTooManyRequests {
		t.Fatalf("the guesser's address is not throttled: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, login("bob", "password-bob")); r.Status != 200 {
		t.Fatalf("bob's right password from the throttled address: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, login("bob", "password-bob")); r.Status != 200 {
		t.Fatalf("bob again: %d %s", r.Status, r.Body)
	}
	// Five wrong tries at carol's account by a stranger (from another address, behind
	// a proxy) make her wait 2 seconds, not 15 minutes.
	other := newTestServer(t, func(o *Options) {
		o.DB, o.Now, o.Config.TrustedProxies = ts.DB, clk.Now, mustPrefixes("127.0.0.1/32")
	})
	from := func(c call, addr string) call {
		c.Header = http.Header{"X-Forwarded-For": {addr}}
		return c
	}
	for range 5 {
		other.do(t, from(login("carol", "wrong-password"), "198.51.100.66"))
	}
	r := other.do(t, from(login("carol", "password-carol"), "198.51.100.7"))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" {
		t.Fatalf("carol after a stranger's five tries: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
	}
	clk.Add(2 * time.Second)
	if r := other.do(t, from(login("carol", "password-carol"), "198.51.100.7")); r.Status != 200 {
		t.Fatalf("carol after 2 s: %d %s", r.Status, r.Body)
	}
}

func TestRefreshRotationReuseAndLogout(t *testing.T) {
	ts := newTestServer(t)
	a := ts.register(t, "alice")
	r1 := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": a.Refresh}})
	if r1.Status != 200 {
		t.Fatalf("refresh: %d %s", r1.Status, r1.Body)
	}
	next := r1.JSON(t)["refresh_token"].(string)
	if next == a.Refresh {
		t.Fatal("refresh did not rotate the token")
	}
	// The spent token again: refused, and the family (next included) is revoked.
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": a.Refresh}}); r.Status != 401 {
		t.Fatalf("reused refresh token: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": next}}); r.Status != 401 {
		t.Fatalf("token of a revoked family still works: %d", r.Status)
	}
	// Logout ends only that session.
	l1 := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "alice", "password": "password-alice"}}).JSON(t)
	l2 := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "alice", "password": "password-alice"}}).JSON(t)
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/logout", Body: map[string]any{"refresh_token": l1["refresh_token"]}}); r.Status != 204 {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]any{"refresh_token": l1["refresh_token"]}}); r.Status != 401 {
		t.Fatalf("refresh after logout: %d", r.Status)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]any{"refresh_token": l2["refresh_token"]}}); r.Status != 200 {
		t.Fatalf("another session died with logout: %d", r.Status)
	}
}

func TestBrowserRefreshCookie(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Header: http.Header{"X-Refresh-Cookie": {"1"}},
		Body: map[string]string{"username": "alice", "email": "a@example.com", "password": "password-alice"}})
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	if _, inBody := r.JSON(t)["refresh_token"]; inBody {
		t.Error("a browser sign-in must not get the refresh token where scripts can read it")
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == refreshCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/api/v1/auth" {
		t.Fatalf("refresh cookie: %+v", cookie)
	}
	rr := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Header: http.Header{"X-Refresh-Cookie": {"1"},
		"Sec-Fetch-Site": {"same-origin"}, "Cookie": {refreshCookie + "=" + cookie.Value}}})
	if rr.Status != 200 || rr.JSON(t)["access_token"] == nil {
		t.Fatalf("refresh by cookie: %d %s", rr.Status, rr.Body)
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	ts := newTestServer(t)
	a := ts.register(t, "alice")
	other := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "alice", "password": "password-alice"}}).JSON(t)
	if r := ts.do(t, call{Method: "PUT", Path: "/api/v1/auth/password", Token: a.Access, Body: map[string]string{"current_password": "wrong", "new_password": "new-password-1"}}); r.Status != 422 {
		t.Fatalf("wrong current password: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "PUT", Path: "/api/v1/auth/password", Token: a.Access, Body: map[string]string{"current_password": "password-alice", "new_password": "short"}}); r.Status != 422 {
		t.Fatalf("too short new password: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "PUT", Path: "/api/v1/auth/password", Token: a.Access, Body: map[string]string{"current_password": "password-alice", "new_password": "new-password-1"}}); r.Status != 204 {
		t.Fatalf("change password: %d %s", r.Status, r.Body)
	}
	// Every access token issued before is dead at once, the caller's included...
	for _, tok := range []string{a.Access, other["access_token"].(string)} {
		if r := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: tok}); r.Status != 401 {
			t.Fatalf("old access token still works: %d", r.Status)
		}
	}
	// ...the other session's refresh token is revoked, the caller's survives.
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]any{"refresh_token": other["refresh_token"]}}); r.Status != 401 {
		t.Fatalf("other session survived the password change: %d", r.Status)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": a.Refresh}}); r.Status != 200 {
		t.Fatalf("the caller's own session should survive: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "alice", "password": "new-password-1"}}); r.Status != 200 {
		t.Fatalf("login with the new password: %d", r.Status)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	ts := newTestServer(t)
	a := ts.register(t, "alice")
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/logout-all", Token: a.Access}); r.Status != 204 {
		t.Fatalf("logout-all: %d", r.Status)
	}
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: a.Access}); r.Status != 401 {
		t.Fatal("access token survived logout-all")
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": a.Refresh}}); r.Status != 401 {
		t.Fatal("refresh token survived logout-all")
	}
}

// forgedTokens are the ways a bearer token can be wrong; each must answer 401.
func forgedTokens(t *testing.T, ts *testServer, victim session) map[string]string {
	t.Helper()
	claims := func(mod func(*accessClaims)) *accessClaims {
		now := time.Now()
		c := &accessClaims{Ver: 1, Use: tokenUse, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: tokenIssuer, Subject: strconv.FormatInt(victim.ID, 10), Audience: jwt.ClaimStrings{tokenAudience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c *accessClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	secret := []byte(ts.Cfg.SecretKey)
	parts := strings.Split(victim.Access, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]
	return map[string]string{
		"malformed":         "not-a-jwt",
		"tampered payload":  tampered,
		"expired":           sign(jwt.SigningMethodHS256, secret, claims(func(c *accessClaims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour)) })),
		"no expiry":         sign(jwt.SigningMethodHS256, secret, claims(func(c *accessClaims) { c.ExpiresAt = nil })),
		"other key":         sign(jwt.SigningMethodHS256, []byte("another-secret-another-secret-another"), claims(nil)),
		"other algorithm":   sign(jwt.SigningMethodHS512, secret, claims(nil)),
		"alg none":          sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"wrong audience":    sign(jwt.SigningMethodHS256, secret, claims(func(c *accessClaims) { c.Audience = jwt.ClaimStrings{"someone-else"} })),
		"refresh as access": victim.Refresh,
		"not an access use": sign(jwt.SigningMethodHS256, secret, claims(func(c *accessClaims) { c.Use = "refresh" })),
	}
}

// The authorization matrix: every protected endpoint refuses every bad token.
func TestAuthorizationMatrix(t *testing.T) {
	ts := newTestServer(t)
	victim := ts.register(t, "victim")
	stale := victim.Access
	// A token issued before a password change.
	if r := ts.do(t, call{Method: "PUT", Path: "/api/v1/auth/password", Token: victim.Access,
		Body: map[string]string{"current_password": "password-victim", "new_password": "password-victim-2"}}); r.Status != 204 {
		t.Fatal(r.Status)
	}
	victim.Access = ts.do(t, call{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]string{"refresh_token": victim.Refresh}}).JSON(t)["access_token"].(string)
	tokens := forgedTokens(t, ts, victim)
	tokens["issued before password change"] = stale
	endpoints := []call{
		{Method: "GET", Path: "/api/v1/auth/me"},
		{Method: "POST", Path: "/api/v1/auth/logout-all"},
		{Method: "PUT", Path: "/api/v1/auth/password", Body: map[string]string{"current_password": "password-victim-2", "new_password": "hijacked-password"}},
		{Method: "PUT", Path: "/api/v1/users/api-key", Body: map[string]string{"api_key": "r8_attacker"}},
		{Method: "GET", Path: "/api/v1/users/api-key"},
		{Method: "DELETE", Path: "/api/v1/users/api-key"},
	}
	for _, ep := range endpoints {
		ep := ep
		if r := ts.do(t, ep); r.Status != 401 || r.Detail(t) == "" {
			t.Errorf("%s %s with no token: %d %s", ep.Method, ep.Path, r.Status, r.Body)
		}
		for name, tok := range tokens {
			ep.Token = tok
			want := db.CodeUnauthorized
			if name == "issued before password change" {
				want = db.CodeSessionEnded
			}
			if r := ts.do(t, ep); r.Status != 401 || r.Code(t) != want {
				t.Errorf("%s %s with %s token: %d %s; want 401 %s", ep.Method, ep.Path, name, r.Status, r.Body, want)
			}
		}
		ep.Token = ""
		ep.Header = http.Header{"Authorization": {"Basic dmljdGltOnB3"}}
		if r := ts.do(t, ep); r.Status != 401 {
			t.Errorf("%s %s with Basic auth: %d", ep.Method, ep.Path, r.Status)
		}
	}
	// The victim's current token still works after all that.
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: victim.Access}); r.Status != 200 {
		t.Fatalf("victim's token: %d", r.Status)
	}
}

func TestAPIKeyVerifiedSealedAndNeverShown(t *testing.T) {
	fake, err := replicatetest.Start(replicatetest.Options{Config: replicatetest.Config{RejectedTokens: []string{"r8_rejected_key_000"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	var logs bytes.Buffer
	ts := newTestServer(t, func(o *Options) {
		o.Replicate = replicate.New(replicate.Options{BaseURL: fake.URL()})
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	a := ts.register(t, "alice")
	b := ts.register(t, "bob")
	const key = "r8_AliceSecretReplicateKey9876"
	r := ts.do(t, call{Method: "PUT", Path: "/api/v1/users/api-key", Token: a.Access, Body: map[string]string{"api_key": key}})
	if r.Status != 200 || r.JSON(t)["verified"] != true || r.JSON(t)["last4"] != "9876" || r.JSON(t)["has_api_key"] != true {
		t.Fatalf("PUT api-key: %d %s", r.Status, r.Body)
	}
	g := ts.do(t, call{Method: "GET", Path: "/api/v1/users/api-key", Token: a.Access})
	if g.Status != 200 || g.JSON(t)["has_api_key"] != true || strings.Contains(string(g.Body), key) {
		t.Fatalf("GET api-key: %d %s", g.Status, g.Body)
	}
	if g := ts.do(t, call{Method: "GET", Path: "/api/v1/users/api-key", Token: b.Access}); g.JSON(t)["has_api_key"] != false {
		t.Fatalf("bob sees alice's key state: %s", g.Body)
	}
	// A key Replicate rejects is not saved.
	rej := ts.do(t, call{Method: "PUT", Path: "/api/v1/users/api-key", Token: b.Access, Body: map[string]string{"api_key": "r8_rejected_key_000"}})
	if rej.Status != 422 || !strings.Contains(rej.Detail(t), "rejected") {
		t.Fatalf("rejected key: %d %s", rej.Status, rej.Body)
	}
	if g := ts.do(t, call{Method: "GET", Path: "/api/v1/users/api-key", Token: b.Access}); g.JSON(t)["has_api_key"] != false {
		t.Fatal("a rejected key was saved")
	}
	if r := ts.do(t, call{Method: "PUT", Path: "/api/v1/users/api-key", Token: b.Access, Body: map[string]string{"api_key": ""}}); r.Status != 422 {
		t.Fatalf("empty key: %d", r.Status)
	}
	// The plaintext is in no file (no row, with PostgreSQL) and no log line.
	if path := dbtest.SQLitePath(ts.DB); path == "" {
		var n int
		err := ts.DB.Raw(context.Background(), `SELECT count(*) FROM users u WHERE strpos(u::text, ?1) > 0
			OR position(convert_to(?1, 'UTF8') IN coalesce(u.api_key_sealed, ''::bytea)) > 0`, []any{key}, &n)
		if err != nil || n != 0 {
			t.Errorf("%d user rows hold the plaintext key (%v)", n, err)
		}
	} else {
		for _, f := range []string{path, path + "-wal"} {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(key)) {
				t.Errorf("%s holds the plaintext key", f)
			}
		}
	}
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), "password-alice") || strings.Contains(logs.String(), a.Refresh) {
		t.Errorf("a secret reached the log:\n%s", logs.String())
	}
	if d := ts.do(t, call{Method: "DELETE", Path: "/api/v1/users/api-key", Token: a.Access}); d.Status != 204 {
		t.Fatalf("DELETE: %d", d.Status)
	}
	if g := ts.do(t, call{Method: "GET", Path: "/api/v1/users/api-key", Token: a.Access}); g.JSON(t)["has_api_key"] != false {
		t.Fatal("key still set after DELETE")
	}
}

func TestAPIKeySavedUnverifiedWhenReplicateIsDown(t *testing.T) {
	ln := closedPort(t)
	ts := newTestServer(t, func(o *Options) { o.Replicate = replicate.New(replicate.Options{BaseURL: "http://" + ln + "/v1"}) })
	a := ts.register(t, "alice")
	r := ts.do(t, call{Method: "PUT", Path: "/api/v1/users/api-key", Token: a.Access, Body: map[string]string{"api_key": "r8_offline_key_1234"}})
	if r.Status != 200 || r.JSON(t)["verified"] != false || r.JSON(t)["note"] == nil {
		t.Fatalf("offline PUT: %d %s", r.Status, r.Body)
	}
	if g := ts.do(t, call{Method: "GET", Path: "/api/v1/users/api-key", Token: a.Access}); g.JSON(t)["has_api_key"] != true {
		t.Fatal("an unverified key should still be saved")
	}
}

func TestSecurityHeadersBodyLimitAndJSONErrors(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, call{Method: "GET", Path: "/healthz"})
	if r.Status != 200 || r.JSON(t)["status"] != "ok" {
		t.Fatalf("healthz: %d %s", r.Status, r.Body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "X-Request-ID"} {
		if r.Header.Get(h) == "" {
			t.Errorf("missing header %s", h)
		}
	}
	if r := ts.do(t, call{Method: "GET", Path: "/readyz"}); r.Status != 200 {
		t.Errorf("readyz: %d", r.Status)
	}
	big := `{"username":"` + strings.Repeat("a", 100<<10) + `"}`
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: big}); r.Status != 413 || r.Code(t) != db.CodeTooLarge {
		t.Errorf("oversized body: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "GET", Path: "/api/v1/nope"}); r.Status != 404 || r.Code(t) != db.CodeNoRoute {
		t.Errorf("unknown endpoint: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "DELETE", Path: "/api/v1/auth/login"}); r.Status != 405 || r.Code(t) != db.CodeMethodNotAllowed {
		t.Errorf("wrong method: %d %s", r.Status, r.Body)
	}
}

func TestCORSOnlyForListedOrigins(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.Config.CORSOrigins = []string{"https://app.example.com"} })
	pre := ts.do(t, call{Method: "OPTIONS", Path: "/api/v1/auth/login", Header: http.Header{
		"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"POST"}}})
	if pre.Status != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || pre.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("preflight from a listed origin: %d %v", pre.Status, pre.Header)
	}
	other := ts.do(t, call{Method: "GET", Path: "/healthz", Header: http.Header{"Origin": {"https://evil.example.com"}}})
	if other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("an unlisted origin got CORS headers")
	}
}

func TestForwardedHeadersOnlyFromTrustedProxies(t *testing.T) {
	ts := newTestServer(t)
	req := func(trust bool) string {
		s := ts.Server
		if trust {
			s = newTestServer(t, func(o *Options) { o.Config.TrustedProxies = mustPrefixes("127.0.0.1/32") }).Server
		}
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:5555"
		r.Header.Set("X-Forwarded-For", "203.0.113.9, 127.0.0.1")
		return s.clientIP(r).String()
	}
	if got := req(false); got != "127.0.0.1" {
		t.Errorf("untrusted peer's X-Forwarded-For was believed: %s", got)
	}
	if got := req(true); got != "203.0.113.9" {
		t.Errorf("trusted proxy's X-Forwarded-For ignored: %s", got)
	}
}

// Behind a shared host's Apache (docs/DEPLOY.md, shared hosting) the app listens on a
// unix socket, mod_proxy appends the client's address to X-Forwarded-For and sends no
// X-Forwarded-Proto: the client is the last address of the list, whatever the client
// claimed before it, and PUBLIC_URL says whether the public side is https.
func TestBehindApacheOnAUnixSocket(t *testing.T) {
	plain := newTestServer(t).Server
	public := newTestServer(t, func(o *Options) { o.Config.PublicURL = "https://nanobanana.example.com" }).Server
	for _, tc := range []struct {
		name, remote, xff string
		want              string
	}{
		// A unix socket peer has no address; net/http leaves RemoteAddr empty or "@".
		{"socket, client forged a header", "@", "203.0.113.9, 198.51.100.7", "198.51.100.7"},
		{"socket, empty peer", "", "198.51.100.7", "198.51.100.7"},
		{"socket, no header", "@", "", "::1"},
		{"untrusted TCP peer", "198.51.100.20:4444", "203.0.113.9", "198.51.100.20"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := plain.clientIP(r).String(); got != tc.want {
			t.Errorf("%s: client %s, want %s", tc.name, got, tc.want)
		}
	}

	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "@"
	if !public.isHTTPS(r) {
		t.Error("PUBLIC_URL https, no X-Forwarded-Proto: not taken as https")
	}
	if plain.isHTTPS(r) {
		t.Error("no PUBLIC_URL, no X-Forwarded-Proto, no TLS: taken as https")
	}
	// An untrusted peer cannot claim https for itself.
	r.RemoteAddr = "198.51.100.20:4444"
	r.Header.Set("X-Forwarded-Proto", "https")
	if plain.isHTTPS(r) {
		t.Error("an untrusted peer's X-Forwarded-Proto was believed")
	}
}

// A browser's refresh cookie is Secure when PUBLIC_URL is https, with no proxy header.
func TestRefreshCookieSecureByPublicURL(t *testing.T) {
	for _, tc := range []struct {
		publicURL string
		secure    bool
	}{{"", false}, {"http://127.0.0.1:8080", false}, {"https://nanobanana.example.com", true}} {
		ts := newTestServer(t, func(o *Options) { o.Config.PublicURL = tc.publicURL })
		r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Header: http.Header{"X-Refresh-Cookie": {"1"}},
			Body: map[string]string{"username": "alice", "email": "a@example.com", "password": "password-alice"}})
		var cookie *http.Cookie
		for _, c := range (&http.Response{Header: r.Header}).Cookies() {
			if c.Name == refreshCookie {
				cookie = c
			}
		}
		if cookie == nil || cookie.Secure != tc.secure {
			t.Errorf("PUBLIC_URL=%q: refresh cookie %+v, want Secure %v", tc.publicURL, cookie, tc.secure)
		}
	}
}

// A browser's sign-in sets, beside the HttpOnly refresh cookie, the readable nb_session=1
// with the same lifetime (the page resumes a session only when it may exist); sign-out
// clears both.
func TestSessionFlagCookie(t *testing.T) {
	ts := newTestServer(t)
	cookies := func(h http.Header) map[string]*http.Cookie {
		m := map[string]*http.Cookie{}
		for _, c := range (&http.Response{Header: h}).Cookies() {
			m[c.Name] = c
		}
		return m
	}
	r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Header: http.Header{"X-Refresh-Cookie": {"1"}},
		Body: map[string]string{"username": "flag", "email": "flag@example.com", "password": "password-flag"}})
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	set := cookies(r.Header)
	ref, flag := set[refreshCookie], set[sessionFlagCookie]
	if ref == nil || flag == nil || flag.Value != "1" || flag.HttpOnly || flag.Path != "/" || flag.MaxAge != ref.MaxAge || flag.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookies after a browser sign-up: refresh %+v, flag %+v", ref, flag)
	}
	// A script's sign-in gets no cookie at all.
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": "flag", "password": "password-flag"}}); len(cookies(r.Header)) != 0 {
		t.Errorf("a script's sign-in set cookies: %v", r.Header.Values("Set-Cookie"))
	}
	out := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/logout", Header: http.Header{"X-Refresh-Cookie": {"1"},
		"Sec-Fetch-Site": {"same-origin"}, "Cookie": {refreshCookie + "=" + ref.Value + "; " + sessionFlagCookie + "=1"}}})
	if out.Status != 204 {
		t.Fatalf("logout: %d %s", out.Status, out.Body)
	}
	cleared := cookies(out.Header)
	if c := cleared[sessionFlagCookie]; c == nil || c.MaxAge >= 0 {
		t.Errorf("logout left the session flag: %+v", c)
	}
	if c := cleared[refreshCookie]; c == nil || c.MaxAge >= 0 {
		t.Errorf("logout left the refresh cookie: %+v", c)
	}
}

// The API takes any password of 8 to 72 bytes, common ones included (the seed's example
// uses password123): only the page's forms refuse the most common passwords.
func TestAPIAcceptsCommonPasswords(t *testing.T) {
	ts := newTestServer(t)
	for i, pw := range []string{"password123", "12345678", "aaaaaaaa", "password"} {
		name := fmt.Sprintf("common%d", i)
		r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]string{"username": name, "email": name + "@example.com", "password": pw}})
		if r.Status != 201 {
			t.Errorf("register with %q: %d %s", pw, r.Status, r.Body)
		}
		if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username": name, "password": pw}}); r.Status != 200 {
			t.Errorf("login with %q: %d %s", pw, r.Status, r.Body)
		}
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]string{"username": "short1", "email": "short1@example.com", "password": "1234567"}}); r.Status != 422 {
		t.Errorf("a 7-byte password: %d, want 422", r.Status)
	}
}
