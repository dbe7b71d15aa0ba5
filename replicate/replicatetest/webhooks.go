package replicatetest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"nanobanana/replicate"
)

type delivery struct {
	id   string // stable across retries, so receivers can drop repeats
	url  string
	body []byte
}

type webhookQueue struct {
	mu    sync.Mutex
	queue []delivery
	kick  chan struct{}
}

// hookLocked queues a delivery of p's current state when p asked for this
// event. Only loopback receivers are ever called.
func (s *Server) hookLocked(p *pred, ev string) {
	if p.webhook == "" || !p.filter[ev] {
		return
	}
	if !loopbackURL(p.webhook) {
		s.stats.WebhooksDropped++
		s.log.Warn("fake replicate: webhook not delivered: only loopback receivers are called", "prediction", p.id)
		return
	}
	body, err := json.Marshal(s.wireLocked(p))
	if err != nil {
		return
	}
	s.hooks.mu.Lock()
	s.hooks.queue = append(s.hooks.queue, delivery{id: "msg_" + newID(), url: p.webhook, body: body})
	s.hooks.mu.Unlock()
	select {
	case s.hooks.kick <- struct{}{}:
	default:
	}
}

func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// runWebhooks delivers in order, one at a time, retrying refusals.
func (s *Server) runWebhooks() {
	ctx := s.hookCtx
	for {
		s.hooks.mu.Lock()
		var d delivery
		ok := len(s.hooks.queue) > 0
		if ok {
			d = s.hooks.queue[0]
			s.hooks.queue = s.hooks.queue[1:]
		}
		s.hooks.mu.Unlock()
		if !ok {
			select {
			case <-s.hooks.kick:
				continue
			case <-s.closing:
				return
			}
		}
		s.deliver(ctx, d)
	}
}

func (s *Server) deliver(ctx context.Context, d delivery) {
	s.mu.Lock()
	retries, delay := s.cfg.WebhookRetries, s.cfg.WebhookRetryDelay
	s.mu.Unlock()
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			delay *= 2
		}
		// Receivers check the timestamp against their wall clock, so it is
		// real time even under ManualClock.
		now := time.Now().Unix()
		sig, err := replicate.SignWebhook(s.secret, d.id, now, d.body)
		if err != nil {
			s.log.Error("fake replicate: cannot sign webhook", "err", err)
			return
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", d.id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now, 10))
		req.Header.Set("webhook-signature", sig)
		s.mu.Lock()
		s.stats.WebhookAttempts++
		s.mu.Unlock()
		resp, err := s.hookHTTP.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				s.mu.Lock()
				s.stats.WebhooksSent++
				s.mu.Unlock()
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
	s.mu.Lock()
	s.stats.WebhooksFailed++
	s.mu.Unlock()
}
