// Package proctest starts the project's own binaries and helper processes for
// end-to-end tests: it builds them, runs them on loopback only, collects their
// output and stops them when the test ends. Nothing in it runs in production;
// only _test.go files import it.
package proctest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"nanobanana/replicate/replicatetest"
)

// FreeAddr asks the kernel for a free port on 127.0.0.1 and returns it as
// host:port. Another process may take it before the caller binds it.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// LockedBuffer collects a child's output while the test reads it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A build is one package's binary; it is built at most once per test binary,
// since a go build costs seconds and every test of a package wants the same one.
type build struct {
	once sync.Once
	bin  string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}

	rootOnce sync.Once
	root     string // the module root
	module   string // its module path
	buildDir string // where the binaries go; Main removes it
	rootErr  error
)

// Build builds the main package pkg, a path relative to the module root such
// as "." or "./replicate/replicatetest/cmd/fakereplicate", with CGO_ENABLED=0,
// and returns the binary's path. The binary is named as go install would name
// it. A package whose tests call Build removes the binaries with Main.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	rootOnce.Do(findRoot)
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	buildsMu.Lock()
	b := builds[pkg]
	if b == nil {
		b = &build{}
		builds[pkg] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		// One directory per package, so two packages with the same last
		// element cannot overwrite each other.
		dir, err := os.MkdirTemp(buildDir, "pkg")
		if err != nil {
			b.err = err
			return
		}
		b.bin = filepath.Join(dir, path.Base(path.Join(module, pkg)))
		cmd := exec.Command("go", "build", "-o", b.bin, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

// findRoot asks the go command for the module's go.mod, as go test runs a
// package's tests in the package's own directory, wherever that is.
func findRoot() {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		rootErr = fmt.Errorf("go env GOMOD: %v", err)
		return
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		rootErr = errors.New("proctest: not inside a module")
		return
	}
	mod, err := os.ReadFile(gomod)
	if err != nil {
		rootErr = err
		return
	}
	for line := range strings.SplitSeq(string(mod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			module = strings.Trim(strings.TrimSpace(rest), `"`)
			break
		}
	}
	if module == "" {
		rootErr = fmt.Errorf("proctest: no module line in %s", gomod)
		return
	}
	root = filepath.Dir(gomod)
	buildDir, rootErr = os.MkdirTemp("", "proctest-bin")
}

// Main runs the package's tests, then each of after (to stop what the tests
// shared, such as pgtest's server), removes what Build made and exits with the
// tests' code. Packages that call Build use it as their TestMain:
//
//	func TestMain(m *testing.M) { proctest.Main(m) }
func Main(m *testing.M, after ...func()) {
	code := m.Run()
	for _, f := range after {
		f()
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// ErrStillRunning is Stop's answer when the process outlived the timeout.
var ErrStillRunning = errors.New("process still running")

// Proc is a child process that lives until Kill, Stop or the end of the test.
type Proc struct {
	Cmd *exec.Cmd
	// Logs holds the child's stdout and stderr, unless the command came
	// with its own.
	Logs *LockedBuffer

	done chan struct{}
	err  error // Wait's result; read only after done is closed
}

// Start starts cmd and kills it when the test ends; the caller sets its
// arguments, Dir and Env. Output goes to the returned Proc's Logs unless
// cmd.Stdout or cmd.Stderr is set already.
func Start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, Logs: &LockedBuffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Logs
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Logs
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", filepath.Base(cmd.Path), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended (nil for exit code 0); call it once Exited.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Kill sends SIGKILL, so nothing of the process's own shutdown runs, and
// waits for it to end. Its error is the signal's: os.ErrProcessDone when the
// process had ended already.
func (p *Proc) Kill() error {
	err := p.Cmd.Process.Kill()
	<-p.done
	return err
}

// Stop sends SIGTERM and waits up to timeout for the process to end. It
// returns how the process ended (see Err), or ErrStillRunning, leaving the
// process to Kill or the test's cleanup.
func (p *Proc) Stop(timeout time.Duration) error {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return ErrStillRunning
	}
}

// WaitHTTP polls url through client (http.DefaultClient when nil) until it
// answers 200. It gives up when the process exits (Exited then says so) or
// when timeout has passed, which only turns a start that hangs into a
// failure; the error says what the last try saw.
func (p *Proc) WaitHTTP(client *http.Client, url string, timeout time.Duration) error {
	if client == nil {
		client = http.DefaultClient
	}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if p.Exited() {
			return fmt.Errorf("exited before %s answered: %v", url, p.err)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartFakeReplicate builds and starts the fake Replicate as its own process
// on 127.0.0.1 with the given fakereplicate flags and returns its API base URL.
// Being a separate process, it outlives a kill of the server under test and
// keeps counting across the server's restarts. Its stderr goes to the test's.
func StartFakeReplicate(t testing.TB, args ...string) string {
	t.Helper()
	bin := Build(t, "./replicate/replicatetest/cmd/fakereplicate")
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	Start(t, cmd)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("fakereplicate printed no URL: %v", err)
	}
	return strings.TrimSpace(line)
}

// FakeStats reads the counters of the fake Replicate whose API base URL is api.
func FakeStats(t testing.TB, api string) replicatetest.Stats {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(api, "/v1") + "/_fake/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s replicatetest.Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Missing reports a part a test needs that is not on this machine (a browser, a server
// binary, a tool). On a developer's machine the test skips with msg; under CI (CI=true)
// it fails, because .ci/run installs every such part and a skip there would hide that a
// test never ran.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI installs it: see scripts/test-deps.sh)")
	}
	t.Skip(msg)
}
