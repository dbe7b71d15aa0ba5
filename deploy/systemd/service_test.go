package systemd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSystem is a temporary $HOME and a fake systemctl first on $PATH. The
// user-service path of kardianos/service writes under $HOME and runs
// "systemctl", so the real library code runs while nothing of the host is
// touched. The fake keeps the unit's state in a file and logs its calls.
type fakeSystem struct {
	home, log string
	runDir    string
}

func newFakeSystem(t *testing.T) *fakeSystem {
	t.Helper()
	root := t.TempDir()
	f := &fakeSystem{
		home:   filepath.Join(root, "home"),
		log:    filepath.Join(root, "systemctl.log"),
		runDir: filepath.Join(root, "run-systemd-system"),
	}
	bin := filepath.Join(root, "bin")
	for _, d := range []string{f.home, bin, f.runDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(root, "state")
	unit := filepath.Join(f.home, ".config/systemd/user/nanobanana.service")
	script := `#!/bin/sh
echo "$*" >> '` + f.log + `'
case "$1" in
is-active)
	if [ -f '` + state + `' ]; then echo active; exit 0; fi
	echo inactive; exit 3 ;;
list-unit-files)
	if [ -f '` + unit + `' ]; then echo "nanobanana.service enabled enabled"; fi ;;
start|restart) : > '` + state + `' ;;
stop) rm -f '` + state + `' ;;
esac
exit 0
`
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", f.home)
	t.Setenv("PATH", bin)
	return f
}

func (f *fakeSystem) calls(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(f.log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

func (f *fakeSystem) options(t *testing.T) Options {
	t.Helper()
	bin := filepath.Join(f.home, "bin", "nanobanana")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return Options{
		BinaryPath:    bin,
		DataDir:       filepath.Join(f.home, "nanobanana"),
		EnvFile:       filepath.Join(f.home, "nanobanana", "nanobanana.env"),
		UserService:   true,
		systemdRunDir: f.runDir,
		euid:          func() int { return 1000 },
	}
}

func run(t *testing.T, action string, o Options) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := Run(context.Background(), action, o, &out)
	return out.String(), err
}

func mustRun(t *testing.T, action string, o Options) string {
	t.Helper()
	out, err := run(t, action, o)
	if err != nil {
		t.Fatalf("service %s: %v", action, err)
	}
	return out
}

func TestUserServiceLifecycle(t *testing.T) {
	f := newFakeSystem(t)
	o := f.options(t)

	if got := mustRun(t, "status", o); got != "not installed\n" {
		t.Errorf("status before install = %q, want not installed", got)
	}
	if _, err := run(t, "start", o); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("start before install: %v, want ErrNotInstalled", err)
	}

	out := mustRun(t, "install", o)
	if !strings.Contains(out, "loginctl enable-linger") {
		t.Errorf("install output lacks the linger note:\n%s", out)
	}
	path := filepath.Join(f.home, ".config/systemd/user/nanobanana.service")
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("install wrote no unit: %v", err)
	}
	// What kardianos wrote must be our unit byte for byte (its template
	// engine must not have eaten anything), and that unit is the shipped
	// one modulo paths (user-only removals are checked in TestRenderUserService).
	want, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != want {
		t.Errorf("written unit differs from the rendered one:\n%s", diffLines(want, string(written)))
	}
	checkUserUnitFromShipped(t, string(written), o.BinaryPath, o.DataDir, o.EnvFile)
	if got, want := settingsOf(string(written))["ExecStart"], o.BinaryPath+" serve --env-file "+o.EnvFile+" --data-dir "+o.DataDir; len(got) != 1 || got[0] != want {
		t.Errorf("ExecStart = %q, want %q", got, want)
	}
	calls := f.calls(t)
	for _, c := range []string{"enable --user nanobanana.service", "daemon-reload --user"} {
		if !strings.Contains(calls, c) {
			t.Errorf("install did not run systemctl %s; calls:\n%s", c, calls)
		}
	}

	if _, err := run(t, "install", o); !errors.Is(err, ErrAlreadyInstalled) {
		t.Errorf("second install: %v, want ErrAlreadyInstalled", err)
	}
	if got := mustRun(t, "status", o); got != "stopped\n" {
		t.Errorf("status after install = %q, want stopped", got)
	}
	mustRun(t, "start", o)
	if got := mustRun(t, "status", o); got != "running\n" {
		t.Errorf("status after start = %q, want running", got)
	}
	mustRun(t, "restart", o)
	if !strings.Contains(f.calls(t), "restart --user nanobanana.service") {
		t.Errorf("restart did not reach systemctl; calls:\n%s", f.calls(t))
	}

	mustRun(t, "uninstall", o)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still present after uninstall: %v", err)
	}
	calls = f.calls(t)
	if !strings.Contains(calls, "stop --user nanobanana.service") || !strings.Contains(calls, "disable --user nanobanana.service") {
		t.Errorf("uninstall of a running service must stop and disable it; calls:\n%s", calls)
	}
	if got := mustRun(t, "status", o); got != "not installed\n" {
		t.Errorf("status after uninstall = %q, want not installed", got)
	}
	if _, err := run(t, "uninstall", o); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second uninstall: %v, want ErrNotInstalled", err)
	}
}

func TestRunRefusals(t *testing.T) {
	f := newFakeSystem(t)
	user := f.options(t)

	system := user
	system.UserService = false
	system.BinaryPath = "/usr/local/bin/nanobanana"
	system.DataDir, system.EnvFile = "", ""
	for _, action := range []string{"install", "uninstall", "start", "stop", "restart"} {
		if _, err := run(t, action, system); !errors.Is(err, ErrNotRoot) {
			t.Errorf("%s of the system unit as uid 1000: %v, want ErrNotRoot", action, err)
		}
	}

	noSystemd := user
	noSystemd.systemdRunDir = filepath.Join(t.TempDir(), "absent")
	if _, err := run(t, "install", noSystemd); !errors.Is(err, ErrNoSystemd) {
		t.Errorf("install without systemd: %v, want ErrNoSystemd", err)
	}

	if _, err := run(t, "reload", user); !errors.Is(err, ErrUnknownAction) {
		t.Errorf("unknown action: %v, want ErrUnknownAction", err)
	}

	missing := user
	missing.BinaryPath = filepath.Join(f.home, "no-such-binary")
	if _, err := run(t, "install", missing); err == nil || !strings.Contains(err.Error(), "no-such-binary") {
		t.Errorf("install of a missing binary: %v, want an error naming it", err)
	}
	if calls := f.calls(t); calls != "" {
		t.Errorf("refused actions still ran systemctl:\n%s", calls)
	}
}
