package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nanobanana/internal/pgtest"
	"nanobanana/internal/proctest"
)

// TestMain removes the binaries proctest.Build made and stops the PostgreSQL server
// the PostgreSQL tests share.
func TestMain(m *testing.M) { proctest.Main(m, pgtest.Stop) }

// nanobanana is the real binary, built once for the tests of this package.
func nanobanana(t *testing.T) string {
	t.Helper()
	return proctest.Build(t, ".")
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
	return runWithEnv(t, dir, stdin, nil, args...)
}

// runWithEnv runs the binary to completion in dir with extra settings.
func runWithEnv(t *testing.T, dir, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(nanobanana(t), args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(append([]string{"BCRYPT_COST=10"}, env...)...)
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

// proc is a running nanobanana serve.
type proc struct {
	*proctest.Proc
	URL string
}

// startServe starts `nanobanana serve` in dir and waits until /healthz answers.
func startServe(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	return startServeAt(t, dir, proctest.FreeAddr(t), env, args...)
}

// startServeAt is startServe on a chosen address.
func startServeAt(t *testing.T, dir, addr string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(nanobanana(t), append([]string{"serve", "--listen", addr}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(append([]string{"BCRYPT_COST=10"}, env...)...)
	p := &proc{Proc: proctest.Start(t, cmd), URL: "http://" + addr}
	if err := p.WaitHTTP(nil, p.URL+"/healthz", 20*time.Second); err != nil {
		if p.Exited() {
			t.Fatalf("serve exited early: %v\n%s", p.Err(), p.Logs.String())
		}
		t.Fatalf("serve did not answer /healthz:\n%s", p.Logs.String())
	}
	return p
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	switch err := p.Stop(25 * time.Second); {
	case errors.Is(err, proctest.ErrStillRunning):
		t.Fatalf("serve did not stop within 25s of SIGTERM")
	case err != nil:
		t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, p.Logs.String())
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
	_, stderr, code := runCLI(t, dir, "", "serve", "--listen", proctest.FreeAddr(t))
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
	if strings.Contains(p.Logs.String(), "password-1") || strings.Contains(p.Logs.String(), reg["access_token"].(string)) {
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
	// The copy holds every password hash and sealed key: only its owner may read it,
	// whatever the umask (under 022 a plain create would make it 0644).
	if st, err := os.Stat(backup); err != nil {
		t.Fatal(err)
	} else if st.Mode().Perm() != 0o600 {
		t.Fatalf("the backup file has mode %v; want 0600", st.Mode().Perm())
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
