package main

import (
	"regexp"
	"strings"
	"testing"

	"nanobanana/internal/proctest"
)

// The money verbs: an operator sets a user's limits from the shell, the server holds
// the user to them at once, and usage shows the books.
func TestUserLimitsCommand(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runCLI(t, dir, "carol-password-1\n", "user", "create", "--username", "carol", "--email", "carol@example.com"); code != 0 {
		t.Fatalf("user create: %s", stderr)
	}
	out, stderr, code := runCLI(t, dir, "", "user", "limits", "carol", "--day-images", "1", "--month-usd", "5")
	if code != 0 || !strings.Contains(out, "limits set") || !strings.Contains(out, "set for this user") ||
		!regexp.MustCompile(`day_images\s+1\s`).MatchString(out) || !regexp.MustCompile(`month_usd\s+\$5\.00\s`).MatchString(out) {
		t.Fatalf("user limits: %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := runCLI(t, dir, "", "user", "limits", "carol", "--day-usd", "lots"); code != 2 || !strings.Contains(stderr, "--day-usd") {
		t.Errorf("a bad amount: %d %s", code, stderr)
	}

	p := startServe(t, dir, []string{"REPLICATE_API_TOKEN=r8_cli_test", "REPLICATE_API_BASE=" + proctest.StartFakeReplicate(t)})
	code, login := postJSON(t, p.URL+"/api/v1/auth/login", "", map[string]string{"username": "carol", "password": "carol-password-1"})
	if code != 200 {
		t.Fatalf("login: %d", code)
	}
	tok := login["access_token"].(string)
	gen := func() int {
		code, _ := postJSON(t, p.URL+"/api/v1/images/generate", tok, map[string]string{"prompt": "from the shell's budget", "resolution": "1K"})
		return code
	}
	if c1, c2 := gen(), gen(); c1 != 202 || c2 != 429 {
		t.Fatalf("with one image a day: %d then %d, want 202 then 429", c1, c2)
	}
	out, _, _ = runCLI(t, dir, "", "user", "usage", "carol")
	if !strings.Contains(out, "carol") || !strings.Contains(out, "$0.15") || !regexp.MustCompile(`total\s+\$0\.15\s+1`).MatchString(out) {
		t.Errorf("user usage:\n%s", out)
	}
	if out, _, code := runCLI(t, dir, "", "user", "limits", "carol", "--defaults"); code != 0 || !strings.Contains(out, "default limits apply") {
		t.Fatalf("--defaults: %d %s", code, out)
	}
	if c := gen(); c != 202 {
		t.Errorf("back to the defaults (none): %d", c)
	}
}
