// Package pgtest gives tests a real PostgreSQL server: DSN hands each test a
// new, empty database of its own on a server shared by the whole test binary,
// and drops that database when the test ends.
//
// The server is the one named by NANOBANANA_TEST_POSTGRES when that is set;
// otherwise the first DSN call initializes a throwaway cluster in a temporary
// directory and starts it on a free loopback port, tuned for speed, never for
// durability. Such a server lives until Stop (call it from TestMain, or use
// Main) and dies with the test binary even when the binary crashes. Nothing
// here runs in production; only _test.go files import it.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"nanobanana/internal/proctest"
)

// EnvServer names the variable that points the tests at an existing server: a
// URL DSN (postgres://user:password@host:port/db?sslmode=disable) of a user
// allowed to CREATE DATABASE. The database in it is only used to connect.
const EnvServer = "NANOBANANA_TEST_POSTGRES"

const (
	superuser = "pgtest"
	// startTimeout only turns a start that hangs into a failure; initdb plus
	// the first start take a few seconds on a busy two-core machine.
	startTimeout = 90 * time.Second
	stopTimeout  = 30 * time.Second
	adminTimeout = 60 * time.Second
)

// errMissing marks a part this machine lacks, so DSN skips (or fails under CI)
// through proctest.Missing instead of failing outright.
type errMissing struct{ msg string }

func (e errMissing) Error() string { return e.msg }

// server is the shared server of this test binary.
type server struct {
	admin   *url.URL // connects as a user allowed to CREATE DATABASE
	db      *sql.DB  // pool on admin, for CREATE and DROP DATABASE
	version int      // server_version_num, such as 150018

	// Set only when this process started the server.
	cmd  *exec.Cmd
	logs *proctest.LockedBuffer
	dir  string        // temporary directory holding the cluster
	done chan struct{} // closed when the postmaster has exited
}

var (
	mu      sync.Mutex
	once    sync.Once
	shared  *server
	errInit error
	seq     int // numbers the databases, so their names sort by creation
)

// DSN returns a URL connection string to a new, empty database made for t
// alone, and drops that database (closing any connection still open to it)
// when t ends. All databases of a test binary live on one server, started by
// the first call. Tests close their own pools in a cleanup registered after
// DSN, so that it runs before the drop.
func DSN(t testing.TB) string {
	t.Helper()
	s, err := get()
	if m, ok := errors.AsType[errMissing](err); ok {
		proctest.Missing(t, m.msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	seq++
	n := seq
	mu.Unlock()
	name := dbName(t.Name(), n)
	ident := pgx.Identifier{name}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	// template0 rather than the default template1: on a server someone else
	// runs, template1 may hold extensions or tables, and a new database must
	// start empty.
	if _, err := s.db.ExecContext(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := s.drop(name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	u := *s.admin
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// Stop stops the shared server if this process started it: a fast shutdown
// (open sessions are ended), then its directory is removed. For a server
// named by NANOBANANA_TEST_POSTGRES it only closes the admin connections.
// Call it after m.Run in TestMain, or use Main.
func Stop() {
	mu.Lock()
	s := shared
	shared = nil
	mu.Unlock()
	if s != nil {
		s.stop()
	}
}

// Main runs the package's tests, stops the shared server and exits with the
// tests' code:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// get starts or finds the shared server once; every later call gets the same
// answer, a failure included.
func get() (*server, error) {
	once.Do(func() {
		var s *server
		if env := os.Getenv(EnvServer); env != "" {
			s, errInit = connectExisting(env)
		} else {
			s, errInit = start()
		}
		mu.Lock()
		shared = s
		mu.Unlock()
	})
	mu.Lock()
	defer mu.Unlock()
	if errInit == nil && shared == nil {
		return nil, errors.New("pgtest: DSN called after Stop")
	}
	return shared, errInit
}

// dbName makes a database name that no other test, here or in another test
// binary sharing the server, can hold: the test's name keeps it readable when
// one is left behind, the random part keeps it unique.
func dbName(testName string, n int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
		if b.Len() >= 30 {
			break
		}
	}
	// PostgreSQL cuts names at 63 bytes: "t_" + 30 + "_" + n + "_" + 12 fits.
	return fmt.Sprintf("t_%s_%d_%s", strings.Trim(b.String(), "_"), n, randomHex(6))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}

// drop removes a test's database with whatever sessions the test left open.
func (s *server) drop(name string) error {
	ident := pgx.Identifier{name}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if s.version >= 130000 {
		if _, err := s.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	// Before 13 a database with sessions cannot be dropped: end them first,
	// and keep new ones out, the superuser's included, while doing so.
	if _, err := s.db.ExecContext(ctx, "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("close database %s: %w", name, err)
	}
	if _, err := s.db.ExecContext(ctx,
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		return fmt.Errorf("end sessions of %s: %w", name, err)
	}
	// A terminated backend takes a moment to leave.
	for {
		_, err := s.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ident)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// connectExisting uses the server a developer or CI named.
func connectExisting(dsn string) (*server, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, fmt.Errorf("pgtest: %s must be a URL such as postgres://user:password@127.0.0.1:5432/postgres?sslmode=disable", EnvServer)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/postgres"
	}
	s := &server{admin: u}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := s.open(ctx); err != nil {
		return nil, fmt.Errorf("pgtest: server of %s: %w", EnvServer, err)
	}
	return s, nil
}

// open connects the admin pool and reads the server's version.
func (s *server) open(ctx context.Context) error {
	db, err := sql.Open("pgx", s.admin.String())
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(4)
	var v string
	if err := db.QueryRowContext(ctx, "SHOW server_version_num").Scan(&v); err != nil {
		db.Close()
		return err
	}
	if s.version, err = strconv.Atoi(v); err != nil {
		db.Close()
		return fmt.Errorf("server_version_num %q: %w", v, err)
	}
	s.db = db
	return nil
}

// binaries finds initdb and postgres of the newest PostgreSQL under
// /usr/lib/postgresql (where Debian puts them, off PATH), else on PATH.
func binaries() (initdb, postgres string, err error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b)))
	})
	for _, d := range slices.Backward(dirs) {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExecutable(i) && isExecutable(p) {
			return i, p, nil
		}
	}
	if i, err := exec.LookPath("initdb"); err == nil {
		// postgres from the same installation as initdb, whichever link
		// brought initdb onto PATH.
		if real, err := filepath.EvalSymlinks(i); err == nil {
			if p := filepath.Join(filepath.Dir(real), "postgres"); isExecutable(p) {
				return real, p, nil
			}
		}
		if p, err := exec.LookPath("postgres"); err == nil {
			return i, p, nil
		}
	}
	return "", "", errMissing{"PostgreSQL not installed: run scripts/test-deps.sh (apt-get install postgresql)"}
}

// compareVersions orders version directory names such as "9.6", "15" and "16".
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// start initializes a new cluster in a temporary directory and starts it.
func start() (*server, error) {
	initdb, postgres, err := binaries()
	if err != nil {
		return nil, err
	}
	// PostgreSQL refuses to run as root; as root, run it as the postgres
	// user the Debian package creates.
	var cred *syscall.Credential
	parent := os.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errMissing{"PostgreSQL refuses to run as root and there is no postgres OS user to run it as (the Debian package postgresql creates one): run the tests as another user or install the package"}
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("pgtest: user postgres has ids %q/%q", u.Uid, u.Gid)
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
		// root's TMPDIR may lie where the postgres user cannot go.
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "pgtest")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s, err := startIn(dir, initdb, postgres, cred)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func startIn(dir, initdb, postgres string, cred *syscall.Credential) (*server, error) {
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	password := randomHex(16)
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	data := filepath.Join(dir, "data")
	// --no-sync: a test cluster need not survive a power cut, and syncing
	// costs seconds. scram-sha-256 for every connection, so the tests log
	// in as an application would, with a password that is checked.
	cmd := exec.Command(initdb, "-D", data, "-U", superuser, "--pwfile="+pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Dir = dir // the caller's directory may be closed to the postgres user
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	os.Remove(pwfile)
	if err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}

	// The free port may be taken by someone else before postgres binds it:
	// try another a few times.
	var lastErr error
	for range 3 {
		s, err := run(dir, data, postgres, password, cred)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "could not bind") && !strings.Contains(err.Error(), "could not create any TCP/IP sockets") {
			break
		}
	}
	return nil, lastErr
}

// run starts postgres on the cluster in data and waits until it lets the
// superuser in.
func run(dir, data, postgres, password string, cred *syscall.Credential) (*server, error) {
	addr := freeAddr()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pgtest: free port: %w", err)
	}
	// fsync, synchronous_commit and full_page_writes off: speed for tests
	// only, a crash may lose or corrupt this throwaway cluster. TCP on
	// loopback only: no Unix socket file to place where the user can
	// write and to clean up.
	cmd := exec.Command(postgres, "-D", data,
		"-c", "listen_addresses="+host, "-p", port,
		"-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		// Room for many parallel tests, each with its own pool, above
		// the default of 100.
		"-c", "max_connections=200")
	cmd.Dir = dir
	cmd.Env = childEnv()
	// Pdeathsig: the kernel kills postgres when this process dies, crash
	// included, which no cleanup of ours could do; Go sets it after
	// switching users, so the switch does not clear it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	logs := &proctest.LockedBuffer{}
	cmd.Stdout = logs
	cmd.Stderr = logs
	s := &server{
		admin: &url.URL{
			Scheme:   "postgres",
			User:     url.UserPassword(superuser, password),
			Host:     addr,
			Path:     "/postgres",
			RawQuery: "sslmode=disable",
		},
		cmd:  cmd,
		logs: logs,
		dir:  dir,
		done: make(chan struct{}),
	}
	started := make(chan error)
	go func() {
		// The kernel sends Pdeathsig when the thread that started the
		// child ends, not the process, and Go may retire a thread: this
		// goroutine keeps its thread for itself until postgres has exited.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	if err := s.waitReady(); err != nil {
		s.kill()
		return nil, fmt.Errorf("pgtest: postgres did not start: %w\n%s", err, logs.String())
	}
	return s, nil
}

// freeAddr is proctest.FreeAddr without a test to fail: the server outlives
// the test that happened to start it.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0" // postgres then says what is wrong
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady polls the port, then logs in for real: the port opens before the
// server has finished starting up and accepts sessions.
func (s *server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	var err error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited: %v", s.cmd.ProcessState)
		default:
		}
		var c net.Conn
		if c, err = net.DialTimeout("tcp", s.admin.Host, time.Second); err == nil {
			c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = s.open(ctx)
			cancel()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// childEnv is this process's environment without what would point initdb or
// postgres elsewhere (PGDATA, PGPORT, ...) or give them a locale the
// cluster does not use.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func (s *server) stop() {
	if s.db != nil {
		s.db.Close()
	}
	if s.cmd == nil {
		return
	}
	// SIGINT is postgres's fast shutdown: sessions end, the cluster is left
	// consistent.
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.kill()
	}
	os.RemoveAll(s.dir)
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}
