package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxUser
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

// statusWriter records the status and size for the access log. It passes Flush and
// Hijack through so SSE and the standard library's features keep working.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijack not supported")
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SetReadDeadline reaches the connection (http.ResponseController finds it here) without
// a controller allocated per request.
func (w *statusWriter) SetReadDeadline(t time.Time) error {
	return setReadDeadline(w.ResponseWriter, t)
}

type readDeadliner interface{ SetReadDeadline(time.Time) error }

func setReadDeadline(w http.ResponseWriter, t time.Time) error {
	if d, ok := w.(readDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return http.NewResponseController(w).SetReadDeadline(t)
}

// timedBody is a request body that must arrive before a deadline on the connection
// (REQUEST_TIMEOUT_SECONDS, or a route's own). Once it has all arrived the deadline is
// lifted: the server's background read of the connection starts then, and must not end
// the request's context while its handler is still working.
type timedBody struct {
	io.ReadCloser
	w    http.ResponseWriter
	done bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = setReadDeadline(b.w, time.Time{})
	}
	return n, err
}

// limitBody gives the request's body until d from now to arrive (see timedBody); a
// route that takes larger bodies calls it again with its longer timeout.
func limitBody(w http.ResponseWriter, r *http.Request, d time.Duration) {
	if d <= 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	_ = setReadDeadline(w, time.Now().Add(d))
	if _, ok := r.Body.(*timedBody); !ok {
		r.Body = &timedBody{ReadCloser: r.Body, w: w}
	}
}

// middleware wraps the router with what every request gets, outermost first: request id,
// access log, panic recovery, security headers, CORS.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		ctx := context.WithValue(r.Context(), ctxRequestID, id)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		h := sw.Header()
		h.Set("X-Request-ID", id)
		setSecurityHeaders(h)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic", "request_id", id, "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.fail(sw, r, internal(fmt.Errorf("panic: %v", p)))
				}
			}
			// The path only: query strings can hold signatures of image URLs.
			s.log.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes),
				slog.Duration("duration", time.Since(start)), slog.String("client", s.clientIP(r).String()))
		}()
		// Headers had ReadHeaderTimeout; a body gets REQUEST_TIMEOUT_SECONDS from here,
		// for every path, so a client trickling one is cut off even where no handler
		// reads it (the server reads what is left after the answer).
		limitBody(w, r, s.cfg.RequestTimeout)
		if s.cors(sw, r) {
			return
		}
		next.ServeHTTP(sw, r)
	})
}

// setSecurityHeaders sets the headers every answer carries. The frontend is served by
// this binary and loads nothing from elsewhere, so the policy allows only 'self'.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// cors answers preflights and sets CORS headers for origins on the allow-list. It
// returns true when it has answered the request itself.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.cfg.CORSOrigins) == 0 {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if !slices.Contains(s.cfg.CORSOrigins, origin) {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-ID, Location")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, X-Request-ID")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}
