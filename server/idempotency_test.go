package server

import (
	"net/http"
	"strings"
	"testing"
)

// The same Idempotency-Key from the same user answers the first request's generation
// and queues nothing: Replicate sees one prediction. Another user's same key is theirs;
// the key sent again with other parameters is 422; a malformed key is 400.
func TestIdempotencyKey(t *testing.T) {
	p := newPipeline(t)
	alice, bob := p.register(t, "alice"), p.register(t, "bob")
	post := func(tok, key string, body map[string]any) reply {
		return p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: tok, Body: body,
			Header: http.Header{"Idempotency-Key": {key}}})
	}
	body := map[string]any{"prompt": "a banana lighthouse", "resolution": "1K"}
	r1 := post(alice.Access, "click-1", body)
	if r1.Status != http.StatusAccepted {
		t.Fatalf("first: %d %s", r1.Status, r1.Body)
	}
	id := r1.JSON(t)["id"].(string)
	p.waitStatus(t, alice.Access, id, "completed")
	r2 := post(alice.Access, "click-1", body)
	if r2.Status != http.StatusAccepted {
		t.Fatalf("again: %d %s", r2.Status, r2.Body)
	}
	if g := r2.JSON(t); g["id"] != id || g["status"] != "completed" {
		t.Fatalf("again answered %v %v, want %s as it is now (completed)", g["id"], g["status"], id)
	}
	if n := p.Fake.Stats().Created; n != 1 {
		t.Fatalf("%d predictions, want 1", n)
	}

	rb := post(bob.Access, "click-1", body)
	if rb.Status != http.StatusAccepted || rb.JSON(t)["id"] == id {
		t.Fatalf("bob's same key: %d %s", rb.Status, rb.Body)
	}

	other := map[string]any{"prompt": "a banana submarine", "resolution": "1K"}
	r3 := post(alice.Access, "click-1", other)
	if r3.Status != http.StatusUnprocessableEntity || r3.JSON(t)["code"] != "idempotency_key_reused" {
		t.Fatalf("other body: %d %s", r3.Status, r3.Body)
	}

	for _, bad := range []string{"", strings.Repeat("k", 256), "caf\u00e9", "tab\there"} {
		r := post(alice.Access, bad, body)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "Idempotency-Key") {
			t.Fatalf("key %q: %d %s", bad, r.Status, r.Body)
		}
	}
	if r := post(alice.Access, strings.Repeat("k", 255), body); r.Status != http.StatusAccepted {
		t.Fatalf("a 255-character key: %d %s", r.Status, r.Body)
	}
}
