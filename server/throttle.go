package server

import (
	"sync"
	"time"
)

// throttle counts failures per key in fixed windows. It is in memory: a restart forgets
// it, which only gives an attacker one fresh window, and it keeps the login path free of
// database writes.
type throttle struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	m      map[string]*failWindow
}

type failWindow struct {
	fails int
	reset time.Time
}

func newThrottle(limit int, window time.Duration, now func() time.Time) *throttle {
	return &throttle{limit: limit, window: window, now: now, m: map[string]*failWindow{}}
}

// blocked reports how long key must wait, or 0 when it may try.
func (t *throttle) blocked(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.m[key]
	now := t.now()
	if w == nil || !now.Before(w.reset) || w.fails < t.limit {
		return 0
	}
	return w.reset.Sub(now)
}

// fail records one failure for key.
func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.m) > 50_000 {
		// Bound the memory an attacker cycling keys can take: drop what has expired.
		for k, w := range t.m {
			if !now.Before(w.reset) {
				delete(t.m, k)
			}
		}
	}
	w := t.m[key]
	if w == nil || !now.Before(w.reset) {
		w = &failWindow{reset: now.Add(t.window)}
		t.m[key] = w
	}
	w.fails++
}

// clear forgets key's failures (after a success).
func (t *throttle) clear(key string) {
	t.mu.Lock()
	delete(t.m, key)
	t.mu.Unlock()
}
