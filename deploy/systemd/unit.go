// Package systemd owns nanobanana's systemd unit: the hardened reference unit
// (nanobanana.service, embedded), its rendering for a given binary, data
// directory, env file and account, and the `nanobanana service` subcommands
// that install and drive it through github.com/kardianos/service.
//
// It must not run the server itself (main does, through `serve`) and must not
// touch the system from tests: every system path and check has a seam.
package systemd

import (
	_ "embed"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// referenceUnit is the unit as shipped; Render rewrites its lines by key.
//
//go:embed nanobanana.service
var referenceUnit string

// The defaults are the values written in the reference unit; Render replaces
// them, so they must stay in step with nanobanana.service.
const (
	DefaultBinaryPath = "/usr/local/bin/nanobanana"
	DefaultDataDir    = "/var/lib/nanobanana"
	DefaultEnvFile    = "/etc/nanobanana/nanobanana.env"
	DefaultUser       = "nanobanana"

	// ServiceName is the unit's name without ".service".
	ServiceName = "nanobanana"
)

// Reference returns the shipped unit unchanged.
func Reference() string { return referenceUnit }

// userDropped lists the settings a per-user manager cannot honestly promise.
// The mount-namespace family (ProtectSystem, ProtectHome, Private*, Protect*
// kernel/proc/cgroup, ReadWritePaths) only works in a user manager when it can
// create an unprivileged user namespace (PrivateUsers= is then implied), which
// hardened hosts disable; capability settings are meaningless for a process
// that has no capabilities to drop; User=/Group= are fixed to the user who
// owns the manager; StateDirectory= would point under ~/.local/state instead
// of the data directory given, and RuntimeDirectory= under $XDG_RUNTIME_DIR
// rather than /run; network-online.target is a system unit a user
// manager cannot order against. What stays is enforced by seccomp or by
// plain process attributes, which need no privilege: NoNewPrivileges,
// SystemCallFilter, RestrictAddressFamilies, RestrictNamespaces,
// RestrictRealtime, RestrictSUIDSGID, LockPersonality,
// MemoryDenyWriteExecute, UMask, the restart policy and the limits.
var userDropped = map[string]bool{
	"Wants": true, "After": true,
	"User": true, "Group": true,
	"StateDirectory": true, "StateDirectoryMode": true, "ReadWritePaths": true,
	"RuntimeDirectory": true, "RuntimeDirectoryMode": true,
	"ProtectSystem": true, "ProtectHome": true,
	"PrivateTmp": true, "PrivateDevices": true, "PrivateMounts": true,
	"ProtectKernelTunables": true, "ProtectKernelModules": true, "ProtectKernelLogs": true,
	"ProtectControlGroups": true, "ProtectClock": true, "ProtectHostname": true,
	"ProtectProc": true, "ProcSubset": true,
	"CapabilityBoundingSet": true, "AmbientCapabilities": true,
}

// unitSettings are the values Render puts into the unit, already checked.
type unitSettings struct {
	binary, dataDir, envFile, user, group string
	userService                           bool
}

var accountName = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// settings applies the defaults and rejects values the unit cannot carry
// safely. Paths are refused rather than escaped when they hold characters that
// systemd (quotes, %, $, whitespace) or kardianos' template engine ("{{")
// would read as syntax: such paths are rare on servers and a silent escape
// mistake would run a different command.
func (o Options) settings() (unitSettings, error) {
	s := unitSettings{
		binary:      o.BinaryPath,
		dataDir:     o.DataDir,
		envFile:     o.EnvFile,
		user:        o.User,
		group:       o.Group,
		userService: o.UserService,
	}
	if s.binary == "" {
		s.binary = DefaultBinaryPath
	}
	if s.dataDir == "" {
		s.dataDir = DefaultDataDir
	}
	if s.envFile == "" {
		s.envFile = DefaultEnvFile
	}
	for _, p := range []struct{ flag, path string }{
		{"binary path", s.binary}, {"--data-dir", s.dataDir}, {"--env-file", s.envFile},
	} {
		if err := checkPath(p.flag, p.path); err != nil {
			return s, err
		}
		if !s.userService {
			if err := checkSystemPath(p.flag, p.path); err != nil {
				return s, err
			}
		}
	}
	s.binary, s.dataDir, s.envFile = filepath.Clean(s.binary), filepath.Clean(s.dataDir), filepath.Clean(s.envFile)
	if s.userService {
		if o.User != "" || o.Group != "" {
			return s, errors.New("--user and --group do not apply to --user-service: a user unit runs as the user who installs it")
		}
		return s, nil
	}
	if s.user == "" {
		s.user = DefaultUser
	}
	if s.group == "" {
		s.group = s.user
	}
	for _, a := range []string{s.user, s.group} {
		if !accountName.MatchString(a) {
			return s, fmt.Errorf("account name %q: use lowercase letters, digits, '_' or '-' (at most 32)", a)
		}
	}
	if s.user == "root" {
		return s, errors.New("--user root: the service must run as a dedicated unprivileged account (e.g. useradd --system nanobanana)")
	}
	return s, nil
}

func checkPath(flag, p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%s %q must be an absolute path", flag, p)
	}
	if strings.Contains(p, "{{") || strings.Contains(p, "}}") || strings.ContainsAny(p, "\"'\\%$;") {
		return fmt.Errorf("%s %q: quotes, backslashes, %%, $, ; and {{ }} cannot be written into a unit; choose a plainer path", flag, p)
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%s %q: whitespace and control characters cannot be written into a unit; choose a plainer path", flag, p)
		}
	}
	return nil
}

// checkSystemPath refuses paths the system unit's own sandbox hides: the
// service would install fine and then fail at its first start.
func checkSystemPath(flag, p string) error {
	p = filepath.Clean(p)
	for _, hidden := range []string{"/home", "/root", "/run/user", "/tmp", "/var/tmp"} {
		if p == hidden || strings.HasPrefix(p, hidden+"/") {
			return fmt.Errorf("%s %q is under %s, which the system unit hides (ProtectHome=/PrivateTmp=); use e.g. %s or --user-service", flag, p, hidden, systemAlternative(flag))
		}
	}
	return nil
}

func systemAlternative(flag string) string {
	switch flag {
	case "--data-dir":
		return DefaultDataDir
	case "--env-file":
		return DefaultEnvFile
	}
	return DefaultBinaryPath
}

// Render returns the unit for o: the reference unit with the binary, data
// directory, env file and account replaced, and for a user service the
// settings a user manager cannot apply left out (see userDropped).
func Render(o Options) (string, error) {
	s, err := o.settings()
	if err != nil {
		return "", err
	}
	return render(referenceUnit, s)
}

// render rewrites unit line by line. A comment block belongs to the settings
// that follow it; when all of those are dropped the comment goes too, so the
// user unit does not explain settings it does not have.
func render(unit string, s unitSettings) (string, error) {
	var out, pending []string
	afterSetting := false // the previous line was a setting: a comment starts a new segment
	seen := map[string]bool{}
	for _, line := range strings.SplitAfter(unit, "\n") {
		if line == "" {
			continue
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "["):
			// A blank line or a section header ends a segment. Comments
			// standing on their own are kept; comments whose settings were
			// all dropped are discarded with them.
			if !afterSetting {
				out = append(out, pending...)
			}
			pending, afterSetting = nil, false
			out = append(out, line)
			continue
		case strings.HasPrefix(trimmed, "#"):
			if afterSetting {
				pending, afterSetting = nil, false
			}
			pending = append(pending, line)
			continue
		}
		afterSetting = true
		key, _, ok := strings.Cut(trimmed, "=")
		if !ok {
			return "", fmt.Errorf("unit line %q is not key=value", trimmed)
		}
		value, keep := s.value(key)
		if !keep {
			continue
		}
		seen[key] = true
		out = append(out, pending...)
		pending = nil
		if value != nil {
			line = key + "=" + *value + "\n"
		}
		out = append(out, line)
	}
	// A reference unit that lost a line the installer relies on would
	// install a unit running the wrong thing: fail loudly instead.
	for _, k := range []string{"ExecStart", "EnvironmentFile", "WantedBy"} {
		if !seen[k] {
			return "", fmt.Errorf("reference unit has no %s= line", k)
		}
	}
	return collapseBlankLines(strings.Join(out, "")), nil
}

// value decides one setting: whether it is kept and, when non-nil, its new
// value.
func (s unitSettings) value(key string) (*string, bool) {
	v := func(x string) *string { return &x }
	if s.userService && userDropped[key] {
		return nil, false
	}
	switch key {
	case "ExecStart":
		return v(s.binary + " serve --env-file " + s.envFile + " --data-dir " + s.dataDir), true
	case "EnvironmentFile":
		return v("-" + s.envFile), true
	case "User":
		return v(s.user), true
	case "Group":
		return v(s.group), true
	case "ReadWritePaths":
		return v(s.dataDir), true
	case "StateDirectory", "StateDirectoryMode":
		rel, ok := strings.CutPrefix(s.dataDir, "/var/lib/")
		if !ok || rel == "" {
			// StateDirectory= only manages directories under /var/lib.
			return nil, false
		}
		if key == "StateDirectory" {
			return v(rel), true
		}
		return nil, true
	case "WantedBy":
		if s.userService {
			return v("default.target"), true
		}
		return nil, true
	}
	return nil, true
}

// collapseBlankLines keeps the rendered unit tidy when whole groups were
// dropped: no runs of blank lines, none before a section header's blank.
func collapseBlankLines(s string) string {
	for strings.Contains(s, "\n\n\n") {
		s = strings.ReplaceAll(s, "\n\n\n", "\n\n")
	}
	return s
}
