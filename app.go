package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"nanobanana/config"
	"nanobanana/db"
	"nanobanana/db/postgres"
	"nanobanana/frontend"
	"nanobanana/jobs"
	"nanobanana/replicate"
	"nanobanana/replicate/replicatetest"
	"nanobanana/server"
	"nanobanana/storage"
)

// App is the whole program wired together: what `serve` runs, and what an end-to-end
// test can start in-process.
type App struct {
	Config    config.Config
	Log       *slog.Logger
	DB        db.Store
	Storage   storage.Storage
	Replicate *replicate.Client
	Fake      *replicatetest.Server // demo mode only
	Jobs      *jobs.Service
	Server    *server.Server
	// Ready, when set, is called once the workers run and ln is served.
	Ready func(ln net.Listener)

	closers []func() error
}

// NewApp opens the database and storage and builds the server. Close releases them.
func NewApp(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	a := &App{Config: cfg, Log: log}
	built := false
	defer func() {
		if !built {
			a.Close()
		}
	}()
	var err error
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create DATA_DIR %s: %w", cfg.DataDir, err)
	}
	if err := a.Config.ResolveSecret(); err != nil {
		return nil, err
	}
	cfg = a.Config
	if cfg.Database != "postgres" {
		// One serve per SQLite file: the workers take back, at start, every job a
		// previous process left running, which is only right when that process is gone.
		unlock, err := lockFile(cfg.DatabasePath + ".lock")
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, unlock)
	}

	if cfg.Demo {
		// The fake runs in this process and the server talks to it over loopback HTTP,
		// exactly as it would to Replicate.
		fake, err := replicatetest.Start(replicatetest.Options{Logger: log.With("component", "fake-replicate")})
		if err != nil {
			return nil, fmt.Errorf("demo: start the fake Replicate: %w", err)
		}
		a.Fake = fake
		a.closers = append(a.closers, func() error { fake.Close(); return nil })
		a.Config.ReplicateAPIBase = fake.URL()
		if a.Config.ReplicateAPIToken == "" {
			a.Config.ReplicateAPIToken = "demo-token"
		}
		cfg = a.Config
		log.Warn("DEMO MODE: generations go to a built-in fake Replicate, not the real one; images are synthetic", "fake_url", fake.URL())
	}

	a.DB, err = openDBWaiting(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if a.DB.Shared() {
		log.Info("database: PostgreSQL; other nanobanana processes may share it", "server", a.DB.Describe())
		if cfg.Storage != "minio" {
			log.Info("images are stored under DATA_DIR on this host: processes on other hosts need STORAGE=minio to see them")
		}
	} else if cfg.PostgresHost != "" {
		log.Warn("POSTGRES_* settings are not used: DATABASE=sqlite keeps the data in one file", "database", cfg.DatabasePath)
	}
	a.closers = append(a.closers, a.DB.Close)
	sealer, err := db.NewSealer(cfg.SecretKey)
	if err != nil {
		return nil, err
	}

	switch cfg.Storage {
	case "minio":
		m, err := storage.NewMinIO(ctx, storage.MinIOOptions{
			Endpoint: cfg.MinIOEndpoint, AccessKey: cfg.MinIOAccessKey, SecretKey: cfg.MinIOSecretKey,
			Bucket: cfg.MinIOBucket, UseSSL: cfg.MinIOUseSSL,
		})
		if err != nil {
			return nil, fmt.Errorf("STORAGE=minio: %w", err)
		}
		a.Storage = m
	default:
		// With X-Accel-Redirect nginx reads the images: they are made group-readable
		// (the database and secret stay 0600), and DATA_DIR lets the group pass through.
		xaccel := cfg.XAccelRedirect != ""
		if xaccel {
			if err := os.Chmod(cfg.DataDir, 0o710); err != nil {
				return nil, err
			}
		}
		fs, err := storage.NewFSWith(filepath.Join(cfg.DataDir, "images"), storage.FSOptions{GroupReadable: xaccel})
		if err != nil {
			return nil, err
		}
		a.Storage = fs
		a.closers = append(a.closers, fs.Close)
	}

	a.Replicate = replicate.New(replicate.Options{BaseURL: cfg.ReplicateAPIBase, Model: cfg.ReplicateModel, UserAgent: "nanobanana/" + version})

	webhookURL := ""
	if cfg.PublicURL != "" {
		webhookURL = cfg.PublicURL + "/api/v1/webhooks/replicate"
	}
	a.Jobs, err = jobs.New(jobs.Options{
		DB: a.DB, Replicate: a.Replicate, Storage: a.Storage, Logger: log.With("component", "jobs"),
		Token:      userToken(a.DB, sealer, cfg.ReplicateAPIToken),
		MaxWorkers: cfg.MaxWorkers, MaxPerUser: cfg.MaxPerUser, MaxPending: cfg.MaxPendingPerUser,
		AuditRetention: time.Duration(cfg.AuditRetentionDays) * 24 * time.Hour,
		// One process owns a SQLite file: what a previous process left running is
		// resumed at once instead of after its lease runs out. A PostgreSQL database
		// is shared, and others' jobs are theirs until their leases expire.
		ReclaimOnStart: !a.DB.Shared(),
		MaxOutputBytes: cfg.MaxOutputBytes, MaxPixels: cfg.MaxPixels,
		LeaseDuration:   cfg.JobLease,
		UploadRetention: cfg.UploadRetention,
		WebhookURL:      webhookURL,
	})
	if err != nil {
		return nil, err
	}

	a.Server, err = server.New(server.Options{
		Config: cfg, DB: a.DB, Sealer: sealer, Replicate: a.Replicate, Logger: log,
		Queue: a.Jobs, Storage: a.Storage,
		Frontend: frontend.Handler(), Version: version,
	})
	if err != nil {
		return nil, err
	}
	built = true
	return a, nil
}

// Listen opens the configured address: host:port, or unix:/path for a socket that nginx
// proxies to (a stale socket file from a crash is replaced).
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("LISTEN_ADDR %s: remove stale socket: %w", addr, err)
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("LISTEN_ADDR %s: %w", addr, err)
		}
		// The proxy runs as another user in the same group.
		if err := os.Chmod(path, 0o660); err != nil {
			ln.Close()
			return nil, err
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("LISTEN_ADDR %s: %w", addr, err)
	}
	return ln, nil
}

// Run starts the workers and serves on ln until ctx ends, then shuts down gracefully:
// the server stops accepting and finishes in-flight requests, then the workers stop
// claiming and leave running jobs resumable by the next start.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	if err := a.Jobs.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	if fs, ok := a.Storage.(*storage.FS); ok {
		// A process killed while storing an image leaves its temporary file behind.
		// In the background: a large images folder takes a while to walk.
		go func() {
			n, err := fs.RemoveStale(ctx, staleTempAge, time.Now())
			if err != nil && ctx.Err() == nil {
				a.Log.Warn("removing stale temporary image files", "err", err)
			} else if n > 0 {
				a.Log.Info("removed temporary image files left by an interrupted store", "files", n)
			}
		}()
	}
	a.Log.Info("nanobanana listening", "addr", ln.Addr().String(), "version", version, "data_dir", a.Config.DataDir,
		"storage", a.Config.Storage, "workers", a.Config.MaxWorkers, "demo", a.Config.Demo)
	if a.Ready != nil {
		a.Ready(ln)
	}
	err := a.Server.Serve(ctx, ln, 15*time.Second)
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if jerr := a.Jobs.Stop(stopCtx); jerr != nil {
		a.Log.Warn("workers did not stop in time; their jobs resume at the next start", "err", jerr)
	}
	a.Log.Info("nanobanana stopped")
	return err
}

// staleTempAge is how old a temporary image file must be to be removed at start: a live
// one (of another process sharing the folder) is written to as its data arrives.
const staleTempAge = time.Hour

// userToken picks the Replicate token for a user's generations: their own key, else the
// global REPLICATE_API_TOKEN.
func userToken(d db.Store, sealer *db.Sealer, global string) func(context.Context, int64) (string, error) {
	return func(ctx context.Context, userID int64) (string, error) {
		key, err := d.APIKey(ctx, sealer, userID)
		if err != nil {
			return "", err
		}
		if key != "" {
			return key, nil
		}
		if global != "" {
			return global, nil
		}
		return "", jobs.ErrNoToken
	}
}

// Close releases everything NewApp opened, last opened first.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// newLogger builds the process logger from LOG_LEVEL and LOG_FORMAT.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// postgresWait is how long serve waits for a PostgreSQL server that does not answer yet
// (at boot the service may start before the database does).
var postgresWait = time.Minute

// openDBWaiting is openDB that, for PostgreSQL, retries while the server cannot be
// reached, up to postgresWait, saying so in the log.
func openDBWaiting(ctx context.Context, cfg config.Config, log *slog.Logger) (db.Store, error) {
	deadline := time.Now().Add(postgresWait)
	for {
		d, err := openDB(ctx, cfg)
		if err == nil || cfg.Database != "postgres" || !postgres.Unreachable(err) || time.Now().After(deadline) {
			return d, err
		}
		log.Warn("PostgreSQL cannot be reached yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(2 * time.Second):
		}
	}
}
