package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"nanobanana/db"
)

// Every code of the catalogue answers with its kind's status; the few codes HTTP has a
// status of its own for are the only exceptions.
func TestEveryCodeMapsToItsKindsStatus(t *testing.T) {
	byKind := map[db.Kind]int{
		db.KindInternal: 500, db.KindInvalid: 422, db.KindUnauthorized: 401, db.KindForbidden: 403,
		db.KindNotFound: 404, db.KindConflict: 409, db.KindLimit: 429, db.KindTooLarge: 413,
		db.KindUnavailable: 503, db.KindUpstream: 502, db.KindTimeout: 408, db.KindFull: 507,
	}
	exceptions := map[db.Code]int{
		db.CodeBadJSON: 400, db.CodeBadRequest: 400, db.CodeNoAPIKey: 400,
		db.CodeMethodNotAllowed: 405, db.CodeUnsupportedMedia: 415,
	}
	for _, c := range db.Codes() {
		want, ok := exceptions[c]
		if !ok {
			want = byKind[c.Kind()]
		}
		if got := httpStatus(c); got != want {
			t.Errorf("%s (kind %d): status %d, want %d", c, c.Kind(), got, want)
		}
		if c != db.Code(strings.ToLower(string(c))) || strings.ContainsAny(string(c), " -") {
			t.Errorf("code %q is not lowercase snake_case", c)
		}
	}
	if got := httpStatus("no_such_code"); got != 500 {
		t.Errorf("a code outside the catalogue: %d, want 500", got)
	}
}

// What db (and the queue) return reaches the client by its code: the status from the
// code, the sentence from the reason, and nothing of an internal error.
func TestStoreErrorsAnswerByTheirCode(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	const id = "0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		name       string
		err        error
		status     int
		code       db.Code
		detail     string
		retryAfter string
	}{
		{"still stopping", genError(id, fmt.Errorf("retry: %w", db.Errorf(db.CodeStillStopping, "the previous run is still stopping; retry in a moment"))),
			409, db.CodeStillStopping, "Generation " + id + ": the previous run is still stopping; retry in a moment.", "2"},
		{"already finished", genError(id, db.Errorf(db.CodeAlreadyFinished, "it is already completed")),
			409, db.CodeAlreadyFinished, "Generation " + id + ": it is already completed.", ""},
		{"not retryable", genError(id, db.Errorf(db.CodeNotRetryable, "only failed or canceled generations can be retried, this one is running")),
			409, db.CodeNotRetryable, "Generation " + id + ": only failed or canceled generations can be retried, this one is running.", ""},
		{"bare conflict", genError(id, db.ErrConflict),
			409, db.CodeConflict, "Generation " + id + ": it cannot be changed in its current state.", ""},
		{"not found", genError(id, fmt.Errorf("get: %w", db.ErrNotFound)),
			404, db.CodeNotFound, `No generation with id "` + id + `".`, ""},
		{"db error without a handler's words", db.Errorf(db.CodeInvalid, "status %q is not a generation status", "done"),
			422, db.CodeInvalid, `Status "done" is not a generation status.`, ""},
		{"bare sentinel", db.ErrNotFound, 404, db.CodeNotFound, "Not found: it does not exist or is not yours.", ""},
		{"lease lost is internal", fmt.Errorf("x: %w", db.ErrLeaseLost), 500, db.CodeInternal, internal(nil).Detail, ""},
		{"plain error is internal", errors.New("disk on fire at /var/lib/secret"), 500, db.CodeInternal, internal(nil).Detail, ""},
		{"throttle", &apiError{Code: db.CodeTooManyAttempts, Detail: "Wait.", RetryAfter: 1500e6}, 429, db.CodeTooManyAttempts, "Wait.", "2"},
	} {
		w := httptest.NewRecorder()
		s.fail(w, httptest.NewRequest("POST", "/api/v1/images/retry/"+id, nil), c.err)
		var body errorJSON
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %s", c.name, err, w.Body)
		}
		if w.Code != c.status || body.Code != c.code || body.Detail != c.detail || w.Header().Get("Retry-After") != c.retryAfter {
			t.Errorf("%s: %d %s Retry-After %q; want %d %s %q Retry-After %q", c.name, w.Code, w.Body, w.Header().Get("Retry-After"),
				c.status, c.code, c.detail, c.retryAfter)
		}
	}
}

// The store's uniqueness codes decide which sentence a sign-up gets, not its text.
func TestRegisterConflictsByCode(t *testing.T) {
	ts := newTestServer(t)
	ts.register(t, "taken")
	for _, c := range []struct {
		body map[string]string
		code db.Code
		says string
	}{
		{map[string]string{"username": "TAKEN", "email": "new@example.com", "password": "password1"}, db.CodeUsernameTaken, "username is taken"},
		{map[string]string{"username": "username", "email": "Taken@example.com", "password": "password1"}, db.CodeEmailTaken, "email already exists"},
	} {
		r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/register", Body: c.body})
		if r.Status != http.StatusConflict || r.Code(t) != c.code || !strings.Contains(r.Detail(t), c.says) {
			t.Errorf("%v: %d %s; want 409 %s", c.body, r.Status, r.Body, c.code)
		}
	}
}

// The README's table of error codes lists every code of the catalogue at the status the
// server answers it with, so a new code cannot go undocumented.
func TestREADMEListsEveryErrorCode(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := map[db.Code]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		status, codes, ok := strings.Cut(strings.TrimPrefix(line, "| "), " | ")
		if !ok || len(status) != 3 || status[0] < '1' || status[0] > '5' {
			continue
		}
		for _, f := range strings.Split(codes, "`") {
			if f != "" && f == strings.ToLower(f) && !strings.ContainsAny(f, " ,()|") {
				row[db.Code(f)] = status
			}
		}
	}
	for _, c := range db.Codes() {
		if got, want := row[c], strconv.Itoa(httpStatus(c)); got != want {
			t.Errorf("README lists %s at status %q; the server answers it with %s", c, got, want)
		}
	}
}
