package systemd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"nanobanana/internal/proctest"
)

// shippedUnit reads the unit from disk, not from the embed, so the tests
// compare against the file people read and copy.
func shippedUnit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("nanobanana.service")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// substitute is the "modulo paths and user" of the comparisons: the shipped
// unit with its default paths and account replaced.
func substitute(unit, bin, dataDir, envFile, user, group string) string {
	r := strings.NewReplacer(
		DefaultBinaryPath, bin,
		DefaultEnvFile, envFile,
		"StateDirectory="+strings.TrimPrefix(DefaultDataDir, "/var/lib/"), "StateDirectory="+strings.TrimPrefix(dataDir, "/var/lib/"),
		DefaultDataDir, dataDir,
		"User="+DefaultUser, "User="+user,
		"Group="+DefaultUser, "Group="+group,
	)
	return r.Replace(unit)
}

func settingsOf(unit string) map[string][]string {
	m := map[string][]string{}
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		m[k] = append(m[k], v)
	}
	return m
}

func TestRenderDefaultsIsShippedUnit(t *testing.T) {
	got, err := Render(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := shippedUnit(t); got != want {
		t.Errorf("Render(defaults) differs from nanobanana.service:\n%s", diffLines(want, got))
	}
}

func TestRenderSystemUnitIsShippedUnitModuloPaths(t *testing.T) {
	o := Options{
		BinaryPath: "/opt/nb/bin/nanobanana",
		DataDir:    "/var/lib/nb-prod",
		EnvFile:    "/etc/nb/prod.env",
		User:       "nbsvc",
		Group:      "nbgrp",
	}
	got, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	want := substitute(shippedUnit(t), o.BinaryPath, o.DataDir, o.EnvFile, o.User, o.Group)
	if got != want {
		t.Errorf("rendered unit is not the shipped unit modulo paths and user:\n%s", diffLines(want, got))
	}
	s := settingsOf(got)
	if g := s["ExecStart"]; len(g) != 1 || g[0] != "/opt/nb/bin/nanobanana serve --env-file /etc/nb/prod.env --data-dir /var/lib/nb-prod" {
		t.Errorf("ExecStart = %q", g)
	}
}

func TestRenderDataDirOutsideVarLib(t *testing.T) {
	got, err := Render(Options{DataDir: "/srv/nanobanana/"})
	if err != nil {
		t.Fatal(err)
	}
	s := settingsOf(got)
	if _, ok := s["StateDirectory"]; ok {
		t.Errorf("StateDirectory= kept for a data dir outside /var/lib: it would create /var/lib/... instead")
	}
	if g := s["ReadWritePaths"]; len(g) != 1 || g[0] != "/srv/nanobanana" {
		t.Errorf("ReadWritePaths = %q, want the cleaned data dir", g)
	}
}

func TestRenderUserService(t *testing.T) {
	got, err := Render(Options{UserService: true, BinaryPath: "/home/ann/bin/nanobanana", DataDir: "/home/ann/nb", EnvFile: "/home/ann/nb/.env"})
	if err != nil {
		t.Fatal(err)
	}
	s := settingsOf(got)
	for k := range userDropped {
		if _, ok := s[k]; ok {
			t.Errorf("user unit keeps %s=, which a user manager cannot promise", k)
		}
	}
	if g := s["WantedBy"]; len(g) != 1 || g[0] != "default.target" {
		t.Errorf("WantedBy = %q, want default.target", g)
	}
	for _, k := range []string{"NoNewPrivileges", "SystemCallFilter", "RestrictAddressFamilies", "MemoryDenyWriteExecute", "UMask", "Restart", "RestartSec", "EnvironmentFile"} {
		if _, ok := s[k]; !ok {
			t.Errorf("user unit lost %s=, which needs no privilege", k)
		}
	}
	if strings.Contains(got, "dedicated account") || strings.Contains(got, "read-only except") {
		t.Errorf("user unit still explains settings it dropped:\n%s", got)
	}
	checkUserUnitFromShipped(t, got, "/home/ann/bin/nanobanana", "/home/ann/nb", "/home/ann/nb/.env")
}

// checkUserUnitFromShipped asserts that every line of a user unit is a line
// of the shipped unit modulo paths, but for its WantedBy=, and that the
// lines keep the shipped order.
func checkUserUnitFromShipped(t *testing.T, unit, bin, dataDir, envFile string) {
	t.Helper()
	ref := strings.Split(substitute(shippedUnit(t), bin, dataDir, envFile, DefaultUser, DefaultUser), "\n")
	i := 0
	for _, l := range strings.Split(unit, "\n") {
		if l == "WantedBy=default.target" {
			l = "WantedBy=multi-user.target"
		}
		for i < len(ref) && ref[i] != l {
			i++
		}
		if i == len(ref) {
			t.Errorf("user unit line %q is not in the shipped unit (in order)", l)
			return
		}
		i++
	}
}

func TestRenderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"relative binary", Options{BinaryPath: "nanobanana"}, "absolute"},
		{"space in data dir", Options{DataDir: "/srv/my data"}, "whitespace"},
		{"template braces", Options{DataDir: "/srv/{{Path}}"}, "{{"},
		{"percent specifier", Options{EnvFile: "/etc/%n.env"}, "%"},
		{"home hidden by ProtectHome", Options{BinaryPath: "/home/ann/nanobanana"}, "ProtectHome"},
		{"tmp hidden by PrivateTmp", Options{DataDir: "/tmp/nb"}, "PrivateTmp"},
		{"root account", Options{User: "root"}, "dedicated"},
		{"bad account", Options{User: "Ann Smith"}, "account name"},
		{"user with user service", Options{UserService: true, User: "ann"}, "--user-service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render(%+v) error = %v, want one mentioning %q", tc.o, err, tc.want)
			}
		})
	}
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		proctest.Missing(t, "systemd-analyze not installed (Debian: apt-get install systemd); the unit is not verified")
	}
	return p
}

// writeVerifiable writes unit into a temp dir with ExecStart pointing at an
// executable that exists, since verify checks the command.
func writeVerifiable(t *testing.T, unit string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "nanobanana")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nanobanana.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, DefaultBinaryPath, bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestShippedUnitVerifies(t *testing.T) {
	sa := systemdAnalyze(t)
	path := writeVerifiable(t, shippedUnit(t))
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// --offline reads the file alone, so it works without systemd as PID 1.
	// An exposure above 2.0 (of 10) means hardening was lost.
	out, err = exec.Command(sa, "--offline=true", "security", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security above 2.0 or failed: %v\n%s", err, lastLine(out))
	}
	t.Logf("systemd-analyze security: %s", lastLine(out))
}

func TestUserUnitVerifies(t *testing.T) {
	sa := systemdAnalyze(t)
	unit, err := Render(Options{UserService: true})
	if err != nil {
		t.Fatal(err)
	}
	path := writeVerifiable(t, unit)
	cmd := exec.Command(sa, "--user", "verify", path)
	// A user-mode verify looks up the runtime dir even when offline.
	runtime := t.TempDir()
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtime)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze --user verify: %v\n%s", err, out)
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// diffLines shows the first differing line, which is what one needs to fix
// a unit mismatch.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want %s\n  got  %s", i+1, wl, gl)
		}
	}
	return "(equal)"
}
