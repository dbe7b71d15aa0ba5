package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"nanobanana/db"
)

// guard bounds a wait that must end on its own; it only stops a hung test, it never
// decides a pass.
const guard = 20 * time.Second

// trickle opens a connection, sends a request's headers announcing a body of n bytes,
// and then one byte every gap until the server hangs up (or stop is closed). It returns
// the connection and a channel closed when the trickling stops.
func trickle(t *testing.T, addr, head string, n int, gap time.Duration) (net.Conn, <-chan struct{}) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "%sContent-Length: %d\r\n\r\n", head, n); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			time.Sleep(gap)
			if _, err := c.Write([]byte(" ")); err != nil { // JSON allows spaces
				return
			}
		}
	}()
	return c, done
}

// A client that sends its body one byte at a time is answered 408 and disconnected once
// REQUEST_TIMEOUT_SECONDS have passed, on a public route, on a route it is not allowed
// to call, and where no route is; before, such connections stayed open for as long as
// the client liked (200 of them trickling a sign-in were all open after 40 s).
func TestTrickledBodyIsCutAtItsTimeout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(o *Options) { o.Config.RequestTimeout = 300 * time.Millisecond })
	for _, head := range []string{
		"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
		"POST /api/v1/images/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", // no token
		"POST /nowhere HTTP/1.1\r\nHost: x\r\n",
	} {
		// 1000 bytes at one per 50 ms would take 50 s.
		c, done := trickle(t, ts.URL, head, 1000, 50*time.Millisecond)
		c.SetReadDeadline(time.Now().Add(guard))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: no answer before the guard: %v", strings.Fields(head)[1], err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if strings.HasPrefix(head, "POST /api/v1/auth/login") && resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("login with a trickled body: %d; want 408", resp.StatusCode)
		}
		// The server hangs up: the rest of the body is not waited for.
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: connection still open after the answer: %v", strings.Fields(head)[1], err)
		}
		select {
		case <-done:
		case <-time.After(guard):
			t.Fatalf("%s: the client could still write after the guard", strings.Fields(head)[1])
		}
	}
}

// Uploads get UPLOAD_TIMEOUT_SECONDS: a body that arrives slowly but within it is read.
func TestSlowUploadWithinItsTimeoutIsRead(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(o *Options) {
		o.Config.RequestTimeout = 200 * time.Millisecond
		o.Config.UploadTimeout = time.Minute
	})
	u := ts.register(t, "alice")
	// Spaces, not a valid multipart body: what matters is that it is read to its end and judged
	// (400), not cut off (408), although it takes longer than REQUEST_TIMEOUT_SECONDS.
	c, done := trickle(t, ts.URL, "POST /api/v1/images/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+u.Access+
		"\r\nContent-Type: multipart/form-data; boundary=b\r\n", 20, 50*time.Millisecond)
	<-done
	c.SetReadDeadline(time.Now().Add(guard))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500 {
		t.Fatalf("a slow upload within UPLOAD_TIMEOUT_SECONDS: %d", resp.StatusCode)
	}
}

// MAX_CONNECTIONS caps the connections open at once: past it, a new client waits to be
// accepted until another leaves, so idle connections cannot take every descriptor.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(o *Options) { o.Config.MaxConnections = 4 })
	addr := strings.TrimPrefix(ts.URL, "http://")
	var held []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Each held connection is accepted: it gets an answer (and stays open).
	for _, c := range held {
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(guard))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("held connection: %v %v", resp, err)
		}
	}
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/healthz", nil)
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	// While four are open, the fifth is not served. (Waiting can only ever show it
	// served too early; a slow machine cannot make this pass wrongly.)
	select {
	case err := <-got:
		t.Fatalf("a fifth connection was served past MAX_CONNECTIONS=4 (err %v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	held[0].Close()
	if err := <-got; err != nil {
		t.Fatalf("the fifth connection after one left: %v", err)
	}
}

// smallBuffers makes the server's accepted connections send through a small kernel
// buffer, so a client that stops reading blocks the server's writes after kilobytes
// rather than megabytes (the behaviour is the same; the test is quicker).
func smallBuffers(ln net.Listener) net.Listener { return smallBufListener{ln} }

type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// dialSmall connects with a small receive buffer (set before connecting, so the window
// the client offers is small too).
func dialSmall(t *testing.T, url string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond until it holds; the guard only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v: %s", guard, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An event stream whose client stops reading is closed once a write has been blocked
// for EVENTS_WRITE_TIMEOUT_SECONDS, and its connection dropped. Before, nothing bounded
// it: 200 such streams held ~300 MiB of kernel buffers for as long as they stayed open.
func TestStalledEventStreamIsDropped(t *testing.T) {
	t.Parallel()
	ts := newTestServerOn(t, smallBuffers, func(o *Options) { o.Config.StreamWriteTimeout = 300 * time.Millisecond })
	u := ts.register(t, "stalled")
	c := dialSmall(t, ts.URL)
	fmt.Fprintf(c, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", u.Access)
	c.SetReadDeadline(time.Now().Add(guard))
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %v %v", resp, err)
	}
	waitFor(t, "the stream to be registered", func() bool { return ts.streams.count() == 1 })
	// From here the client reads nothing while its generations change: far more event
	// data than the connection's buffers hold.
	ctx := context.Background()
	for i := range 400 {
		if _, err := ts.DB.CreateGeneration(ctx, u.ID, db.Params{Prompt: fmt.Sprintf("stall %d %s", i, strings.Repeat("x", 200)),
			Resolution: "1K", AspectRatio: "1:1", OutputFormat: "jpg", SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage}, db.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the stalled stream to be closed", func() bool { return ts.streams.count() == 0 })
	// Its connection is gone: what was sent before is there to read, then the end.
	n, err := io.Copy(io.Discard, br)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the stream was dropped, reading got %v (after %d bytes); want the end of the connection", err, n)
	}
	t.Logf("the client had %d bytes waiting when the stream was dropped", n)
}

// A user's streams past MAX_STREAMS_PER_USER: the oldest gets a last event saying why
// and ends; the others stay. Past MAX_EVENT_STREAMS the process refuses new ones (503,
// Retry-After) until one closes.
func TestEventStreamCaps(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, func(o *Options) { o.Config.MaxStreamsPerUser, o.Config.MaxEventStreams = 2, 3 })
	alice := p.register(t, "alice")
	bob := p.register(t, "bob")
	auth := func(s session) http.Header { return http.Header{"Authorization": {"Bearer " + s.Access}} }
	first := p.openEvents(t, "/api/v1/events", auth(alice))
	waitFor(t, "alice's first stream", func() bool { return p.streams.count() == 1 })
	second := p.openEvents(t, "/api/v1/events", auth(alice))
	waitFor(t, "alice's second stream", func() bool { return p.streams.count() == 2 })
	third := p.openEvents(t, "/api/v1/events", auth(alice))

	select {
	case ev, ok := <-first.Events:
		if !ok || ev.Event != "closed" || ev.Data["code"] != "too_many_streams" || ev.Data["detail"] == "" {
			t.Fatalf("alice's oldest stream: %+v (open %v); want a closed event saying why", ev, ok)
		}
	case <-time.After(guard):
		t.Fatal("alice's oldest stream was not closed past her cap of 2")
	}
	if _, ok := <-first.Events; ok {
		t.Fatal("the closed stream went on")
	}
	// The two newest still carry her generations.
	id := p.generate(t, alice.Access, map[string]any{"prompt": "still here", "resolution": "1K"})["id"].(string)
	second.until(t, id, "completed")
	third.until(t, id, "completed")

	bobs := p.openEvents(t, "/api/v1/events", auth(bob))
	waitFor(t, "bob's stream", func() bool { return p.streams.count() == 3 })
	r := p.do(t, call{Method: "GET", Path: "/api/v1/events", Token: bob.Access})
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("a stream past the process's cap of 3: %d %s", r.Status, r.Body)
	}
	_ = bobs
}
