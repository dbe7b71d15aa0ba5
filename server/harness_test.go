package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"nanobanana/config"
	"nanobanana/db"
	"nanobanana/internal/dbtest"
)

// testServer is a real Server on a real loopback listener over a real database (dbtest).
type testServer struct {
	*Server
	URL string
	DB  dbtest.Store
	Cfg config.Config
}

// newTestServer starts a server; opts may change the options before it is built.
func newTestServer(t testing.TB, opts ...func(*Options)) *testServer {
	t.Helper()
	return newTestServerOn(t, nil, opts...)
}

// newTestServerOn is newTestServer whose listener wrap may change (nil: as it is), to
// shape the connections the server accepts.
func newTestServerOn(t testing.TB, wrap func(net.Listener) net.Listener, opts ...func(*Options)) *testServer {
	t.Helper()
	dir := t.TempDir()
	d := dbtest.Open(t, dir, db.Options{})
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.SecretKey = "test-secret-test-secret-test-secret-0123"
	cfg.BcryptCost = 10 // the lowest allowed: keeps the tests fast
	sealer, err := db.NewSealer(cfg.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Config: cfg, DB: d, Sealer: sealer}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln, 5*time.Second); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &testServer{Server: s, URL: "http://" + ln.Addr().String(), DB: d, Cfg: o.Config}
}

// call sends a request and decodes a JSON answer (when out is not nil).
type call struct {
	Method, Path, Token string
	Body                any // marshalled as JSON unless it is a string or []byte
	Header              http.Header
}

type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer is not a JSON object (%d): %s", r.Status, r.Body)
	}
	return m
}

func (r reply) Detail(t testing.TB) string {
	t.Helper()
	d, _ := r.JSON(t)["detail"].(string)
	return d
}

func (ts *testServer) do(t testing.TB, c call) reply {
	t.Helper()
	var body io.Reader
	switch b := c.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(c.Method, ts.URL+c.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.Method, c.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	rep := reply{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	if rep.Status >= 400 && c.Method != http.MethodHead {
		checkErrorBody(t, c.Method+" "+c.Path, rep)
	}
	checkAnswerSchema(t, ts, c, rep)
	return rep
}

// checkErrorBody holds every error answer the tests provoke to the contract: JSON with a
// detail sentence and a code of db's catalogue, and the status that code maps to.
func checkErrorBody(t testing.TB, what string, r reply) {
	t.Helper()
	var body struct {
		Detail *string `json:"detail"`
		Code   db.Code `json:"code"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Errorf("%s: error answer %d is not JSON: %q", what, r.Status, r.Body)
		return
	}
	switch {
	case body.Detail == nil || *body.Detail == "":
		t.Errorf("%s: error answer %d has no detail: %s", what, r.Status, r.Body)
	case !slices.Contains(db.Codes(), body.Code):
		t.Errorf("%s: error answer %d has code %q, not one of db's catalogue: %s", what, r.Status, body.Code, r.Body)
	case httpStatus(body.Code) != r.Status:
		t.Errorf("%s: error answer %d has code %q, which maps to %d", what, r.Status, body.Code, httpStatus(body.Code))
	}
}

func (r reply) Code(t testing.TB) db.Code {
	t.Helper()
	c, _ := r.JSON(t)["code"].(string)
	return db.Code(c)
}

// session is a registered user with its tokens.
type session struct {
	ID      int64
	Name    string
	Access  string
	Refresh string
}

func (ts *testServer) register(t testing.TB, name string) session {
	t.Helper()
	r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]string{
		"username": name, "email": name + "@example.com", "password": "password-" + name,
	}})
	if r.Status != http.StatusCreated {
		t.Fatalf("register %s: %d %s", name, r.Status, r.Body)
	}
	m := r.JSON(t)
	u := m["user"].(map[string]any)
	return session{ID: int64(u["id"].(float64)), Name: name, Access: m["access_token"].(string), Refresh: m["refresh_token"].(string)}
}
