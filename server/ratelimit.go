package server

import (
	"sync"
	"time"
)

// rateLimit admits at most n events a window per user, in bursts of up to n: the
// generic cell rate algorithm, which keeps one time per user (when the user's
// allowance is next whole) instead of a log of events. It lives in this process: each
// process sharing a PostgreSQL database admits its own n. The nil limit admits all.
type rateLimit struct {
	n      int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	next  map[int64]time.Time // the theoretical arrival time of the user's next event
	swept time.Time
}

// newRateLimit returns a limit of n events per window; n <= 0 is no limit (nil).
func newRateLimit(n int, window time.Duration, now func() time.Time) *rateLimit {
	if n <= 0 {
		return nil
	}
	return &rateLimit{n: n, window: window, now: now, next: map[int64]time.Time{}}
}

// allow counts one event of user and reports whether it is admitted, and if not, how
// long until it would be.
func (l *rateLimit) allow(user int64) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	now := l.now()
	interval := l.window / time.Duration(l.n)
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.next[user]
	if next.Before(now) {
		next = now
	}
	// n events fit in a window: the user is admitted while its next time is at most a
	// window, less one event's share, ahead of now.
	if wait := next.Sub(now) - (l.window - interval); wait > 0 {
		return wait, false
	}
	l.next[user] = next.Add(interval)
	// Users whose allowance is whole again are forgotten, now and then.
	if now.Sub(l.swept) > l.window {
		l.swept = now
		for u, t := range l.next {
			if !t.After(now) {
				delete(l.next, u)
			}
		}
	}
	return 0, true
}
