package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the real nanobanana, built once for the tests of this package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nanobanana-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "nanobanana")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is the environment without any nanobanana setting of the developer's shell.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "TMPDIR", "LANG":
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runCLI runs the binary to completion in dir.
func runCLI(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv("BCRYPT_COST=10")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a running nanobanana serve.
type proc struct {
	cmd  *exec.Cmd
	URL  string
	logs *lockedBuffer
	done chan error
}

// startServe starts `nanobanana serve` in dir and waits until /healthz answers.
func startServe(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	return startServeAt(t, dir, freeAddr(t), env, args...)
}

// startServeAt is startServe on a chosen address.
func startServeAt(t *testing.T, dir, addr string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--listen", addr}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(append([]string{"BCRYPT_COST=10"}, env...)...)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, URL: "http://" + addr, logs: logs, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve exited early: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer /healthz:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		<-p.done
	}
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, p.logs.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatalf("serve did not stop within 25s of SIGTERM")
	}
}

func postJSON(t *testing.T, url, token string, body any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestUsageMistakesExitTwo(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"bogus"}, {"serve", "--bogus"}, {"serve", "extra"}, {"config"}, {"user"}, {"user", "frobnicate"}, {"service"}, {"service", "frob"}} {
		_, stderr, code := runCLI(t, dir, "", args...)
		if code != 2 || !strings.Contains(stderr, "Usage") && !strings.Contains(stderr, "nanobanana:") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and usage", args, code, stderr)
		}
	}
	for _, args := range [][]string{{"-h"}, {"serve", "-h"}, {"user", "create", "-h"}, {"backup", "-h"}} {
		out, stderr, code := runCLI(t, dir, "", args...)
		if code != 0 || (out+stderr) == "" {
			t.Errorf("%v: exit %d; want 0 and help text", args, code)
		}
	}
	out, _, code := runCLI(t, dir, "", "version")
	if code != 0 || !strings.HasPrefix(out, "nanobanana ") {
		t.Errorf("version: %q %d", out, code)
	}
}

func TestConfigCheckNamesBadVariablesAndRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("REPLICATE_API_TOKEN=r8_cli_secret_token\nSECRET_KEY=0123456789abcdef0123456789abcdef-cli\n"), 0o600)
	out, stderr, code := runCLI(t, dir, "", "config", "check")
	if code != 0 || !strings.Contains(out, "REPLICATE_API_TOKEN=(set, redacted)") || strings.Contains(out+stderr, "r8_cli_secret_token") || strings.Contains(out, "-cli") {
		t.Fatalf("config check: %d\n%s%s", code, out, stderr)
	}
	os.WriteFile(filepath.Join(dir, ".env"), []byte("ALGORITHM=none\n"), 0o600)
	_, stderr, code = runCLI(t, dir, "", "config", "check")
	if code != 1 || !strings.Contains(stderr, "ALGORITHM") || !strings.Contains(stderr, "HS256") {
		t.Fatalf("bad ALGORITHM: exit %d %q", code, stderr)
	}
}

// A fresh machine: no .env, an empty working directory. serve starts, creates ./data and
// answers; SIGTERM stops it gracefully.
func TestServeOnAFreshDirectory(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, dir, nil)
	for _, f := range []string{"data/nanobanana.db", "data/secret.key", "data/images"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("serve did not create %s: %v", f, err)
		}
	}
	st, _ := os.Stat(filepath.Join(dir, "data/secret.key"))
	if st != nil && st.Mode().Perm() != 0o600 {
		t.Errorf("secret.key mode %v; want 0600", st.Mode().Perm())
	}
	resp, err := http.Get(p.URL + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	// A second serve on the same data directory refuses to start.
	_, stderr, code := runCLI(t, dir, "", "serve", "--listen", freeAddr(t))
	if code != 1 || !strings.Contains(stderr, "already using") {
		t.Errorf("second serve on the same database: exit %d %q; want a refusal", code, stderr)
	}
	p.stop(t)
	// Tokens survive a restart: the kept secret signs them.
	p = startServe(t, dir, nil)
	code, reg := postJSON(t, p.URL+"/api/v1/auth/register", "", map[string]string{"username": "alice", "email": "a@example.com", "password": "password-1"})
	if code != 201 {
		t.Fatalf("register: %d %v", code, reg)
	}
	p.stop(t)
	p = startServe(t, dir, nil)
	req, _ := http.NewRequest("GET", p.URL+"/api/v1/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+reg["access_token"].(string))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("token did not survive a restart: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if strings.Contains(p.logs.String(), "password-1") || strings.Contains(p.logs.String(), reg["access_token"].(string)) {
		t.Error("a secret reached the log")
	}
}

func TestAdminCommandsAndBackupRestoreWhileRunning(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runCLI(t, dir, "admin-password-1\n", "user", "create", "--username", "root1", "--email", "root@example.com", "--admin"); code != 0 {
		t.Fatalf("user create: %d %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, dir, "short\n", "user", "create", "--username", "bob", "--email", "bob@example.com"); code == 0 || !strings.Contains(stderr, "8 bytes") {
		t.Fatalf("user create with a short password: %d %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, dir, "", "user", "create", "--username", "bob", "--email", "bob@example.com"); code == 0 || !strings.Contains(stderr, "standard input") {
		t.Fatalf("user create without a password: %d %s", code, stderr)
	}
	runCLI(t, dir, "bob-password-1\n", "user", "create", "--username", "bob", "--email", "bob@example.com")
	out, _, _ := runCLI(t, dir, "", "user", "list")
	if !strings.Contains(out, "root1") || !strings.Contains(out, "bob") || strings.Count(out, "\n") != 3 {
		t.Fatalf("user list:\n%s", out)
	}

	p := startServe(t, dir, nil)
	login := func(user, pw string) int {
		code, _ := postJSON(t, p.URL+"/api/v1/auth/login", "", map[string]string{"username": user, "password": pw})
		return code
	}
	if login("root1", "admin-password-1") != 200 || login("bob", "bob-password-1") != 200 {
		t.Fatal("users made by the CLI cannot sign in")
	}
	// Disabling works on a running server.
	if _, stderr, code := runCLI(t, dir, "", "user", "disable", "--username", "bob"); code != 0 {
		t.Fatal(stderr)
	}
	if c := login("bob", "bob-password-1"); c != 403 {
		t.Fatalf("disabled user signed in: %d", c)
	}
	runCLI(t, dir, "", "user", "enable", "--username", "bob")
	runCLI(t, dir, "bob-password-2\n", "user", "set-password", "--username", "bob")
	if login("bob", "bob-password-1") != 401 || login("bob", "bob-password-2") != 200 {
		t.Fatal("set-password did not take")
	}

	// Backup while the server runs and takes writes.
	backup := filepath.Join(t.TempDir(), "backup.db")
	if out, stderr, code := runCLI(t, dir, "", "backup", "--to", backup); code != 0 || !strings.Contains(out, "images") {
		t.Fatalf("backup: %d %s %s", code, out, stderr)
	}
	if _, _, code := runCLI(t, dir, "", "backup", "--to", backup); code == 0 {
		t.Fatal("backup overwrote an existing file")
	}
	code, _ := postJSON(t, p.URL+"/api/v1/auth/register", "", map[string]string{"username": "carol", "email": "c@example.com", "password": "carol-password"})
	if code != 201 {
		t.Fatal(code)
	}
	p.stop(t)

	// Restore: stop, put the copy in place (and drop the old WAL), start.
	db := filepath.Join(dir, "data", "nanobanana.db")
	for _, f := range []string{db, db + "-wal", db + "-shm"} {
		os.Remove(f)
	}
	raw, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(db, raw, 0o600)
	p = startServe(t, dir, nil)
	if login("bob", "bob-password-2") != 200 {
		t.Fatal("restored database lost bob")
	}
	if login("carol", "carol-password") != 401 {
		t.Fatal("carol registered after the backup; the restored copy must not have her")
	}
}
