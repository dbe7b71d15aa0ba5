package replicate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookTolerance is how far a webhook's timestamp may be from now; older
// deliveries are refused so a captured one cannot be replayed later.
const WebhookTolerance = 5 * time.Minute

// ErrInvalidWebhook wraps every reason VerifyWebhook refuses a delivery.
var ErrInvalidWebhook = errors.New("replicate: invalid webhook")

// Webhook header names.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

func webhookKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, "whsec_")
	if !ok || raw == "" {
		return nil, fmt.Errorf("%w: secret does not start with whsec_", ErrInvalidWebhook)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		// Some secrets come without padding.
		key, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(raw, "="))
	}
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("%w: secret is not base64", ErrInvalidWebhook)
	}
	return key, nil
}

// SignWebhook returns the "v1,<base64>" signature of a delivery.
func SignWebhook(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := webhookKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(webhookMAC(key, id, strconv.FormatInt(timestamp, 10), body)), nil
}

func webhookMAC(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a delivery's signature and freshness. The body must
// be the raw bytes as received. Any one matching v1 signature accepts it
// (several are sent while a secret is being rotated).
func VerifyWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := webhookKey(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("%w: missing webhook-id, webhook-timestamp or webhook-signature", ErrInvalidWebhook)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", ErrInvalidWebhook)
	}
	skew := now.Sub(time.Unix(sec, 0))
	if skew > WebhookTolerance || skew < -WebhookTolerance {
		return fmt.Errorf("%w: timestamp too far from now", ErrInvalidWebhook)
	}
	want := webhookMAC(key, id, strings.TrimSpace(ts), body)
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no matching signature", ErrInvalidWebhook)
}
