package systemd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kardianos/service"
)

// Options says which unit `nanobanana service ...` manages. Zero values take
// the defaults of the reference unit, except BinaryPath, which defaults to the
// running executable.
type Options struct {
	BinaryPath  string // absolute path of the nanobanana binary the unit runs
	DataDir     string // --data-dir of `serve`; default /var/lib/nanobanana
	EnvFile     string // --env-file of `serve` and EnvironmentFile=; default /etc/nanobanana/nanobanana.env
	User        string // system units only; default "nanobanana"
	Group       string // system units only; default = User
	UserService bool   // a per-user unit (~/.config/systemd/user), no root needed

	// Seams for tests; zero values mean the real system.
	systemdRunDir string     // exists when systemd is the running init: /run/systemd/system
	euid          func() int // os.Geteuid
}

// Errors Run returns; they are wrapped with the detail a person needs.
var (
	ErrNotRoot          = errors.New("installing or controlling the system service needs root (run with sudo, or use --user-service)")
	ErrNoSystemd        = errors.New("systemd is not running on this host (no /run/systemd/system), so there is no service to install or control")
	ErrAlreadyInstalled = errors.New("the service is already installed")
	ErrNotInstalled     = errors.New("the service is not installed")
	ErrUnknownAction    = errors.New("unknown service action: want install, uninstall, start, stop, restart or status")
)

// Actions lists what Run accepts, in the order a help text shows them.
var Actions = []string{"install", "uninstall", "start", "stop", "restart", "status"}

// Run performs one `nanobanana service` action and writes what happened, or
// for status one of "running", "stopped" or "not installed", to stdout.
//
// ctx is only checked before starting: kardianos/service runs systemctl
// without a context.
func Run(ctx context.Context, action string, o Options, stdout io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	known := false
	for _, a := range Actions {
		known = known || a == action
	}
	if !known {
		return fmt.Errorf("%w (got %q)", ErrUnknownAction, action)
	}
	runDir := o.systemdRunDir
	if runDir == "" {
		runDir = "/run/systemd/system"
	}
	if _, err := os.Stat(runDir); err != nil {
		return ErrNoSystemd
	}
	euid := o.euid
	if euid == nil {
		euid = os.Geteuid
	}
	// Reading the state needs no privilege; changing a system unit does.
	if !o.UserService && action != "status" && euid() != 0 {
		return ErrNotRoot
	}
	if o.BinaryPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding the nanobanana binary (pass its path): %w", err)
		}
		if exe, err = filepath.EvalSymlinks(exe); err != nil {
			return fmt.Errorf("finding the nanobanana binary (pass its path): %w", err)
		}
		o.BinaryPath = exe
	}

	path, err := UnitPath(o.UserService)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(path)
	installed := statErr == nil
	if statErr != nil && !errors.Is(statErr, os.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", path, statErr)
	}

	if action == "install" {
		if installed {
			return fmt.Errorf("%w: %s exists (run `nanobanana service uninstall` first to replace it)", ErrAlreadyInstalled, path)
		}
		return install(o, path, stdout)
	}
	if !installed {
		if action == "status" {
			_, err := fmt.Fprintln(stdout, "not installed")
			return err
		}
		return fmt.Errorf("%w: no unit at %s (run `nanobanana service install` first)", ErrNotInstalled, path)
	}

	svc, err := newService(o, "")
	if err != nil {
		return err
	}
	switch action {
	case "uninstall":
		// A disabled unit whose process still runs would keep serving
		// from a file that is gone: stop it first.
		if st, err := svc.Status(); err == nil && st == service.StatusRunning {
			if err := svc.Stop(); err != nil {
				return fmt.Errorf("stopping %s before uninstalling: %w", ServiceName, err)
			}
		}
		if err := svc.Uninstall(); err != nil {
			return fmt.Errorf("uninstalling %s: %w", path, err)
		}
		_, err = fmt.Fprintf(stdout, "uninstalled %s (data and env file left in place)\n", path)
		return err
	case "start", "stop", "restart":
		var err error
		switch action {
		case "start":
			err = svc.Start()
		case "stop":
			err = svc.Stop()
		default:
			err = svc.Restart()
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w (see: %s)", action, ServiceName, err, journalHint(o.UserService))
		}
		_, err = fmt.Fprintf(stdout, "%s: %s done\n", ServiceName, action)
		return err
	default: // status
		st, err := svc.Status()
		state := "stopped"
		switch {
		case errors.Is(err, service.ErrNotInstalled):
			state = "not installed"
		case err != nil && err.Error() == "service in failed state":
			// kardianos reports systemd's "failed" as an error; for a
			// person it is a stopped service with a reason in the journal.
			state = "stopped (failed: see " + journalHint(o.UserService) + ")"
		case err != nil:
			return fmt.Errorf("status of %s: %w", ServiceName, err)
		case st == service.StatusRunning:
			state = "running"
		}
		_, err = fmt.Fprintln(stdout, state)
		return err
	}
}

func install(o Options, path string, stdout io.Writer) error {
	unit, err := Render(o)
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.BinaryPath); err != nil {
		return fmt.Errorf("binary %s: %w", o.BinaryPath, err)
	}
	svc, err := newService(o, unit)
	if err != nil {
		return err
	}
	if err := svc.Install(); err != nil {
		return fmt.Errorf("installing %s: %w", path, err)
	}
	next := "nanobanana service start"
	if !o.UserService {
		next = "sudo " + next
	}
	if _, err := fmt.Fprintf(stdout, "installed %s (enabled at boot)\nstart it with: %s\n", path, next); err != nil {
		return err
	}
	if o.UserService {
		// Without lingering the user manager, and the service with it,
		// stops at logout and does not start at boot.
		_, err = fmt.Fprintf(stdout, "to keep it running without a login session: loginctl enable-linger %s\n", currentUser())
	}
	return err
}

// UnitPath is where the unit lives: the same paths kardianos/service writes.
func UnitPath(userService bool) (string, error) {
	if !userService {
		return "/etc/systemd/system/" + ServiceName + ".service", nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("a user service lives under $HOME/.config/systemd/user: %w", err)
	}
	return filepath.Join(home, ".config", "systemd", "user", ServiceName+".service"), nil
}

// newService builds the kardianos systemd service. The systemd backend is
// picked by name rather than by kardianos' detection, which falls back to
// SysV scripts in /etc/init.d when systemd is not PID 1; Run has already
// checked that systemd runs. unit is the rendered unit for install and empty
// otherwise (kardianos needs it only to write the file).
func newService(o Options, unit string) (service.Service, error) {
	var sys service.System
	for _, s := range service.AvailableSystems() {
		if s.String() == "linux-systemd" {
			sys = s
		}
	}
	if sys == nil {
		return nil, ErrNoSystemd
	}
	opts := service.KeyValue{"UserService": o.UserService}
	if unit != "" {
		// kardianos passes SystemdScript through its own small template
		// engine; Render refuses "{{" in every value, so the unit comes out
		// unchanged (the install test compares it byte for byte).
		opts["SystemdScript"] = unit
	}
	return sys.New(program{}, &service.Config{
		Name:        ServiceName,
		Description: "nanobanana image generation service",
		Executable:  o.BinaryPath,
		Option:      opts,
	})
}

// program satisfies kardianos' Interface, which is only used when the
// service runs through kardianos; here systemd runs `nanobanana serve`.
type program struct{}

func (program) Start(service.Service) error { return nil }
func (program) Stop(service.Service) error  { return nil }

func journalHint(user bool) string {
	if user {
		return "journalctl --user -u " + ServiceName
	}
	return "journalctl -u " + ServiceName
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "$USER"
}
