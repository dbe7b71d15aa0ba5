package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"nanobanana/internal/proctest"
)

// serveProcesses lists the live `nanobanana serve --env-file envFile` processes: what
// `start` starts for that configuration.
func serveProcesses(t *testing.T, envFile string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := "\x00serve\x00--env-file\x00" + envFile + "\x00"
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// A zombie (killed, not yet reaped by init) has an empty command line.
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processUID is the real uid of a process, from /proc.
func processUID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	return ""
}

// daemonPID is the pid a start or status line names.
var daemonPIDRe = regexp.MustCompile(`\(pid (\d+)`)

func daemonPID(t *testing.T, line string) int {
	t.Helper()
	m := daemonPIDRe.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no pid in %q", line)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// The cron line of docs/DEPLOY.md's shared hosting section, run as cron would: twice at
// once gives one server; after a kill -9 the next run brings it back and a job queued
// before the kill completes, paid once; status and stop answer as LSB says; the log
// rotates by size.
func TestCronStartKillNineAndBack(t *testing.T) {
	api := proctest.StartFakeReplicate(t, "-queue-time", "200ms", "-run-time", "1s")
	dir := t.TempDir()
	addr := proctest.FreeAddr(t)
	envFile := filepath.Join(dir, ".env")
	dataDir := filepath.Join(dir, "data")
	if err := os.WriteFile(envFile, []byte(strings.Join([]string{
		"DATA_DIR=" + dataDir, "LISTEN_ADDR=" + addr,
		"REPLICATE_API_BASE=" + api, "REPLICATE_API_TOKEN=r8_cron_test",
		"LOG_FORMAT=json", "LOG_MAX_BYTES=4096", "LOG_MAX_FILES=2",
	}, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// What cron runs: the binary with the flags, nothing else.
	cron := func(args ...string) (string, string, int) {
		t.Helper()
		return runWithEnv(t, dir, "", nil, append([]string{args[0], "--env-file", envFile}, args[1:]...)...)
	}
	t.Cleanup(func() {
		// A test that failed half-way leaves no server behind.
		for _, pid := range serveProcesses(t, envFile) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	})

	// Two cron runs that overlap: both succeed at once, one server.
	var wg sync.WaitGroup
	outs := make([]string, 2)
	codes := make([]int, 2)
	for i := range outs {
		wg.Go(func() {
			var errs string
			outs[i], errs, codes[i] = cron("start")
			outs[i] += errs
		})
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("two starts at once: exit %d and %d:\n%s\n%s", codes[0], codes[1], outs[0], outs[1])
	}
	started := 0
	for _, o := range outs {
		if strings.HasPrefix(o, "started nanobanana (pid ") {
			started++
		} else if !strings.HasPrefix(o, "nanobanana is already running") {
			t.Errorf("a start said %q", o)
		}
	}
	if started != 1 {
		t.Fatalf("two starts at once started %d servers:\n%s\n%s", started, outs[0], outs[1])
	}
	if pids := serveProcesses(t, envFile); len(pids) != 1 {
		t.Fatalf("after two starts: serve processes %v, want one", pids)
	}
	// Later runs, as cron's every minute: nothing to say, nothing done.
	for range 3 {
		if out, errs, code := cron("start", "--quiet"); code != 0 || out != "" || errs != "" {
			t.Fatalf("start --quiet while running: exit %d, %q %q", code, out, errs)
		}
	}
	out, _, code := cron("status")
	if code != 0 || !strings.HasPrefix(out, "running (pid ") || !strings.Contains(out, "listening on "+addr) {
		t.Fatalf("status while running: exit %d %q", code, out)
	}
	pid := daemonPID(t, out)
	if pids := serveProcesses(t, envFile); len(pids) != 1 || pids[0] != pid {
		t.Fatalf("status names pid %d; serve processes are %v", pid, pids)
	}
	base := "http://" + addr

	// A job queued (committed: 202) before a kill -9.
	code, reg := postJSON(t, base+"/api/v1/auth/register", "", map[string]string{
		"username": "cron", "email": "cron@example.com", "password": "cron-password"})
	if code != 201 {
		t.Fatalf("register: %d %v", code, reg)
	}
	token := reg["access_token"].(string)
	code, gen := postJSON(t, base+"/api/v1/images/generate", token, map[string]string{"prompt": "a banana that outlives a kill", "resolution": "1K"})
	if code != 202 {
		t.Fatalf("generate: %d %v", code, gen)
	}
	id := gen["image_id"].(string)
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	// The kernel drops the lock with the process; the bound only guards against a hang.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _, code = cron("status")
		if code == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after kill -9: exit %d %q", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out != "not running\n" {
		t.Errorf("status after kill -9: %q", out)
	}
	if pids := serveProcesses(t, envFile); len(pids) != 0 {
		t.Fatalf("after kill -9: serve processes %v", pids)
	}

	// The next cron run brings it back, and the job completes.
	out, errs, code := cron("start", "--quiet")
	if code != 0 || !strings.HasPrefix(out, "started nanobanana (pid ") {
		t.Fatalf("start after kill -9: exit %d %q %q", code, out, errs)
	}
	if newPID := daemonPID(t, out); newPID == pid {
		t.Fatalf("the server after the kill has the killed one's pid %d", pid)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		_, g := getJSON(t, base+"/api/v1/images/status/"+id, token)
		if g["status"] == "completed" {
			break
		}
		if g["status"] == "failed" || g["status"] == "canceled" || time.Now().After(deadline) {
			t.Fatalf("the job queued before the kill: %v", g)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := proctest.FakeStats(t, api); st.Created != 1 {
		t.Errorf("Replicate saw %d predictions for one job (%+v)", st.Created, st)
	}

	// The log rotates by size: LOG_MAX_BYTES=4096, two old files kept.
	for range 40 {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	logName := filepath.Join(dataDir, "nanobanana.log")
	for _, name := range []string{logName, logName + ".1", logName + ".2"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("log rotation: %v", err)
		}
		if fi.Size() > 4096 {
			t.Errorf("%s has %d bytes; LOG_MAX_BYTES is 4096", name, fi.Size())
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(logName + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 exists with LOG_MAX_FILES=2", logName)
	}
	if b, _ := os.ReadFile(logName); !bytes.Contains(b, []byte(`"msg":"request"`)) {
		t.Errorf("the current log has no request line:\n%s", b)
	}

	// stop, then status and stop again.
	out, errs, code = cron("stop")
	if code != 0 || !strings.HasPrefix(out, "stopped nanobanana (pid ") {
		t.Fatalf("stop: exit %d %q %q", code, out, errs)
	}
	if pids := serveProcesses(t, envFile); len(pids) != 0 {
		t.Fatalf("after stop: serve processes %v", pids)
	}
	if out, _, code = cron("status"); code != 3 || out != "not running\n" {
		t.Errorf("status after stop: exit %d %q", code, out)
	}
	if out, _, code = cron("stop"); code != 0 || out != "nanobanana is not running\n" {
		t.Errorf("stop when stopped: exit %d %q", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dataDir, "nanobanana.pid")); len(b) != 0 {
		t.Errorf("a clean stop left %q in the pid file", b)
	}
}

// A serve started some other way (a terminal, systemd) holds the database: start leaves
// it alone, status says so, and stop says where to stop it.
func TestStartLeavesAServeStartedOtherwise(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, dir, nil)
	out, errs, code := runCLI(t, dir, "", "start")
	if code != 0 || !strings.Contains(out, "not started by `nanobanana start`") {
		t.Errorf("start beside a running serve: exit %d %q %q", code, out, errs)
	}
	if out, _, code = runCLI(t, dir, "", "status"); code != 0 || !strings.HasPrefix(out, "running, not started by") {
		t.Errorf("status beside a running serve: exit %d %q", code, out)
	}
	if _, errs, code = runCLI(t, dir, "", "stop"); code != 1 || !strings.Contains(errs, "stop it where it was started") {
		t.Errorf("stop beside a running serve: exit %d %q", code, errs)
	}
	if p.Exited() {
		t.Fatalf("the running serve died:\n%s", p.Logs)
	}
	p.stop(t)
	if out, _, code = runCLI(t, dir, "", "status"); code != 3 {
		t.Errorf("status once it stopped: exit %d %q", code, out)
	}
}

// A start whose server cannot start says why, from the server's log, and exits 1.
func TestStartReportsAFailedStart(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := runWithEnv(t, dir, "", []string{"LISTEN_ADDR=unix:" + filepath.Join(dir, "no-such-dir", "nb.sock")}, "start")
	if code != 1 || !strings.Contains(errs, "the server did not start") || !strings.Contains(errs, "no such file or directory") {
		t.Errorf("start that cannot listen: exit %d %q %q", code, out, errs)
	}
	if out, _, code = runCLI(t, dir, "", "status"); code != 3 {
		t.Errorf("status after a failed start: exit %d %q", code, out)
	}
}

// On a host without root or systemd (a shared host), the service commands say so and
// point to the cron start, and start, status and stop work as that unprivileged user.
// As root the test creates the user; otherwise it is the user the tests run as.
func TestWithoutRootOrSystemd(t *testing.T) {
	var u *proctest.User
	if os.Geteuid() == 0 {
		u = proctest.AddUser(t, "nbtest-cron")
	} else {
		u = proctest.CurrentUser(t)
	}
	// Uploaded to the home, as a customer would (the test's build is in root's private temp).
	bin := filepath.Join(u.Home, "nanobanana")
	raw, err := os.ReadFile(nanobanana(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	u.Own(t, bin)
	envFile := filepath.Join(u.Home, ".env")
	sock := filepath.Join(u.Home, "nanobanana.sock")
	if err := os.WriteFile(envFile, []byte("DATA_DIR="+filepath.Join(u.Home, "data")+"\nLISTEN_ADDR=unix:"+sock+"\nBCRYPT_COST=10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u.Own(t, envFile)
	as := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := u.Command(bin, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return out.String(), errb.String(), 0
		case errors.As(err, &ee):
			return out.String(), errb.String(), ee.ExitCode()
		}
		t.Fatalf("run %v as %s: %v", args, u.Name, err)
		return "", "", 0
	}

	_, noSystemd := os.Stat("/run/systemd/system")
	for _, args := range [][]string{
		{"service", "install", "--env-file", envFile},
		{"service", "start"},
		{"service", "status"},
	} {
		out, errs, code := as(args...)
		if code != 1 {
			t.Errorf("%v as %s: exit %d, want 1\n%s%s", args, u.Name, code, out, errs)
		}
		if noSystemd != nil && !strings.Contains(errs, "systemd is not running on this host") {
			t.Errorf("%v without systemd does not say so:\n%s", args, errs)
		}
		if !strings.Contains(errs, "* * * * * "+bin+" start --quiet") || !strings.Contains(errs, bin+" start") {
			t.Errorf("%v does not point to the cron start:\n%s", args, errs)
		}
	}
	if _, errs, _ := as("service", "install", "--env-file", envFile); !strings.Contains(errs, "--env-file "+envFile) {
		t.Errorf("the cron line does not carry the service's --env-file:\n%s", errs)
	}

	out, errs, code := as("start", "--env-file", envFile)
	if code != 0 || !strings.HasPrefix(out, "started nanobanana (pid ") || !strings.Contains(out, "listening on unix:"+sock) {
		t.Fatalf("start as %s: exit %d %q %q", u.Name, code, out, errs)
	}
	pid := daemonPID(t, out)
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	})
	if uid := processUID(t, pid); uid != strconv.Itoa(int(u.UID)) {
		t.Errorf("the server runs as uid %s, want %s's %d", uid, u.Name, u.UID)
	}
	// The socket: the user and its group (where a shared host puts its web server).
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket %s: %v %v, want mode 0660", sock, fi, err)
	}
	if out, _, code = as("status", "--env-file", envFile); code != 0 || daemonPID(t, out) != pid {
		t.Errorf("status as %s: exit %d %q", u.Name, code, out)
	}
	if out, errs, code = as("stop", "--env-file", envFile); code != 0 || !strings.HasPrefix(out, "stopped nanobanana") {
		t.Errorf("stop as %s: exit %d %q %q", u.Name, code, out, errs)
	}
	if out, _, code = as("status", "--env-file", envFile); code != 3 || out != "not running\n" {
		t.Errorf("status after stop as %s: exit %d %q", u.Name, code, out)
	}
}
