package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// anID fills the :id of a route's path: well formed, and nobody's.
const anID = "0123456789abcdef0123456789abcdef"

// concrete is path with every parameter filled.
func concrete(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") {
			segs[i] = anID
		}
	}
	return strings.Join(segs, "/")
}

// matches tells whether a table path (with :params) matches a concrete path; written
// apart from the server's own matcher so that one is checked, not reused.
func matches(pattern, path string) bool {
	ps, cs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(cs) {
		return false
	}
	for i := range ps {
		if !(strings.HasPrefix(ps[i], ":") && cs[i] != "") && ps[i] != cs[i] {
			return false
		}
	}
	return true
}

// The table itself: each route once, a known method and scope, a handler.
func TestRouteTableIsWellFormed(t *testing.T) {
	ts := newTestServer(t)
	seen := map[string]bool{}
	for _, rt := range ts.routeTable() {
		key := rt.method + " " + rt.path
		switch {
		case seen[key]:
			t.Errorf("%s is in the table twice", key)
		case !slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, rt.method):
			t.Errorf("%s: unknown method", key)
		case !strings.HasPrefix(rt.path, "/"):
			t.Errorf("%s: the path must start with /", key)
		case !slices.Contains([]string{"", "read", "generate", "admin"}, rt.scope):
			t.Errorf("%s: unknown scope %q", key, rt.scope)
		case rt.handle == nil:
			t.Errorf("%s: no handler", key)
		case rt.who == whoPublic && rt.creds != nil:
			t.Errorf("%s: a public route reads no credentials", key)
		case strings.HasPrefix(rt.path, "/api/v1/admin/") != (rt.who == whoAdmin):
			t.Errorf("%s: the routes under /api/v1/admin/, and only they, are for administrators", key)
		}
		seen[key] = true
	}
	if !slices.ContainsFunc(ts.routeTable(), func(rt route) bool { return rt.who == whoAdmin }) {
		t.Error("no route is for administrators: the 403 checks below test nothing")
	}
}

// What httprouter v1.3.0 refuses, and so what the table serves from the fallback: a
// parameter at a place where another path of the same method has a static segment.
// Beside a path of another method it is fine.
func TestHTTPRouterRefusesAParameterBesideAStaticSegment(t *testing.T) {
	nop := func(http.ResponseWriter, *http.Request, httprouter.Params) {}
	refuses := func(paths ...[2]string) (panicked bool) {
		defer func() { panicked = recover() != nil }()
		r := httprouter.New()
		for _, p := range paths {
			r.Handle(p[0], p[1], nop)
		}
		return false
	}
	if !refuses([2]string{"GET", "/api/v1/images/list"}, [2]string{"GET", "/api/v1/images/:id"}) {
		t.Error("GET /images/:id beside GET /images/list was accepted")
	}
	if !refuses([2]string{"GET", "/api/v1/images/:id"}, [2]string{"GET", "/api/v1/images/status/:id"}) {
		t.Error("GET /images/status/:id beside GET /images/:id was accepted")
	}
	if refuses([2]string{"GET", "/api/v1/images/list"}, [2]string{"DELETE", "/api/v1/images/:id"}) {
		t.Error("DELETE /images/:id beside GET /images/list was refused")
	}

	// Each fallback route of the table really needs the fallback: should httprouter
	// learn to hold it, register it like the others.
	ts := newTestServer(t)
	var registered [][2]string
	for _, rt := range ts.routeTable() {
		if !rt.fallback {
			registered = append(registered, [2]string{rt.method, rt.path})
		}
	}
	for _, rt := range ts.routeTable() {
		if rt.fallback && !refuses(append(registered, [2]string{rt.method, rt.path})...) {
			t.Errorf("%s %s is a fallback route, but httprouter accepts it beside the others", rt.method, rt.path)
		}
	}
}

// Every route of the table is served at its own method and path: without credentials,
// a route that needs a user answers 401, and a public one anything but "no such
// endpoint" or "method not allowed".
func TestEveryRouteOfTheTableIsServed(t *testing.T) {
	ts := newTestServer(t)
	for _, rt := range ts.routeTable() {
		r := ts.do(t, call{Method: rt.method, Path: concrete(rt.path)})
		switch {
		case rt.who != whoPublic && r.Status != http.StatusUnauthorized:
			t.Errorf("%s %s without a token: %d %s, want 401", rt.method, rt.path, r.Status, r.Body)
		case rt.who != whoPublic && r.Header.Get("WWW-Authenticate") == "":
			t.Errorf("%s %s: 401 without WWW-Authenticate", rt.method, rt.path)
		case r.Status == http.StatusNotFound && (rt.method == "HEAD" || r.Code(t) == db.CodeNoRoute),
			r.Status == http.StatusMethodNotAllowed:
			t.Errorf("%s %s is not served: %d %s", rt.method, rt.path, r.Status, r.Body)
		}
	}
	// The original's health check.
	if r := ts.do(t, call{Method: "GET", Path: "/health"}); r.Status != 200 || r.JSON(t)["status"] != "ok" {
		t.Errorf("GET /health: %d %s", r.Status, r.Body)
	}
}

// Every route that needs a user refuses every way of not being one, with the code
// unauthorized; a route for administrators refuses a user who is not one.
func TestEveryUserRouteRefusesBadCredentials(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.register(t, "admin") // the first account is the administrator
	victim := ts.register(t, "victim")
	forged := forgedTokens(t, ts, victim)
	cases := []struct {
		name   string
		header string
	}{
		{"no token", ""},
		{"not bearer", "Basic dmljdGltOnB3"},
		{"bearer without a token", "Bearer "},
		{"malformed token", "Bearer " + forged["malformed"]},
		{"expired token", "Bearer " + forged["expired"]},
		{"tampered token", "Bearer " + forged["tampered payload"]},
		{"token of another key", "Bearer " + forged["other key"]},
	}
	for _, rt := range ts.routeTable() {
		if rt.who == whoPublic {
			continue
		}
		path := concrete(rt.path)
		for _, c := range cases {
			h := http.Header{}
			if c.header != "" {
				h.Set("Authorization", c.header)
			}
			r := ts.do(t, call{Method: rt.method, Path: path, Header: h})
			if r.Status != http.StatusUnauthorized || (rt.method != "HEAD" && r.Code(t) != db.CodeUnauthorized) {
				t.Errorf("%s %s with %s: %d %s, want 401 unauthorized", rt.method, rt.path, c.name, r.Status, r.Body)
			}
		}
		if rt.who == whoAdmin {
			r := ts.do(t, call{Method: rt.method, Path: path, Token: victim.Access})
			if r.Status != http.StatusForbidden || (rt.method != "HEAD" && r.Code(t) != db.CodeForbidden) {
				t.Errorf("%s %s as a user who is not an administrator: %d %s, want 403", rt.method, rt.path, r.Status, r.Body)
			}
			if r := ts.do(t, call{Method: rt.method, Path: path, Token: admin.Access}); r.Status == http.StatusForbidden {
				t.Errorf("%s %s refused the administrator: %s", rt.method, rt.path, r.Body)
			}
		}
	}
}

// A path the table does not have answers 404 no_route under /api; a method the table
// does not have for a path answers 405 with Allow naming exactly the table's methods.
func TestRoutesOutsideTheTable(t *testing.T) {
	ts := newTestServer(t)
	table := ts.routeTable()
	unknown := []call{{Method: "GET", Path: "/api/v1/nope"}, {Method: "GET", Path: "/api"},
		{Method: "GET", Path: "/api/v2/meta"}, {Method: "POST", Path: "/api/v1/images/"}}
	for _, rt := range table {
		more := concrete(rt.path) + "/more"
		// A path one segment longer may be another route's (/tokens and /tokens/:id,
		// /uploads and /uploads/:id: 405 for the other methods, tested below).
		taken := slices.ContainsFunc(table, func(o route) bool { return matches(o.path, more) })
		if strings.HasPrefix(rt.path, "/api/") && rt.method != "HEAD" && !taken {
			unknown = append(unknown, call{Method: rt.method, Path: more})
		}
	}
	for _, c := range unknown {
		if r := ts.do(t, c); r.Status != http.StatusNotFound || r.Code(t) != db.CodeNoRoute {
			t.Errorf("%s %s: %d %s, want 404 no_route", c.Method, c.Path, r.Status, r.Body)
		}
	}

	paths := map[string]bool{}
	for _, rt := range table {
		paths[concrete(rt.path)] = true
		paths[strings.Replace(concrete(rt.path), anID, "list", 1)] = true // where a static path meets a parameter
	}
	for path := range paths {
		var allowed []string
		for _, rt := range table {
			if matches(rt.path, path) && !slices.Contains(allowed, rt.method) {
				allowed = append(allowed, rt.method)
			}
		}
		if len(allowed) == 0 {
			continue
		}
		want := strings.Join(slices.Sorted(slices.Values(append(allowed, "OPTIONS"))), ", ")
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if slices.Contains(allowed, m) {
				continue
			}
			r := ts.do(t, call{Method: m, Path: path})
			if r.Status != http.StatusMethodNotAllowed || r.Code(t) != db.CodeMethodNotAllowed || r.Header.Get("Allow") != want {
				t.Errorf("%s %s: %d Allow %q %s; want 405 Allow %q", m, path, r.Status, r.Header.Get("Allow"), r.Body, want)
			}
		}
		if r := ts.do(t, call{Method: "OPTIONS", Path: path}); r.Header.Get("Allow") != want {
			t.Errorf("OPTIONS %s: Allow %q, want %q", path, r.Header.Get("Allow"), want)
		}
	}
}

// GET /api/v1/images/{id}, where the original's clients read a generation, answers what
// the status endpoint answers plus the original's result_url and error_message.
func TestOriginalGenerationRoute(t *testing.T) {
	ts := newTestServer(t)
	u := ts.register(t, "reader")
	other := ts.register(t, "other")
	ctx := context.Background()
	params := db.Params{Prompt: "a quiet harbour", Resolution: "1K", AspectRatio: "1:1", OutputFormat: "jpg",
		SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage}
	done, err := ts.DB.CreateGeneration(ctx, u.ID, params, db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := ts.DB.ClaimJobs(ctx, "test", time.Now().Add(time.Minute), 1, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if err := ts.DB.CompleteJob(ctx, jobs[0].ID, "test", done.ID, db.Result{ImageKey: "u/k.jpg", ImageType: "image/jpeg",
		ThumbKey: "u/k_thumb.jpg", Width: 1024, Height: 1024, Bytes: 1000, SHA256: "00"}); err != nil {
		t.Fatal(err)
	}
	pending, err := ts.DB.CreateGeneration(ctx, u.ID, params, db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{done.ID, pending.ID} {
		status := ts.do(t, call{Method: "GET", Path: "/api/v1/images/status/" + id, Token: u.Access})
		orig := ts.do(t, call{Method: "GET", Path: "/api/v1/images/" + id, Token: u.Access})
		if status.Status != 200 || orig.Status != 200 {
			t.Fatalf("status %d, original %d: %s", status.Status, orig.Status, orig.Body)
		}
		want, got := status.JSON(t), orig.JSON(t)
		want["result_url"], want["error_message"] = want["image_url"], want["error"]
		if len(got) != len(want) {
			t.Errorf("%s: %d keys, want %d: %s", id, len(got), len(want), orig.Body)
		}
		for k, v := range want {
			if gv, ok := got[k]; !ok || !reflect.DeepEqual(gv, v) {
				t.Errorf("%s: %s = %v, want %v", id, k, gv, v)
			}
		}
		if orig.Header.Get("Allow") != "" {
			t.Errorf("a served fallback route kept the router's Allow: %q", orig.Header.Get("Allow"))
		}
	}
	if url, _ := ts.do(t, call{Method: "GET", Path: "/api/v1/images/" + done.ID, Token: u.Access}).JSON(t)["result_url"].(string); url == "" {
		t.Error("a completed generation has no result_url")
	}
	for _, c := range []call{
		{Method: "GET", Path: "/api/v1/images/" + done.ID, Token: other.Access},
		{Method: "GET", Path: "/api/v1/images/" + anID, Token: u.Access},
		{Method: "GET", Path: "/api/v1/images/not-an-id", Token: u.Access},
	} {
		if r := ts.do(t, c); r.Status != 404 || r.Code(t) != db.CodeNotFound {
			t.Errorf("%s: %d %s, want 404 not_found", c.Path, r.Status, r.Body)
		}
	}
}

// The table's dispatch adds no allocation to a request: its closures are built once.
func TestDispatchAllocatesNothing(t *testing.T) {
	ts := newTestServer(t)
	me := &principal{User: &db.User{ID: 1}}
	ok := func(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error { return nil }
	creds := func(*http.Request, httprouter.Params) (*principal, error) { return me, nil }
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/x/"+anID, nil)
	ps := httprouter.Params{{Key: "id", Value: anID}}
	for _, rt := range []route{
		{method: "GET", path: "/x/:id", who: whoPublic, handle: ok},
		{method: "GET", path: "/x/:id", who: whoUser, creds: creds, handle: ok},
	} {
		h := ts.handle(rt)
		if n := testing.AllocsPerRun(100, func() { h(w, req, ps) }); n != 0 {
			t.Errorf("who %d: %v allocations per request", rt.who, n)
		}
	}
}
