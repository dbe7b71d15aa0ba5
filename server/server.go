// Package server is the HTTP face of nanobanana: the routes, middleware, handlers, SSE
// events and the embedded frontend. It owns no data (db does) and runs no jobs (jobs
// does); handlers decode, validate, call, respond.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/netutil"

	"nanobanana/config"
	"nanobanana/db"
	"nanobanana/replicate"
	"nanobanana/storage"
)

// Options are the parts a Server is wired from; main builds them.
type Options struct {
	Config    config.Config
	DB        db.Store
	Sealer    *db.Sealer
	Replicate *replicate.Client
	Logger    *slog.Logger
	// Frontend serves everything outside /api (nil: a plain 404).
	Frontend http.Handler
	Version  string
	Now      func() time.Time

	// Queue runs generations (jobs.Service in production).
	Queue Queue
	// Storage holds images, thumbnails and reference uploads.
	Storage storage.Storage
	// WebhookSecret verifies Replicate's webhooks ("whsec_..."). Empty: fetched once
	// from Replicate with the global token when PUBLIC_URL is set.
	WebhookSecret string
}

// Server holds the handlers' dependencies.
type Server struct {
	cfg       config.Config
	db        db.Store
	sealer    *db.Sealer
	replicate *replicate.Client
	log       *slog.Logger
	frontend  http.Handler
	version   string
	// tokenTouches is the last recorded use of each personal access token (id ->
	// time.Time), so a busy token costs a write at most once a minute.
	tokenTouches sync.Map
	// openAPIJSON is the OpenAPI document, built once (openapi.go).
	openAPIOnce sync.Once
	openAPIJSON []byte
	now         func() time.Time
	tokens      *tokens

	logins     *throttle
	uploadRate *rateLimit // images a user may upload a minute
	dummyHash  []byte
	dummyOnce  sync.Once

	queue    Queue
	store    storage.Storage
	signKey  []byte // HMAC key of signed image URLs, derived from the secret
	signed   signedURLs
	webhooks *webhookState

	settingsCache settingsCache // the settings in force (settings.go)

	streams   streamSet     // open event streams, for their caps
	closing   chan struct{} // closed when shutdown starts: long-lived streams end
	closeOnce sync.Once
	handler   http.Handler
}

// New builds a Server and its routes.
func New(o Options) (*Server, error) {
	if o.DB == nil || o.Sealer == nil {
		return nil, errors.New("server: DB and Sealer are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{
		cfg:        o.Config,
		db:         o.DB,
		sealer:     o.Sealer,
		replicate:  o.Replicate,
		log:        o.Logger,
		frontend:   o.Frontend,
		version:    o.Version,
		now:        o.Now,
		tokens:     newTokens(o.Config.SecretKey, o.Config.Algorithm, o.Config.AccessTokenTTL, o.Now),
		logins:     newThrottle(o.DB, o.Logger, loginPolicy, o.Now),
		uploadRate: newRateLimit(o.Config.UploadsPerMinute, time.Minute, o.Now),
		closing:    make(chan struct{}),
		queue:      o.Queue,
		store:      o.Storage,
		webhooks:   newWebhookState(o.WebhookSecret),
	}
	key, err := deriveSignKey(o.Config.SecretKey)
	if err != nil {
		return nil, err
	}
	s.signKey = key
	s.handler = s.middleware(s.routes())
	return s, nil
}

// Handler is the whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.handler }

// bcryptCost is the configured cost, never below 10.
func (s *Server) bcryptCost() int { return max(s.cfg.BcryptCost, 10) }

// dummy is a hash at the configured cost, compared against when a login names no user so
// that an unknown user and a wrong password take the same time.
func (s *Server) dummy() []byte {
	s.dummyOnce.Do(func() {
		s.dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password: timing equaliser"), s.bcryptCost())
	})
	return s.dummyHash
}

// Serve answers on ln until ctx ends, then shuts down gracefully: it stops accepting,
// ends event streams, and waits up to grace for in-flight requests.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	hs.RegisterOnShutdown(s.Close)
	if n := s.cfg.MaxConnections; n > 0 {
		// Past the cap, new connections wait in the listen queue until one closes, so
		// no client can take every file descriptor of the process.
		ln = netutil.LimitListener(ln, n)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = hs.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// Close ends long-lived streams (SSE). It is safe to call more than once.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closing) }) }
