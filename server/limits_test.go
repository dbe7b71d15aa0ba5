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
	"testing"
	"time"
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
