package nginx

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeApp stands in for nanobanana behind nginx: it answers the paths the
// site treats specially and reports what reached it.
type fakeApp struct {
	srv         *httptest.Server
	headersSeen chan struct{} // closed when the SSE client has the response headers
	release     chan struct{} // closed to let the SSE handler finish
	imageKey    string        // storage key the X-Accel-Redirect points at
}

func newFakeApp(t *testing.T) *fakeApp {
	t.Helper()
	a := &fakeApp{headersSeen: make(chan struct{}), release: make(chan struct{}), imageKey: "u/1/abc.png"}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/whoami", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"x_forwarded_for":   r.Header.Get("X-Forwarded-For"),
			"x_real_ip":         r.Header.Get("X-Real-IP"),
			"x_forwarded_proto": r.Header.Get("X-Forwarded-Proto"),
			"host":              r.Host,
		})
	})
	mux.HandleFunc("/api/v1/big.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"items":[%s0]}`, strings.Repeat("12345,", 2000))
	})
	mux.HandleFunc("/api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		// The first event is written only once the client has the headers:
		// nginx forwards body bytes that arrive together with the headers
		// even when it buffers, so only a later write tests streaming.
		select {
		case <-a.headersSeen:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "id: 1\nevent: generation\ndata: {\"status\":\"running\"}\n\n")
		w.(http.Flusher).Flush()
		// The second event is only written after the test has seen the
		// first through nginx: a buffering proxy would deadlock here.
		select {
		case <-a.release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "id: 2\nevent: generation\ndata: {\"status\":\"completed\"}\n\n")
	})
	mux.HandleFunc("/api/v1/images/file/abc", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "private, max-age=3600")
		w.Header().Set("X-Accel-Redirect", "/protected/"+a.imageKey)
	})
	countBody := func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d", n)
	}
	mux.HandleFunc("/api/v1/images/generate", countBody)
	mux.HandleFunc("/api/v1/uploads", countBody)
	mux.HandleFunc("/api/v1/images/uploads", countBody)
	mux.HandleFunc("/api/v1/auth/login", countBody)
	mux.HandleFunc("/api/v1/auth/register", countBody)
	a.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(func() {
		for _, c := range []chan struct{}{a.headersSeen, a.release} {
			select {
			case <-c:
			default:
				close(c)
			}
		}
		a.srv.Close()
	})
	return a
}

func (a *fakeApp) addr() string { return strings.TrimPrefix(a.srv.URL, "http://") }

// imagesDir makes an images directory holding the file the app redirects to.
func imagesDir(t *testing.T, key string, content []byte) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func get(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRenderSiteChangesOnlyPortsAndPaths(t *testing.T) {
	shipped := shippedSite(t)
	got, err := renderSite(shipped, siteParams{Listen: "127.0.0.1:18080", Upstream: "127.0.0.1:9000", ImagesDir: "/srv/images"})
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"return 301", "ssl_certificate", "listen 443", "listen 80"} {
		if strings.Contains(got, gone) {
			t.Errorf("rendered site still has %q", gone)
		}
	}
	// Every other directive line of the shipped site is kept verbatim.
	kept := map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		kept[strings.TrimSpace(l)] = true
	}
	_, redirect, rest, _ := cutMarked(shipped, "redirect-server")
	_, tls, _, _ := cutMarked(rest, "tls")
	removed := map[string]bool{"server 127.0.0.1:8000;": true, "alias /var/lib/nanobanana/images/;": true}
	for _, l := range strings.Split(redirect+tls, "\n") {
		removed[strings.TrimSpace(l)] = true
	}
	for _, l := range strings.Split(shipped, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || removed[l] {
			continue
		}
		if !kept[l] {
			t.Errorf("rendered site lost the shipped line %q", l)
		}
	}
	for _, want := range []string{"listen 127.0.0.1:18080;", "server 127.0.0.1:9000;", "alias /srv/images/;"} {
		if !kept[want] {
			t.Errorf("rendered site lacks %q", want)
		}
	}
	if _, err := renderSite(strings.Replace(shipped, "# @tls-end", "", 1), siteParams{Listen: "127.0.0.1:1", Upstream: "127.0.0.1:2"}); err == nil {
		t.Error("a site without its markers rendered anyway")
	}
}

// The whole shipped site, TLS server included, with only the certificate
// paths pointed at a throwaway self-signed pair, is valid nginx.
func TestShippedSiteWithTLSPassesNginxCheck(t *testing.T) {
	nginxBinary(t)
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	site := strings.NewReplacer(
		"/etc/letsencrypt/live/nanobanana.example.com/fullchain.pem", cert,
		"/etc/letsencrypt/live/nanobanana.example.com/privkey.pem", key,
	).Replace(shippedSite(t))
	prefix := t.TempDir()
	checkConf(t, prefix, writeConf(t, prefix, site))
}

func TestProxyThroughNginx(t *testing.T) {
	app := newFakeApp(t)
	png := []byte("\x89PNG\r\n\x1a\nnot really an image")
	n := startNginx(t, siteParams{Upstream: app.addr(), ImagesDir: imagesDir(t, app.imageKey, png)})

	t.Run("forwarded headers", func(t *testing.T) {
		resp := get(t, n.URL+"/api/v1/whoami", map[string]string{"X-Forwarded-For": "203.0.113.9"})
		var got map[string]string
		if err := json.Unmarshal([]byte(readAll(t, resp)), &got); err != nil {
			t.Fatal(err)
		}
		// A client's own X-Forwarded-For must not reach the app as if
		// nginx had vouched for it.
		if got["x_forwarded_for"] != "127.0.0.1" || got["x_real_ip"] != "127.0.0.1" {
			t.Errorf("app saw X-Forwarded-For %q, X-Real-IP %q; want only the client address 127.0.0.1", got["x_forwarded_for"], got["x_real_ip"])
		}
		if got["x_forwarded_proto"] != "http" {
			t.Errorf("X-Forwarded-Proto = %q, want http", got["x_forwarded_proto"])
		}
		if want := strings.TrimPrefix(n.URL, "http://"); got["host"] != strings.Split(want, ":")[0] {
			t.Errorf("Host = %q, want the client's host %q", got["host"], strings.Split(want, ":")[0])
		}
	})

	t.Run("gzip for JSON", func(t *testing.T) {
		// Setting Accept-Encoding by hand stops Go from decompressing, so
		// the response is seen as nginx sent it.
		resp := get(t, n.URL+"/api/v1/big.json", map[string]string{"Accept-Encoding": "gzip"})
		readAll(t, resp)
		if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Errorf("Content-Encoding = %q, want gzip", ce)
		}
	})

	t.Run("SSE streams unbuffered", func(t *testing.T) {
		// The bound only turns a buffering proxy (which would hold the first
		// event forever) into a failure instead of a hung test.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/api/v1/events", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("SSE through nginx: %v (a buffered stream ends this way)", err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type = %q", ct)
		}
		close(app.headersSeen)
		r := bufio.NewReader(resp.Body)
		first := readEvent(t, r)
		if !strings.Contains(first, "id: 1") {
			t.Fatalf("first event = %q", first)
		}
		// Only now may the app write its second event and finish: the
		// first one arrived while the upstream response was still open.
		close(app.release)
		if second := readEvent(t, r); !strings.Contains(second, "completed") {
			t.Errorf("second event = %q", second)
		}
	})

	t.Run("X-Accel-Redirect serves from the alias dir", func(t *testing.T) {
		resp := get(t, n.URL+"/api/v1/images/file/abc", nil)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || body != string(png) {
			t.Fatalf("status %d, body %q; want 200 and the file", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != "image/png" {
			t.Errorf("Content-Type = %q, want the app's image/png", got)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
		}
		if got := resp.Header.Get("X-Accel-Redirect"); got != "" {
			t.Errorf("X-Accel-Redirect leaked to the client: %q", got)
		}
	})

	t.Run("protected is internal", func(t *testing.T) {
		resp := get(t, n.URL+"/protected/"+app.imageKey, nil)
		readAll(t, resp)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("direct GET /protected/...: status %d, want 404", resp.StatusCode)
		}
	})

	t.Run("body size limits", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 20<<20) // more than one reference image
		for _, path := range []string{"/api/v1/images/generate", "/api/v1/uploads", "/api/v1/images/uploads"} {
			resp, err := http.Post(n.URL+path, "application/octet-stream", bytes.NewReader(big))
			if err != nil {
				t.Fatal(err)
			}
			if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body != fmt.Sprint(len(big)) {
				t.Errorf("20 MB to %s: status %d, app read %s bytes; want 200 and all of it", path, resp.StatusCode, body)
			}
		}
		resp, err := http.Post(n.URL+"/api/v1/whoami", "application/octet-stream", bytes.NewReader(big[:2<<20]))
		if err != nil {
			t.Fatal(err)
		}
		checkJSONError(t, "2 MB to an ordinary API path", resp, []byte(readAll(t, resp)), http.StatusRequestEntityTooLarge, "too_large")
		// Outside the API nginx keeps its own page.
		resp, err = http.Post(n.URL+"/some/page", "application/octet-stream", bytes.NewReader(big[:2<<20]))
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "<html>") {
			t.Errorf("2 MB to a page: status %d %q, want nginx's 413 page", resp.StatusCode, body)
		}
	})
}

func TestNginxErrorsAreJSONOnTheAPI(t *testing.T) {
	// Nothing listens upstream: every proxied request is nginx's own 502.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	n := startNginx(t, siteParams{Upstream: addr, ImagesDir: t.TempDir()})
	for _, path := range []string{"/api/v1/auth/me", "/api/v1/images/generate", "/api/v1/events"} {
		resp := get(t, n.URL+path, nil)
		checkJSONError(t, "GET "+path+" with the app down", resp, []byte(readAll(t, resp)), http.StatusBadGateway, "unavailable")
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s with the app down: no Retry-After", path)
		}
	}
	resp := get(t, n.URL+"/", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "<html>") {
		t.Errorf("GET / with the app down: %d %q, want nginx's 502 page", resp.StatusCode, body)
	}
}

func TestLoginRateLimit(t *testing.T) {
	app := newFakeApp(t)
	n := startNginx(t, siteParams{Upstream: app.addr(), ImagesDir: t.TempDir()})
	for _, path := range []string{"/api/v1/auth/login", "/api/v1/auth/register"} {
		t.Run(path, func(t *testing.T) {
			// The zone is shared by both paths and allows a burst of 5
			// beyond 10 a minute; 20 quick attempts must meet a 429 either
			// way, while the very first login of a fresh nginx passes.
			var statuses []int
			for i := 0; i < 20; i++ {
				resp, err := http.Post(n.URL+path, "application/json", strings.NewReader(`{"username":"a","password":"b"}`))
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp)
				statuses = append(statuses, resp.StatusCode)
				if resp.StatusCode == http.StatusTooManyRequests {
					checkJSONError(t, path, resp, []byte(body), http.StatusTooManyRequests, "rate_limited")
					if resp.Header.Get("Retry-After") == "" {
						t.Errorf("%s: nginx's 429 has no Retry-After", path)
					}
				}
			}
			if path == "/api/v1/auth/login" && statuses[0] != http.StatusOK {
				t.Errorf("first login: status %d, want 200", statuses[0])
			}
			limited := 0
			for _, s := range statuses {
				if s == http.StatusTooManyRequests {
					limited++
				} else if s != http.StatusOK {
					t.Errorf("unexpected status %d", s)
				}
			}
			if limited == 0 {
				t.Errorf("20 attempts, no 429: statuses %v", statuses)
			}
		})
	}
	// Other paths are not limited.
	for i := 0; i < 10; i++ {
		if resp := get(t, n.URL+"/api/v1/whoami", nil); readAll(t, resp) == "" || resp.StatusCode != http.StatusOK {
			t.Fatalf("whoami after the login burst: status %d", resp.StatusCode)
		}
	}
}

// readEvent reads one SSE event (up to its blank line).
func readEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var ev strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading event: %v (so far %q); a buffered stream ends this way", err, ev.String())
		}
		if line == "\n" {
			return ev.String()
		}
		ev.WriteString(line)
	}
}

func selfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "nanobanana.example.com"},
		DNSNames:     []string{"nanobanana.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}
