package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
	"nanobanana/replicate"
)

// webhookBodyLimit bounds a delivery: a prediction's JSON, logs included.
const webhookBodyLimit = 1 << 20

// webhookSeen is how many delivery ids are remembered to drop Replicate's retries of a
// delivery already handled. Deliveries older than the 5-minute window are refused by the
// signature check anyway, so the set only needs to cover that window's traffic.
const webhookSeen = 4096

// webhookState holds the signing secret (configured, or fetched once from Replicate)
// and the recently seen delivery ids.
type webhookState struct {
	mu        sync.Mutex
	secret    string
	fetchedAt time.Time // last failed fetch, so a Replicate outage is not hammered
	seen      map[string]struct{}
	order     []string // ring of seen ids, oldest at next
	next      int
}

func newWebhookState(secret string) *webhookState {
	return &webhookState{secret: secret, seen: make(map[string]struct{}, webhookSeen), order: make([]string, webhookSeen)}
}

// firstSighting records id and reports whether it was new.
func (ws *webhookState) firstSighting(id string) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if _, dup := ws.seen[id]; dup {
		return false
	}
	if old := ws.order[ws.next]; old != "" {
		delete(ws.seen, old)
	}
	ws.order[ws.next] = id
	ws.next = (ws.next + 1) % len(ws.order)
	ws.seen[id] = struct{}{}
	return true
}

// webhookSecret returns the secret deliveries are signed with. Without a configured one
// it asks Replicate once with the global token (webhooks are only requested when
// PUBLIC_URL is set) and keeps the answer; a failure is retried after a minute.
func (s *Server) webhookSecret(ctx context.Context) (string, error) {
	ws := s.webhooks
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.secret != "" {
		return ws.secret, nil
	}
	if s.cfg.PublicURL == "" || s.cfg.ReplicateAPIToken == "" || s.replicate == nil {
		return "", errors.New("webhooks are not configured (PUBLIC_URL and REPLICATE_API_TOKEN)")
	}
	if !ws.fetchedAt.IsZero() && s.now().Sub(ws.fetchedAt) < time.Minute {
		return "", errors.New("webhook secret unavailable; retrying shortly")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	secret, err := s.replicate.WebhookSecret(ctx, s.cfg.ReplicateAPIToken)
	if err != nil {
		ws.fetchedAt = s.now()
		return "", err
	}
	ws.secret = secret
	return secret, nil
}

// webhook receives Replicate's "completed" deliveries. It only wakes the job that
// follows the prediction: the worker then reads the prediction from Replicate itself, so
// the body is never trusted beyond its id, and polling remains the backstop.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	body, err := io.ReadAll(r.Body) // capped at webhookBodyLimit by the route
	if err != nil {
		return jsonError(err)
	}
	secret, err := s.webhookSecret(r.Context())
	if err != nil {
		s.log.WarnContext(r.Context(), "webhook refused: no signing secret", "err", err)
		return &apiError{Code: db.CodeUnavailable, Detail: "Webhooks cannot be verified right now.", RetryAfter: 30 * time.Second}
	}
	if err := replicate.VerifyWebhook(secret, r.Header, body, s.now()); err != nil {
		return unauthorized("Webhook signature or timestamp is not valid.")
	}
	var pred struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &pred); err != nil || pred.ID == "" {
		return badRequest("The webhook body is not a prediction.")
	}
	if !s.webhooks.firstSighting(r.Header.Get(replicate.HeaderWebhookID)) {
		w.WriteHeader(http.StatusNoContent) // a retry of a delivery already handled
		return nil
	}
	if s.queue != nil {
		s.queue.Wake(pred.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
