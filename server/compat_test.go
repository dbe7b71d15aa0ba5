package server

import (
	"net/http"
	"testing"

	"nanobanana/db"
)

// The original service's clients: what they send must be answered as they expect.

func TestLoginUsernameOrEmail(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.register(t, "alice")
	for _, login := range []string{"alice", "alice@example.com"} {
		r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login",
			Body: map[string]string{"username_or_email": login, "password": "password-alice"}})
		if r.Status != http.StatusOK || r.JSON(t)["access_token"] == "" {
			t.Fatalf("login with username_or_email %q: %d %s", login, r.Status, r.Body)
		}
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"username_or_email": "alice", "password": "wrong-password"}}); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password with username_or_email: %d %s", r.Status, r.Body)
	}
}

func TestInvalidUTF8IsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, c := range []struct {
		body, field string
	}{
		{"{\"username\":\"al\xffce\",\"password\":\"password-alice\"}", "username"},
		{"{\"password\":\"x\",\"username\":\"ok\",\"nested\":{\"list\":[\"a\",\"\xc3\"]}}", "nested.list.1"},
		{"{\"user\xfename\":\"alice\"}", "user\ufffdname"},
	} {
		r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: []byte(c.body)})
		if r.Status != http.StatusBadRequest || r.Code(t) != db.CodeBadJSON {
			t.Fatalf("%q: %d %s", c.body, r.Status, r.Body)
		}
		fields, _ := r.JSON(t)["fields"].([]any)
		if len(fields) != 1 || fields[0].(map[string]any)["field"] != c.field {
			t.Fatalf("%q: the answer does not name the field %q: %s", c.body, c.field, r.Body)
		}
	}
}
