package main

import (
	"io"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"nanobanana/internal/pgtest"
	"nanobanana/internal/proctest"
)

// seedPostgresEnv turns a pgtest DSN into the original's POSTGRES_* settings, without
// DATABASE: as in the original's .env, POSTGRES_HOST alone selects PostgreSQL.
func seedPostgresEnv(t *testing.T, dsn string) []string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	return []string{"POSTGRES_HOST=" + u.Hostname(), "POSTGRES_PORT=" + u.Port(),
		"POSTGRES_DB=" + strings.TrimPrefix(u.Path, "/"), "POSTGRES_USER=" + u.User.Username(),
		"POSTGRES_PASSWORD=" + pass, "POSTGRES_SSLMODE=disable"}
}

// A SQLite deployment grows into PostgreSQL: `migrate --from-sqlite` copies it, and the
// same accounts then work with the original's POSTGRES_* settings.
func TestMigrateFromSQLiteToPostgres(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runWithEnv(t, dir, "first-password-1\n", nil, "user", "create", "--username", "first", "--email", "first@example.com", "--admin"); code != 0 {
		t.Fatalf("user create on SQLite: %d %s", code, stderr)
	}
	pg := seedPostgresEnv(t, pgtest.DSN(t))

	// Without PostgreSQL settings there is nothing to copy into.
	if _, stderr, code := runWithEnv(t, dir, "", nil, "migrate", "--from-sqlite", "data/nanobanana.db"); code != 2 || !strings.Contains(stderr, "POSTGRES_HOST") {
		t.Fatalf("--from-sqlite without PostgreSQL: %d %s", code, stderr)
	}
	if _, stderr, code := runWithEnv(t, dir, "", pg, "migrate", "--from-sqlite", "data/missing.db"); code == 0 || !strings.Contains(stderr, "missing.db") {
		t.Fatalf("--from-sqlite of a missing file: %d %s", code, stderr)
	}
	out, stderr, code := runWithEnv(t, dir, "", pg, "migrate", "--from-sqlite", "data/nanobanana.db")
	if code != 0 || !strings.Contains(out, "1 users") {
		t.Fatalf("migrate --from-sqlite: %d\n%s\n%s", code, out, stderr)
	}
	out, stderr, code = runWithEnv(t, dir, "", pg, "user", "list")
	if code != 0 || !strings.Contains(out, "first") || !strings.Contains(out, "first@example.com") {
		t.Fatalf("user list on PostgreSQL after the copy: %d\n%s\n%s", code, out, stderr)
	}
	// The copy is one-way into an empty database: a second run is refused.
	if _, stderr, code := runWithEnv(t, dir, "", pg, "migrate", "--from-sqlite", "data/nanobanana.db"); code == 0 || !strings.Contains(stderr, "empty") {
		t.Fatalf("second copy: %d %s", code, stderr)
	}
	// backup is SQLite's; with PostgreSQL it says what to use instead.
	if _, stderr, code := runWithEnv(t, dir, "", pg, "backup", "--to", "b.db"); code == 0 || !strings.Contains(stderr, "pg_dump") {
		t.Fatalf("backup with PostgreSQL: %d %s", code, stderr)
	}
}

// At boot the service may start before PostgreSQL: serve waits for a server it cannot
// reach yet, and starts once it answers; a server that answers "no" (a wrong password)
// ends the start at once instead.
func TestServeWaitsForPostgresToComeUp(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// A port where PostgreSQL will appear: a forwarder to the real server, opened once
	// serve has said it is waiting.
	late := proctest.FreeAddr(t)
	_, latePort, _ := net.SplitHostPort(late)
	env := append(seedPostgresEnv(t, dsn), "POSTGRES_PORT="+latePort, "SECRET_KEY=wait-test-secret-wait-test-secret-0123")
	addr := proctest.FreeAddr(t)
	cmd := exec.Command(nanobanana(t), "serve", "--listen", addr)
	cmd.Dir = t.TempDir()
	cmd.Env = cleanEnv(append([]string{"BCRYPT_COST=10"}, env...)...)
	p := proctest.Start(t, cmd)
	for deadline := time.Now().Add(time.Minute); !strings.Contains(p.Logs.String(), "cannot be reached yet"); {
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("serve did not say it waits for PostgreSQL:\n%s", p.Logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", late)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer s.Close()
				go io.Copy(s, c)
				io.Copy(c, s)
			}()
		}
	}()
	if err := p.WaitHTTP(nil, "http://"+addr+"/healthz", time.Minute); err != nil {
		t.Fatalf("serve did not start once PostgreSQL answered:\n%s", p.Logs.String())
	}
	if err := p.Stop(25 * time.Second); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.Logs.String())
	}

	bad := append(seedPostgresEnv(t, dsn), "POSTGRES_PASSWORD=wrong-password")
	_, stderr, code := runWithEnv(t, t.TempDir(), "", bad, "serve", "--listen", proctest.FreeAddr(t))
	if code == 0 || strings.Contains(stderr, "retrying") || !strings.Contains(stderr, "password") {
		t.Fatalf("serve with a wrong PostgreSQL password: exit %d\n%s", code, stderr)
	}
}
