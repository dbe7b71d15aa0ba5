package postgres

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"nanobanana/db/sqlstore"
)

// Channels of NOTIFY, sent by the triggers of migrations 0004 and 0014 (settings).
const (
	eventsChannel   = "nanobanana_events"
	jobsChannel     = "nanobanana_jobs"
	settingsChannel = "nanobanana_settings"
)

// listener holds one connection of its own in LISTEN on the package's channels and
// turns notifications into the in-process signals (the event broker, QueueSignal).
type listener struct {
	dsn    string
	s      *sqlstore.Store
	jobs   chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// startListener listens before it returns, so no notification sent after OpenPostgres
// is missed.
func startListener(ctx context.Context, dsn string, s *sqlstore.Store) (*listener, error) {
	l := &listener{dsn: dsn, s: s, jobs: make(chan struct{}, 1)}
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done.Add(1)
	go l.run(runCtx, conn)
	return l, nil
}

func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, l.dsn)
	if err != nil {
		return nil, err
	}
	for _, ch := range []string{eventsChannel, jobsChannel, settingsChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return conn, nil
}

func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	defer l.done.Done()
	backoff := 100 * time.Millisecond
	for {
		if conn != nil {
			_ = l.listen(ctx, conn) // returns when the connection drops or ctx ends
			conn.Close(context.WithoutCancel(ctx))
			conn = nil
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		c, err := l.connect(ctx)
		if err != nil {
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		conn, backoff = c, 100*time.Millisecond
		// Whatever was sent while no one listened is read now: every stream re-reads
		// its events and idle workers look at the queue.
		l.s.NotifyAll()
		l.s.SettingsChanged()
		l.wakeJobs()
	}
}

func (l *listener) listen(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Channel {
		case eventsChannel:
			if u, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
				l.s.Notify(u)
			}
		case jobsChannel:
			l.wakeJobs()
		case settingsChannel:
			l.s.SettingsChanged()
		}
	}
}

func (l *listener) wakeJobs() {
	select {
	case l.jobs <- struct{}{}:
	default:
	}
}

func (l *listener) close() {
	l.cancel()
	l.done.Wait()
}
