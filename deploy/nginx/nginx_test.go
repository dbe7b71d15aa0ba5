package nginx

// Helpers that run the shipped site through a real nginx on a loopback port.
// The end-to-end test of the whole app builds on them: startNginx(t, site)
// with the app's address as upstream and its images directory as alias.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nanobanana/internal/proctest"
)

// shippedSite reads nanobanana.conf from disk: the file administrators copy.
func shippedSite(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("nanobanana.conf")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// nginxBinary finds nginx or skips the test saying how to get it.
func nginxBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	proctest.Missing(t, "nginx not installed (Debian: apt-get install -y nginx); the nginx site is not exercised")
	return ""
}

// siteParams are the only things a test changes in the shipped site.
type siteParams struct {
	Listen    string // host:port the test server listens on, e.g. 127.0.0.1:18080
	Upstream  string // the app: "127.0.0.1:PORT" or "unix:/path/to.sock"
	ImagesDir string // what /protected/ aliases: the app's images directory
}

// replaceOnce replaces old by new and insists old occurs exactly once, so a
// change to the shipped site that the test would silently ignore fails here.
func replaceOnce(s, old, new string) (string, error) {
	if n := strings.Count(s, old); n != 1 {
		return "", fmt.Errorf("shipped site has %d occurrences of %q, want 1", n, old)
	}
	return strings.Replace(s, old, new, 1), nil
}

// cutMarked removes the text from the line holding "# @name-begin" through
// the line holding "# @name-end" and returns what was around it.
func cutMarked(s, name string) (before, inside, after string, err error) {
	begin, end := "# @"+name+"-begin\n", "# @"+name+"-end\n"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i || strings.Count(s, begin) != 1 || strings.Count(s, end) != 1 {
		return "", "", "", fmt.Errorf("shipped site lacks one %q ... %q pair", strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	// Drop the indentation before the begin marker too.
	i = strings.LastIndex(s[:i], "\n") + 1
	return s[:i], s[i+len(begin) : j], s[j+len(end):], nil
}

// renderSite is the shipped site with only ports and paths changed: the
// HTTP-to-HTTPS redirect server is dropped (a test cannot get a certificate
// for a public name, and that server only redirects), the TLS lines of the
// main server become a plain loopback listen, and the upstream address and
// image alias point at the test's app and directory. Every location, limit,
// header and timeout is the shipped one.
func renderSite(shipped string, p siteParams) (string, error) {
	before, _, after, err := cutMarked(shipped, "redirect-server")
	if err != nil {
		return "", err
	}
	s := before + after
	before, _, after, err = cutMarked(s, "tls")
	if err != nil {
		return "", err
	}
	s = before + "    listen " + p.Listen + ";\n" + after
	upstream := p.Upstream
	if !strings.HasPrefix(upstream, "unix:") {
		if _, _, err := net.SplitHostPort(upstream); err != nil {
			return "", fmt.Errorf("upstream %q: want host:port or unix:/path", upstream)
		}
	}
	if s, err = replaceOnce(s, "    server 127.0.0.1:8000;\n", "    server "+upstream+";\n"); err != nil {
		return "", err
	}
	dir := strings.TrimSuffix(p.ImagesDir, "/") + "/"
	if s, err = replaceOnce(s, "alias /var/lib/nanobanana/images/;", "alias "+dir+";"); err != nil {
		return "", err
	}
	return s, nil
}

// mainConf wraps a site in the nginx.conf a private instance needs: every
// file it writes (pid, logs, temp bodies) under prefix, nothing from the
// system's /etc/nginx except mime.types.
//
// workerUser is nginx's "user" directive ("www-data group"); empty means
// root's workers when the test runs as root, as below.
func mainConf(prefix, sitePath, workerUser string) string {
	mime := "types { text/html html; application/javascript js; text/css css; image/png png; image/jpeg jpg jpeg; image/webp webp; image/svg+xml svg; application/json json; }"
	if _, err := os.Stat("/etc/nginx/mime.types"); err == nil {
		mime = "include /etc/nginx/mime.types;"
	}
	user := ""
	if workerUser != "" {
		user = "user " + workerUser + ";\n"
	} else if os.Geteuid() == 0 {
		// As root, nginx would switch its workers to "nobody", who cannot
		// enter the test's 0700 temp directories. Production workers run as
		// www-data; docs/DEPLOY.md says what they must be able to read.
		user = "user root root;\n"
	}
	return user + `worker_processes 1;
pid ` + prefix + `/nginx.pid;
error_log ` + prefix + `/error.log info;
events { worker_connections 256; }
http {
    ` + mime + `
    default_type application/octet-stream;
    access_log ` + prefix + `/access.log;
    client_body_temp_path ` + prefix + `/tmp/client_body;
    proxy_temp_path ` + prefix + `/tmp/proxy;
    fastcgi_temp_path ` + prefix + `/tmp/fastcgi;
    uwsgi_temp_path ` + prefix + `/tmp/uwsgi;
    scgi_temp_path ` + prefix + `/tmp/scgi;
    include ` + sitePath + `;
}
`
}

// nginxInstance is a running private nginx.
type nginxInstance struct {
	URL    string // http://127.0.0.1:PORT
	Prefix string // holds nginx.conf, site.conf, logs
	cmd    *exec.Cmd
	done   chan struct{}
	stderr *bytes.Buffer
}

// writeConf renders the site into a fresh prefix and returns the path of its
// nginx.conf.
func writeConf(t testing.TB, prefix string, site string) string {
	t.Helper()
	return writeConfAs(t, prefix, site, "")
}

// writeConfAs is writeConf with nginx's workers running as workerUser.
func writeConfAs(t testing.TB, prefix, site, workerUser string) string {
	t.Helper()
	mode := os.FileMode(0o700)
	if workerUser != "" {
		mode = 0o755 // the workers write request bodies and proxy buffers there
	}
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), mode); err != nil {
		t.Fatal(err)
	}
	sitePath := filepath.Join(prefix, "site.conf")
	if err := os.WriteFile(sitePath, []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(mainConf(prefix, sitePath, workerUser)), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// nginxArgs are the flags every run uses: -e keeps nginx from opening
// /var/log/nginx/error.log before it has read the configuration.
func nginxArgs(prefix, conf string, extra ...string) []string {
	return append([]string{"-p", prefix + "/", "-c", conf, "-e", filepath.Join(prefix, "error.log")}, extra...)
}

// checkConf runs `nginx -t` on a configuration and fails the test with
// nginx's own words when it is rejected.
func checkConf(t testing.TB, prefix, conf string) {
	t.Helper()
	out, err := exec.Command(nginxBinary(t), nginxArgs(prefix, conf, "-t")...).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t rejected the configuration: %v\n%s", err, out)
	}
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1. Another
// process may take it before nginx binds; startNginx retries for that.
// startNginx renders the shipped site for p (p.Listen is chosen here) and
// runs nginx in the foreground until the test ends. It returns once nginx
// accepts connections.
func startNginx(t testing.TB, p siteParams) *nginxInstance {
	t.Helper()
	return startNginxAs(t, p, "")
}

// startNginxAs is startNginx with the workers running as workerUser (for
// example "www-data root"), as production's workers do; their prefix is
// opened up so they can reach their temp directories.
func startNginxAs(t testing.TB, p siteParams, workerUser string) *nginxInstance {
	t.Helper()
	bin := nginxBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p.Listen = proctest.FreeAddr(t)
		site, err := renderSite(shippedSite(t), p)
		if err != nil {
			t.Fatal(err)
		}
		prefix := t.TempDir()
		if workerUser != "" {
			if err := os.Chmod(prefix, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		conf := writeConfAs(t, prefix, site, workerUser)
		checkConf(t, prefix, conf)

		n := &nginxInstance{URL: "http://" + p.Listen, Prefix: prefix, done: make(chan struct{}), stderr: &bytes.Buffer{}}
		n.cmd = exec.Command(bin, nginxArgs(prefix, conf, "-g", "daemon off;")...)
		n.cmd.Stdout, n.cmd.Stderr = n.stderr, n.stderr
		if err := n.cmd.Start(); err != nil {
			t.Fatalf("starting nginx: %v", err)
		}
		go func() { _ = n.cmd.Wait(); close(n.done) }()
		if lastErr = n.waitReady(p.Listen); lastErr == nil {
			t.Cleanup(n.stop)
			return n
		}
		n.stop()
		if !strings.Contains(lastErr.Error(), "Address already in use") {
			break
		}
	}
	t.Fatalf("nginx did not start: %v", lastErr)
	return nil
}

// waitReady waits until nginx accepts on addr or exits. It bounds the wait
// only to turn a hang into a failure with nginx's log attached.
func (n *nginxInstance) waitReady(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			return fmt.Errorf("nginx exited: %s%s", n.stderr, n.errorLog())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("nginx did not accept connections within 10s: " + n.errorLog())
}

// stop ends nginx fast (SIGTERM drops open streams such as SSE) and waits.
func (n *nginxInstance) stop() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// errorLog is nginx's error log, for failure messages.
func (n *nginxInstance) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Prefix, "error.log"))
	return string(b)
}

// checkJSONError holds one of nginx's own refusals on /api/ to the app's error shape:
// JSON with a detail sentence and the code, never nginx's HTML page.
func checkJSONError(t testing.TB, what string, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e struct {
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	switch {
	case resp.StatusCode != status:
		t.Errorf("%s: status %d, want %d: %s", what, resp.StatusCode, status, body)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
		t.Errorf("%s: Content-Type %q, want JSON: %s", what, resp.Header.Get("Content-Type"), body)
	case json.Unmarshal(body, &e) != nil || e.Detail == "" || e.Code != code:
		t.Errorf("%s: body %s, want {\"detail\": ..., \"code\": %q}", what, body, code)
	}
}
