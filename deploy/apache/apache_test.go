package apache

// Helpers that run the shipped .htaccess through Debian's Apache 2.4 as a shared host
// runs it: the host's own configuration (a loopback port here, modules, AllowOverride
// All on the site's folder, a compressing filter) and, in the site's folder, only the
// customer's .htaccess.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nanobanana/internal/proctest"
)

// apacheBinary finds Debian's apache2 or skips (fails under CI) saying how to get it.
func apacheBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"apache2", "/usr/sbin/apache2"} {
		if path, err := exec.LookPath(p); err == nil {
			if _, err := os.Stat(filepath.Join(modulesDir, "mod_proxy_http.so")); err != nil {
				break
			}
			return path
		}
	}
	proctest.Missing(t, "apache2 not installed (Debian: apt-get install -y apache2); the .htaccess is not exercised")
	return ""
}

// modulesDir is where Debian's apache2 package keeps its modules.
const modulesDir = "/usr/lib/apache2/modules"

// shippedHtaccess reads .htaccess from disk: the file customers upload.
func shippedHtaccess(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(".htaccess")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shippedSocket is the socket path the shipped file names, which a customer changes.
const shippedSocket = "/home/u/user/nanobanana/nanobanana.sock"

// renderHtaccess is the shipped file with only the socket path changed; the path must
// occur once, so a change to the file that the test would silently ignore fails here.
func renderHtaccess(shipped, socket string) (string, error) {
	if n := strings.Count(shipped, shippedSocket); n != 1 {
		return "", fmt.Errorf(".htaccess names %s %d times, want 1", shippedSocket, n)
	}
	return strings.Replace(shipped, shippedSocket, socket, 1), nil
}

// hostConf is the server configuration of a shared host, as its administrator writes it:
// the customer has no say in it. run is "User Group" for the workers ("" when the test is
// not root: Apache then cannot switch users and runs as the test's).
func hostConf(prefix, listen, site, run string) string {
	modules := []string{
		"mpm_event", "authz_core", "dir", "mime", "rewrite", "proxy", "proxy_http",
		"headers", "setenvif", "env", "filter", "deflate",
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot %s\nServerName localhost\nListen %s\n", prefix, listen)
	fmt.Fprintf(&b, "PidFile %[1]s/httpd.pid\nErrorLog %[1]s/error.log\nLogLevel warn\nDefaultRuntimeDir %[1]s\nMutex file:%[1]s default\n", prefix)
	for _, m := range modules {
		fmt.Fprintf(&b, "LoadModule %s_module %s/mod_%s.so\n", m, modulesDir, m)
	}
	if run != "" {
		user, group, _ := strings.Cut(run, " ")
		fmt.Fprintf(&b, "User %s\nGroup %s\n", user, group)
	}
	fmt.Fprintf(&b, `TypesConfig /etc/mime.types
Timeout 300
KeepAlive On
# A host that compresses text answers, event streams included: the .htaccess must keep
# the stream plain.
AddOutputFilterByType DEFLATE text/html text/plain text/css application/javascript application/json text/event-stream
LogFormat "%%h \"%%r\" %%>s %%b" common
CustomLog %[1]s/access.log common
DocumentRoot %[2]s
DirectoryIndex index.html
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory %[2]s>
    Options FollowSymLinks
    AllowOverride All
    Require all granted
</Directory>
<FilesMatch "^\.ht">
    Require all denied
</FilesMatch>
`, prefix, site)
	return b.String()
}

// apacheInstance is a running private Apache.
type apacheInstance struct {
	URL    string // http://127.0.0.1:PORT
	Prefix string // its configuration and logs
	cmd    *exec.Cmd
	done   chan struct{}
	out    *proctest.LockedBuffer
}

// startApache runs Apache in the foreground with the host's configuration for site
// until the test ends, and returns once it accepts connections.
func startApache(t testing.TB, site, run string) *apacheInstance {
	t.Helper()
	bin := apacheBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		listen := proctest.FreeAddr(t)
		prefix := t.TempDir()
		conf := filepath.Join(prefix, "httpd.conf")
		if err := os.WriteFile(conf, []byte(hostConf(prefix, listen, site, run)), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "-d", prefix, "-f", conf, "-t").CombinedOutput(); err != nil {
			t.Fatalf("apache2 -t rejected the host's configuration: %v\n%s", err, out)
		}
		a := &apacheInstance{URL: "http://" + listen, Prefix: prefix, done: make(chan struct{}), out: &proctest.LockedBuffer{}}
		a.cmd = exec.Command(bin, "-d", prefix, "-f", conf, "-DFOREGROUND")
		a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
		if err := a.cmd.Start(); err != nil {
			t.Fatalf("starting apache2: %v", err)
		}
		go func() { _ = a.cmd.Wait(); close(a.done) }()
		if lastErr = a.waitReady(listen); lastErr == nil {
			t.Cleanup(a.stop)
			return a
		}
		a.stop()
		if !strings.Contains(lastErr.Error(), "Address already in use") {
			break
		}
	}
	t.Fatalf("apache2 did not start: %v", lastErr)
	return nil
}

// waitReady waits until Apache accepts on addr or exits; the bound only turns a start
// that hangs into a failure.
func (a *apacheInstance) waitReady(addr string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-a.done:
			return fmt.Errorf("apache2 exited: %s\n%s", a.out, a.errorLog())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("apache2 not accepting on %s: %s", addr, a.errorLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *apacheInstance) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	// SIGTERM: the parent stops its children and exits.
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

func (a *apacheInstance) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(a.Prefix, "error.log"))
	return string(bytes.TrimSpace(b))
}

// The shipped file and the host's configuration are valid Apache.
func TestHtaccessRenders(t *testing.T) {
	s, err := renderHtaccess(shippedHtaccess(t), "/tmp/x/nanobanana.sock")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, `"unix:/tmp/x/nanobanana.sock|http://localhost/$1" [P,L]`) {
		t.Errorf("rendered rule:\n%s", s)
	}
}
