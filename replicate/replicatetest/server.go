// Package replicatetest owns a fake Replicate API for google/nano-banana-pro:
// a real HTTP server on a loopback address that behaves as the real one is
// documented to (auth, 201 + Location, input validation with invalid_fields,
// the starting/processing/terminal lifecycle including aborted, Prefer: wait,
// Cancel-After, retention, list paging, files, signed webhooks, real image
// bytes at delivery URLs), with knobs for faults and counters for checks.
//
// Prompt markers steer one prediction: "[[E005]]" fails with the safety
// message, "[[E6716]]" and "[[PA]]" with the transient platform errors,
// "[[fail]]" generically, "[[slow]]" runs SlowRunTime, "[[stuck]]" never
// leaves "starting" (until canceled or its Cancel-After aborts it).
//
// Choices where the real service's answer is unknown: a malformed
// "Prefer: wait" (0, over 60, not a number) and a Cancel-After under 5 s or
// unparseable are refused with 422 and invalid_fields, so client bugs show.
// Tokens are accounts: each sees only its own predictions.
//
// It must never listen on or call anything but loopback addresses, and it
// never logs tokens.
package replicatetest

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultModel is the model the fake serves unless told otherwise.
const DefaultModel = "google/nano-banana-pro"

// Options configures a Server at start.
type Options struct {
	// Addr is a loopback "host:port"; default "127.0.0.1:0".
	Addr string
	// Model is "owner/name"; other models answer 404 "Model not found".
	Model string
	// WebhookSecret signs webhooks ("whsec_<base64>"); default random.
	WebhookSecret string
	// ManualClock freezes the fake's clock: time only moves with Advance, so
	// tests of queueing, Cancel-After, Prefer: wait and retention are exact.
	ManualClock bool
	// Seed makes the random fault and failure fractions repeatable.
	Seed uint64
	// Logger gets one line per notable event; nil discards.
	Logger *slog.Logger
	// Config is the initial set of run-time knobs (zero values: defaults).
	Config
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	opts   Options
	ln     net.Listener
	srv    *http.Server
	base   string // http://127.0.0.1:PORT
	log    *slog.Logger
	secret string

	mu      sync.Mutex
	cfg     Config
	stats   Stats
	rng     *mrand.Rand
	preds   map[string]*pred
	seq     uint64
	files   map[string]*file
	closed  bool
	events  eventHeap
	evSeq   uint64
	virtual time.Time // the clock in ManualClock mode

	kick     chan struct{} // wakes the scheduler after a new event
	closing  chan struct{}
	wg       sync.WaitGroup // scheduler and webhook goroutines
	handlers sync.WaitGroup // running HTTP handlers

	hooks    webhookQueue
	hookCtx  context.Context
	stopHook context.CancelFunc
	hookHTTP *http.Client
	images   imageCache
}

// New starts a fake and panics when it cannot listen, like httptest.
func New(o Options) *Server {
	s, err := Start(o)
	if err != nil {
		panic("replicatetest: " + err.Error())
	}
	return s
}

// Start starts a fake.
func Start(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Model == "" {
		o.Model = DefaultModel
	}
	if err := checkLoopbackAddr(o.Addr); err != nil {
		return nil, err
	}
	if o.WebhookSecret == "" {
		k := make([]byte, 24)
		_, _ = rand.Read(k)
		o.WebhookSecret = "whsec_" + base64.StdEncoding.EncodeToString(k)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:    o,
		ln:      ln,
		base:    "http://" + ln.Addr().String(),
		log:     o.Logger,
		secret:  o.WebhookSecret,
		cfg:     o.Config.withDefaults(),
		rng:     mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		preds:   map[string]*pred{},
		files:   map[string]*file{},
		virtual: time.Now().UTC(),
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
	s.stats.CreatedByToken = map[string]int{}
	s.hookCtx, s.stopHook = context.WithCancel(context.Background())
	s.hooks.kick = make(chan struct{}, 1)
	s.hookHTTP = &http.Client{
		Timeout: 5 * time.Second,
		// A webhook receiver may not bounce the fake anywhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); _ = s.srv.Serve(ln) }()
	go func() { defer s.wg.Done(); s.runScheduler() }()
	go func() { defer s.wg.Done(); s.runWebhooks() }()
	return s, nil
}

func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q is not loopback", addr)
	}
	return nil
}

// URL is the API base, ending in /v1.
func (s *Server) URL() string { return s.base + "/v1" }

// Addr is the listening "host:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// WebhookSecret is the secret webhooks are signed with.
func (s *Server) WebhookSecret() string { return s.secret }

// Close stops the server and waits for every goroutine it started.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	s.stopHook()
	_ = s.srv.Close()
	s.handlers.Wait()
	s.wg.Wait()
	s.hookHTTP.CloseIdleConnections()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.clone()
}

// Config returns the current knobs.
func (s *Server) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cfg
	c.RejectedTokens = slices.Clone(c.RejectedTokens)
	c.NoCreditTokens = slices.Clone(c.NoCreditTokens)
	return c
}

// Configure changes knobs at run time. Values are taken as given (no
// defaults), so a zero QueueTime here means no queueing at all.
func (s *Server) Configure(f func(*Config)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.cfg)
}

// Reset forgets predictions, files and counters and restores the knobs
// given at start. The webhook secret stays.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.preds {
		p.cancelEvents()
		if !p.terminal() {
			close(p.done)
		}
	}
	s.preds = map[string]*pred{}
	s.files = map[string]*file{}
	s.stats = Stats{CreatedByToken: map[string]int{}}
	s.cfg = s.opts.Config.withDefaults()
}

// Advance moves the manual clock forward, running whatever falls due in
// order. It panics without ManualClock.
func (s *Server) Advance(d time.Duration) {
	if !s.opts.ManualClock {
		panic("replicatetest: Advance needs Options.ManualClock")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target := s.virtual.Add(d)
	for len(s.events) > 0 && !s.events[0].at.After(target) {
		ev := heap.Pop(&s.events).(*event)
		if ev.at.After(s.virtual) {
			s.virtual = ev.at
		}
		if !ev.canceled {
			ev.fn()
		}
	}
	s.virtual = target
}

// Now is the fake's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Server) nowLocked() time.Time {
	if s.opts.ManualClock {
		return s.virtual
	}
	return time.Now().UTC()
}

// event is a scheduled state change; fn runs with s.mu held.
type event struct {
	at       time.Time
	seq      uint64
	fn       func()
	canceled bool
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	*h = old[:len(old)-1]
	return ev
}

func (s *Server) scheduleLocked(after time.Duration, fn func()) *event {
	s.evSeq++
	ev := &event{at: s.nowLocked().Add(after), seq: s.evSeq, fn: fn}
	heap.Push(&s.events, ev)
	if !s.opts.ManualClock {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return ev
}

// runScheduler is the one goroutine that moves predictions along in real
// time; there is no goroutine per prediction to leak.
func (s *Server) runScheduler() {
	if s.opts.ManualClock {
		<-s.closing
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := time.Now().UTC()
		for len(s.events) > 0 && !s.events[0].at.After(now) {
			ev := heap.Pop(&s.events).(*event)
			if !ev.canceled {
				ev.fn()
			}
		}
		wait := time.Hour
		if len(s.events) > 0 {
			wait = s.events[0].at.Sub(now)
		}
		s.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.kick:
		case <-s.closing:
			return
		}
	}
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID looks like Replicate's ids: 26 lowercase base32 characters.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return idEncoding.EncodeToString(b)
}

// ---- HTTP plumbing ----

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h func(http.ResponseWriter, *http.Request, string)) {
		mux.Handle(pattern, s.apiHandler(h))
	}
	api("POST /v1/models/{owner}/{name}/predictions", s.handleCreate)
	api("GET /v1/predictions", s.handleList)
	api("GET /v1/predictions/{id}", s.handleGet)
	api("POST /v1/predictions/{id}/cancel", s.handleCancel)
	api("GET /v1/account", s.handleAccount)
	api("GET /v1/webhooks/default/secret", s.handleSecret)
	api("POST /v1/files", s.handleUpload)
	api("GET /v1/files/{id}", s.handleFile)
	api("/v1/", func(w http.ResponseWriter, r *http.Request, _ string) {
		writeProblem(w, http.StatusNotFound, "Not found", "The requested resource does not exist.", nil)
	})
	mux.HandleFunc("GET /delivery/{path...}", s.handleDelivery)
	mux.HandleFunc("GET /_fake/stats", s.handleFakeStats)
	mux.HandleFunc("GET /_fake/config", s.handleFakeConfig)
	mux.HandleFunc("POST /_fake/config", s.handleFakeConfig)
	mux.HandleFunc("POST /_fake/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	return s.track(mux)
}

// track lets Close wait for handlers, including ones held by Prefer: wait.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			http.Error(w, "closing", http.StatusServiceUnavailable)
			return
		}
		s.handlers.Add(1)
		s.mu.Unlock()
		defer s.handlers.Done()
		next.ServeHTTP(w, r)
	})
}

// apiHandler applies latency, auth and random faults, then calls h with
// the caller's token.
func (s *Server) apiHandler(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.Requests++
		latency := s.cfg.Latency
		s.mu.Unlock()
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-s.closing:
				t.Stop()
				return
			}
		}
		token, ok := bearer(r)
		s.mu.Lock()
		if !ok || slices.Contains(s.cfg.RejectedTokens, token) {
			s.stats.Unauthorized++
			s.mu.Unlock()
			writeProblem(w, http.StatusUnauthorized, "Unauthenticated", "You did not pass a valid authentication token", nil)
			return
		}
		fault := 0
		switch {
		case s.cfg.Rate429 > 0 && s.rng.Float64() < s.cfg.Rate429:
			fault = 429
		case s.cfg.Rate5xx > 0 && s.rng.Float64() < s.cfg.Rate5xx:
			fault = []int{500, 502, 503}[s.rng.IntN(3)]
		}
		s.mu.Unlock()
		if fault != 0 {
			s.writeFault(w, fault)
			return
		}
		h(w, r, token)
	})
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// writeFault answers the way Replicate and the proxies in front of it do:
// throttling and 500/503 as problem JSON, 502 as a bare HTML page.
func (s *Server) writeFault(w http.ResponseWriter, status int) {
	s.mu.Lock()
	if status == 429 {
		s.stats.Throttled++
	} else {
		s.stats.ServerErrors++
	}
	secs, omit := s.cfg.RetryAfterSeconds, s.cfg.OmitRetryAfter
	s.mu.Unlock()
	switch status {
	case 429:
		if !omit {
			w.Header().Set("Retry-After", fmt.Sprint(secs))
		}
		writeProblem(w, 429, "Request was throttled", fmt.Sprintf("Request was throttled. Your rate limit resets in ~%ds.", secs), nil)
	case 502:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n")
	case 503:
		writeProblem(w, 503, "Service Unavailable", "The service is temporarily unavailable. Please try again later.", nil)
	default:
		writeProblem(w, status, "Internal Server Error", "An unexpected error occurred.", nil)
	}
}

type invalidField struct {
	Type        string `json:"type"`
	Field       string `json:"field"`
	Description string `json:"description"`
}

func writeProblem(w http.ResponseWriter, status int, title, detail string, fields []invalidField) {
	body := map[string]any{"title": title, "detail": detail, "status": status}
	if fields != nil {
		body["invalid_fields"] = fields
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) handleFakeStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleFakeConfig(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		c := s.cfg
		err = json.Unmarshal(body, &c)
		if err == nil {
			s.cfg = c
		}
		s.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	writeJSON(w, http.StatusOK, s.Config())
}

// errLost marks a response deliberately dropped.
var errLost = errors.New("response lost on purpose")

// loseResponse closes the connection without an answer, as a network
// failure after the server acted would.
func loseResponse(w http.ResponseWriter) error {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return errors.New("cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset, not a tidy close
	}
	_ = conn.Close()
	return errLost
}
