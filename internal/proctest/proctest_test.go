package proctest

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestFreeAddrIsLoopback(t *testing.T) {
	host, _, err := net.SplitHostPort(FreeAddr(t))
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr host %q, %v; want 127.0.0.1", host, err)
	}
}

// The fake Replicate is built, answers on loopback and reports its counters.
func TestStartFakeReplicate(t *testing.T) {
	api := StartFakeReplicate(t)
	if !strings.HasPrefix(api, "http://127.0.0.1:") {
		t.Fatalf("API URL %q; want one on 127.0.0.1", api)
	}
	if st := FakeStats(t, api); st.Created != 0 {
		t.Fatalf("a fresh fake counts %d predictions", st.Created)
	}
	// Built once: a second start reuses the binary.
	if a, b := Build(t, "./replicate/replicatetest/cmd/fakereplicate"), Build(t, "./replicate/replicatetest/cmd/fakereplicate"); a != b {
		t.Errorf("two builds of one package: %s and %s", a, b)
	}
	if _, err := os.Stat(Build(t, "./replicate/replicatetest/cmd/fakereplicate")); err != nil {
		t.Fatal(err)
	}
}

// waitLogs waits until the child has printed want; the bound only turns a
// hang into a failure.
func waitLogs(t *testing.T, p *Proc, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Logs.String(), want) {
		if time.Now().After(deadline) || p.Exited() {
			t.Fatalf("the child did not print %q: %q", want, p.Logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStopEndsAProcessWithSIGTERM(t *testing.T) {
	p := Start(t, exec.Command("/bin/sh", "-c", "echo ready; exec sleep 60"))
	waitLogs(t, p, "ready")
	err := p.Stop(10 * time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(ee.Error(), "terminated") {
		t.Fatalf("Stop = %v; want the child ended by SIGTERM", err)
	}
	if !p.Exited() {
		t.Fatal("Exited is false after Stop returned")
	}
}

func TestStopLeavesAStubbornProcessToKill(t *testing.T) {
	p := Start(t, exec.Command("/bin/sh", "-c", `trap "" TERM; echo ready; while :; do sleep 0.05; done`))
	waitLogs(t, p, "ready")
	if err := p.Stop(300 * time.Millisecond); !errors.Is(err, ErrStillRunning) {
		t.Fatalf("Stop of a child that ignores SIGTERM = %v; want ErrStillRunning", err)
	}
	if p.Exited() {
		t.Fatal("the child ended though it ignores SIGTERM")
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if !p.Exited() {
		t.Fatal("Exited is false after Kill returned")
	}
	if err := p.Kill(); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("second Kill = %v; want os.ErrProcessDone", err)
	}
}

// A server that dies while starting fails the wait at once, not at the timeout.
func TestWaitHTTPStopsWhenTheProcessExits(t *testing.T) {
	p := Start(t, exec.Command("/bin/sh", "-c", "echo broken config >&2; exit 3"))
	err := p.WaitHTTP(nil, "http://"+FreeAddr(t)+"/healthz", time.Minute)
	if err == nil || !p.Exited() {
		t.Fatalf("WaitHTTP = %v, exited %v; want an error and an exited process", err, p.Exited())
	}
	var ee *exec.ExitError
	if !errors.As(p.Err(), &ee) || ee.ExitCode() != 3 {
		t.Errorf("Err = %v; want exit status 3", p.Err())
	}
	if !strings.Contains(p.Logs.String(), "broken config") {
		t.Errorf("Logs = %q; want the child's stderr", p.Logs.String())
	}
}
