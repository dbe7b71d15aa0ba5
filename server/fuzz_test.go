package server

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzTokenParse: no input makes the parser panic or accept a token it did not sign.
func FuzzTokenParse(f *testing.F) {
	tk := newTokens("fuzz-secret-fuzz-secret-fuzz-secret-00", "HS256", time.Hour, time.Now)
	good, _, _ := tk.issue(7, 3, "fam")
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		uid, ver, sid, _, err := tk.parse(raw)
		if err != nil {
			return
		}
		// Anything accepted must carry the claims we issued: only this process holds the key.
		if uid != 7 || ver != 3 || sid != "fam" {
			t.Fatalf("accepted a token it did not issue: %q -> %d %d %q", raw, uid, ver, sid)
		}
	})
}

// FuzzDecodeJSON: any body yields either a decoded value or an *apiError with a 4xx
// status and a sentence, never a panic or a 500.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"username":"a","email":"b","password":"c"}`), "application/json")
	f.Add([]byte(`{"username":5}`), "")
	f.Add([]byte(`[1,2]`), "text/plain")
	f.Add([]byte(`{"a":1}{"b":2}`), "application/json")
	f.Add([]byte("\x00\xff"), "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 1<<10)
		var dst registerRequest
		err := decodeJSON(r, &dst)
		if err == nil {
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status() < 400 || ae.Status() >= 500 || ae.Detail == "" {
			t.Fatalf("decode error is not a client error with a sentence: %#v", err)
		}
	})
}
