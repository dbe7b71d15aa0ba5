package pgtest

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { Main(m) }

// open connects to dsn and closes the pool when t ends, before DSN's drop.
func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	return db
}

func currentDatabase(t *testing.T, db *sql.DB) string {
	t.Helper()
	var name string
	if err := db.QueryRow("SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func tableCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	err := db.QueryRow(`SELECT count(*) FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pgCode(err error) string {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code
	}
	return ""
}

func TestTwoDatabasesAreSeparate(t *testing.T) {
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two DSN calls gave the same database %s", a)
	}
	dbA, dbB := open(t, a), open(t, b)
	nameA, nameB := currentDatabase(t, dbA), currentDatabase(t, dbB)
	if nameA == nameB {
		t.Fatalf("both DSNs connect to database %s", nameA)
	}
	for _, c := range []struct {
		dsn, name string
		db        *sql.DB
	}{{a, nameA, dbA}, {b, nameB, dbB}} {
		u, err := url.Parse(c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if u.Path != "/"+c.name {
			t.Errorf("DSN %s connects to database %s", c.dsn, c.name)
		}
		if n := tableCount(t, c.db); n != 0 {
			t.Errorf("new database %s holds %d tables, want none", c.name, n)
		}
	}

	if _, err := dbA.Exec("CREATE TABLE notes (body text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := dbA.Exec("INSERT INTO notes VALUES ('only in A')"); err != nil {
		t.Fatal(err)
	}
	var found sql.NullString
	if err := dbB.QueryRow("SELECT to_regclass('public.notes')::text").Scan(&found); err != nil {
		t.Fatal(err)
	}
	if found.Valid {
		t.Fatalf("table notes made in %s is visible in %s", nameA, nameB)
	}
	// The same name is free in B, with another shape.
	if _, err := dbB.Exec("CREATE TABLE notes (n int)"); err != nil {
		t.Fatalf("create notes in %s: %v", nameB, err)
	}
	var body string
	if err := dbA.QueryRow("SELECT body FROM notes").Scan(&body); err != nil || body != "only in A" {
		t.Fatalf("A's notes read %q, %v after B made its own", body, err)
	}
}

func TestDatabaseIsDroppedWhenTestEnds(t *testing.T) {
	s, err := get()
	if err != nil {
		t.Fatal(err)
	}
	var dsn, name string
	t.Run("user", func(t *testing.T) {
		dsn = DSN(t)
		db := open(t, dsn)
		name = currentDatabase(t, db)
		if _, err := db.Exec("CREATE TABLE kept (id int)"); err != nil {
			t.Fatal(err)
		}
		// A session the test forgets to close must not keep the database
		// alive: this pool is closed only after the drop.
		leak, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := leak.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(); leak.Close() }) // registered first, so it runs after DSN's drop
	})
	if t.Failed() {
		return
	}

	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s still exists after its test ended", name)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Ping()
	if code := pgCode(err); code != "3D000" { // invalid_catalog_name: no such database
		t.Fatalf("connecting to the dropped database: %v (code %q), want code 3D000", err, code)
	}
}

func TestWrongPasswordIsRejected(t *testing.T) {
	if os.Getenv(EnvServer) != "" {
		t.Skipf("the server of %s authenticates as its owner set it up", EnvServer)
	}
	u, err := url.Parse(DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	open(t, u.String()) // the right password gets in

	pass, _ := u.User.Password()
	for _, bad := range []string{pass + "x", "", "postgres"} {
		u.User = url.UserPassword(u.User.Username(), bad)
		db, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		err = db.Ping()
		db.Close()
		if code := pgCode(err); code != "28P01" { // invalid_password
			t.Errorf("password %q: %v (code %q), want code 28P01", bad, err, code)
		}
	}
	// Another user, no password: no trust rule lets anyone in.
	u.User = url.User("postgres")
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err == nil {
		t.Error("user postgres got in without a password")
	}
}

func TestParallelTestsGetTheirOwnDatabases(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{}
	for i, sub := range []string{"a", "b", "c", "name with spaces/and ÜNICODE", strings.Repeat("long", 40)} {
		t.Run(sub, func(t *testing.T) {
			t.Parallel()
			db := open(t, DSN(t))
			name := currentDatabase(t, db)
			mu.Lock()
			if other, ok := seen[name]; ok {
				t.Errorf("%s and %s share database %s", other, t.Name(), name)
			}
			seen[name] = t.Name()
			mu.Unlock()
			if _, err := db.Exec("CREATE TABLE mine (i int)"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec("INSERT INTO mine VALUES ($1)", i); err != nil {
				t.Fatal(err)
			}
			var got []int
			rows, err := db.Query("SELECT i FROM mine")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var v int
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != i {
				t.Fatalf("table mine holds %v, want [%d]", got, i)
			}
		})
	}
}

// The child tests below run in a second copy of this test binary, so that
// its server can be stopped, or the binary killed, without touching the
// server of this one.
const childModeEnv = "PGTEST_CHILD"

// TestChild is the child's side: it starts a server, holds a session on it,
// prints where they are and waits for the parent to look. Then it returns
// (and Main stops the server) once its stdin closes or, for a crash, waits
// to be killed.
func TestChild(t *testing.T) {
	mode := os.Getenv(childModeEnv)
	if mode == "" {
		t.Skip("runs only as the child of TestStopEndsServer and TestServerDiesWithCrashedBinary")
	}
	db := open(t, DSN(t))
	var backend int
	if err := db.QueryRow("SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	s, _ := get()
	fmt.Printf("pgtest-child %s %d %d %s\n", s.admin.Host, s.cmd.Process.Pid, backend, s.dir)
	_, _ = io.Copy(io.Discard, os.Stdin)
	if mode == "crash" {
		select {}
	}
}

type child struct {
	addr                string
	postmaster, backend int
	dir                 string
	cmd                 *exec.Cmd
	stdin               io.Closer
}

func startChild(t *testing.T, mode string) *child {
	t.Helper()
	if os.Getenv(EnvServer) != "" {
		t.Skipf("with %s set no server is started here", EnvServer)
	}
	if _, _, err := binaries(); err != nil {
		DSN(t) // skips or fails as DSN does without PostgreSQL
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := &child{cmd: cmd, stdin: stdin}
	out := bufio.NewReader(stdout)
	for {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("child printed no server: %v", err)
		}
		if rest, ok := strings.CutPrefix(line, "pgtest-child "); ok {
			f := strings.Fields(rest)
			if len(f) != 4 {
				t.Fatalf("child printed %q", line)
			}
			c.addr, c.dir = f[0], f[3]
			c.postmaster, _ = strconv.Atoi(f[1])
			c.backend, _ = strconv.Atoi(f[2])
			break
		}
	}
	t.Cleanup(func() { os.RemoveAll(c.dir) })
	if !alive(c.postmaster) || !alive(c.backend) {
		t.Fatalf("child's postmaster %d or backend %d not running", c.postmaster, c.backend)
	}
	return c
}

// alive reports whether pid is a running process; a zombie, dead but not yet
// reaped by whoever inherited it, counts as gone.
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitGone waits until the child's server processes are gone and its port
// refuses connections.
func (c *child) waitGone(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		conn, err := net.DialTimeout("tcp", c.addr, time.Second)
		if err == nil {
			conn.Close()
		}
		up := err == nil || alive(c.postmaster) || alive(c.backend)
		if !up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the child ended: postmaster %d alive %v, backend %d alive %v, port %s open %v",
				within, c.postmaster, alive(c.postmaster), c.backend, alive(c.backend), c.addr, err == nil)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStopEndsServer(t *testing.T) {
	c := startChild(t, "stop")
	c.stdin.Close() // lets the child end its test, then Main calls Stop
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	c.waitGone(t, 5*time.Second)
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stop left the server's directory %s: %v", c.dir, err)
	}
}

func TestServerDiesWithCrashedBinary(t *testing.T) {
	c := startChild(t, "crash")
	// SIGKILL: no cleanup, no Stop, no deferred call of the child runs.
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	c.waitGone(t, 10*time.Second)
}
