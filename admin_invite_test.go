package main

import (
	"regexp"
	"strings"
	"testing"
)

// The shell's invitation verbs: a link made with `user invite create` signs up one
// account on a server where registration is by invitation, `list` shows it used, and
// a revoked one is refused; `user approve` lets an account use the shared token.
func TestUserInviteCommands(t *testing.T) {
	dir := t.TempDir()
	env := []string{"REGISTRATION=invite", "PUBLIC_URL=https://banana.example.com"}
	out, stderr, code := runWithEnv(t, dir, "", env, "user", "invite", "create", "--expires", "48h", "--note", "for ann")
	m := regexp.MustCompile(`https://banana\.example\.com/#/invite/([A-Za-z0-9_-]{43})`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("invite create: %d %s %s", code, out, stderr)
	}
	out2, _, _ := runWithEnv(t, dir, "", env, "user", "invite", "create")
	revokeID := regexp.MustCompile(`invitation (\d+)`).FindStringSubmatch(out2)[1]
	if _, stderr, code := runWithEnv(t, dir, "", env, "user", "invite", "revoke", "--id", revokeID); code != 0 {
		t.Fatalf("revoke: %s", stderr)
	}
	if _, _, code := runWithEnv(t, dir, "", env, "user", "invite", "create", "--expires", "10m"); code != 2 {
		t.Fatalf("an expiry under an hour: exit %d, want 2", code)
	}

	p := startServe(t, dir, env)
	body := func(name, inv string) map[string]string {
		return map[string]string{"username": name, "email": name + "@example.com", "password": "password-" + name, "invitation": inv}
	}
	if c, _ := postJSON(t, p.URL+"/api/v1/auth/register", "", body("walkin", "")); c != 403 {
		t.Fatalf("sign-up without an invitation: %d", c)
	}
	if c, _ := postJSON(t, p.URL+"/api/v1/auth/register", "", body("ann", m[1])); c != 201 {
		t.Fatalf("sign-up with the CLI's invitation: %d", c)
	}
	if c, _ := postJSON(t, p.URL+"/api/v1/auth/register", "", body("ann2", m[1])); c != 403 {
		t.Fatalf("the invitation used twice: %d", c)
	}
	list, _, _ := runWithEnv(t, dir, "", env, "user", "invite", "list")
	if !regexp.MustCompile(`(?m)^1\s+used\s+.*ann\s+for ann`).MatchString(list) || !regexp.MustCompile(`(?m)^2\s+revoked`).MatchString(list) {
		t.Fatalf("invite list:\n%s", list)
	}
	if out, stderr, code := runWithEnv(t, dir, "", env, "user", "approve", "--username", "ann"); code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("approve: %d %s %s", code, out, stderr)
	}
}
