package replicate

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vecHeader(sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", vecID)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", sig)
	return h
}

func TestSignWebhookMatchesSpecVector(t *testing.T) {
	got, err := SignWebhook(vecSecret, vecID, vecTS, []byte(vecBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vecSig {
		t.Fatalf("signature = %q, want %q", got, vecSig)
	}
}

func TestVerifyWebhook(t *testing.T) {
	at := time.Unix(vecTS, 0)
	cases := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		ok     bool
	}{
		{"spec vector", vecSecret, vecHeader(vecSig), vecBody, at, true},
		{"among several signatures", vecSecret, vecHeader("v1,AAAA " + vecSig), vecBody, at.Add(4 * time.Minute), true},
		{"tampered body", vecSecret, vecHeader(vecSig), `{"test": 2432232315}`, at, false},
		{"wrong secret", "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", vecHeader(vecSig), vecBody, at, false},
		{"too old", vecSecret, vecHeader(vecSig), vecBody, at.Add(5*time.Minute + time.Second), false},
		{"from the future", vecSecret, vecHeader(vecSig), vecBody, at.Add(-6 * time.Minute), false},
		{"wrong version", vecSecret, vecHeader("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), vecBody, at, false},
		{"no headers", vecSecret, http.Header{}, vecBody, at, false},
		{"secret without prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", vecHeader(vecSig), vecBody, at, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyWebhook(c.secret, c.h, []byte(c.body), c.now)
			if c.ok && err != nil {
				t.Fatalf("want accepted, got %v", err)
			}
			if !c.ok && !errors.Is(err, ErrInvalidWebhook) {
				t.Fatalf("want ErrInvalidWebhook, got %v", err)
			}
		})
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add(vecID, "1614265330", vecSig, []byte(vecBody))
	f.Add("", "x", "v1,", []byte{})
	f.Add("id", "-99999999999999999", "v1,!!! v1 ,,", []byte("{"))
	now := time.Unix(vecTS, 0)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		err := VerifyWebhook(vecSecret, h, body, now)
		if err == nil {
			// Accepting means the signature must be the real one.
			want, _ := SignWebhook(vecSecret, id, vecTS, body)
			if id == "" || want == "" {
				t.Fatalf("accepted an unsigned delivery")
			}
		}
	})
}
