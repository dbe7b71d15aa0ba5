package server

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"nanobanana/replicate"
)

// delivery signs body as Replicate would, with the given id and time.
func delivery(t *testing.T, secret, id string, at time.Time, body []byte) http.Header {
	t.Helper()
	sig, err := replicate.SignWebhook(secret, id, at.Unix(), body)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{
		"Content-Type":                   {"application/json"},
		replicate.HeaderWebhookID:        {id},
		replicate.HeaderWebhookTimestamp: {strconv.FormatInt(at.Unix(), 10)},
		replicate.HeaderWebhookSignature: {sig},
	}
}

func TestWebhookVerifiesAndWakes(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	secret := p.Fake.WebhookSecret()
	body := []byte(`{"id":"pred_abc123","status":"succeeded","output":"https://example.invalid/x.jpg"}`)
	post := func(h http.Header, b []byte) int {
		return p.do(t, call{Method: "POST", Path: "/api/v1/webhooks/replicate", Body: b, Header: h}).Status
	}
	if s := post(delivery(t, secret, "msg_1", time.Now(), body), body); s != 204 {
		t.Fatalf("valid delivery: %d", s)
	}
	if w := p.Queue.Woken(); !slices.Equal(w, []string{"pred_abc123"}) {
		t.Fatalf("woken %v", w)
	}
	// Replicate retries the same delivery: acknowledged, not acted on twice.
	if s := post(delivery(t, secret, "msg_1", time.Now(), body), body); s != 204 {
		t.Errorf("duplicate: %d", s)
	}
	refused := []struct {
		name string
		h    http.Header
		body []byte
	}{
		{"wrong secret", delivery(t, "whsec_"+"c29tZSBvdGhlciBzZWNyZXQ=", "msg_2", time.Now(), body), body},
		{"body changed", delivery(t, secret, "msg_3", time.Now(), body), []byte(`{"id":"pred_other","status":"succeeded"}`)},
		{"too old", delivery(t, secret, "msg_4", time.Now().Add(-6*time.Minute), body), body},
		{"from the future", delivery(t, secret, "msg_5", time.Now().Add(6*time.Minute), body), body},
		{"unsigned", http.Header{"Content-Type": {"application/json"}}, body},
	}
	for _, c := range refused {
		if s := post(c.h, c.body); s != 401 {
			t.Errorf("%s: %d, want 401", c.name, s)
		}
	}
	if w := p.Queue.Woken(); len(w) != 1 {
		t.Errorf("woken %v after duplicates and forgeries, want one wake", w)
	}
}

func TestWebhookSecretFetchedFromReplicate(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, func(o *Options) {
		o.WebhookSecret = ""
		o.Config.PublicURL = "https://images.example.org"
	})
	body := []byte(`{"id":"pred_xyz","status":"succeeded"}`)
	h := delivery(t, p.Fake.WebhookSecret(), "msg_9", time.Now(), body)
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/webhooks/replicate", Body: body, Header: h}); r.Status != 204 {
		t.Fatalf("delivery verified with the fetched secret: %d %s", r.Status, r.Body)
	}
	if w := p.Queue.Woken(); !slices.Equal(w, []string{"pred_xyz"}) {
		t.Errorf("woken %v", w)
	}

	// Without PUBLIC_URL nothing asked for webhooks: no secret, and no wake.
	q := newPipeline(t, func(o *Options) { o.WebhookSecret = "" })
	if r := q.do(t, call{Method: "POST", Path: "/api/v1/webhooks/replicate", Body: body, Header: h}); r.Status != 503 {
		t.Errorf("unconfigured webhooks: %d", r.Status)
	}
	if w := q.Queue.Woken(); len(w) != 0 {
		t.Errorf("woken %v", w)
	}
}
