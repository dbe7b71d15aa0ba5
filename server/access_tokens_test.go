package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/internal/dbtest"
)

// syncBuffer is a log sink the server writes from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// makeToken creates a personal access token with scopes and answers its secret and id.
func makeToken(t *testing.T, ts *testServer, access string, scopes ...string) (string, int64) {
	t.Helper()
	r := ts.do(t, call{Method: "POST", Path: "/api/v1/tokens", Token: access,
		Body: map[string]any{"name": "script " + strings.Join(scopes, "+"), "scopes": scopes}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create token %v: %d %s", scopes, r.Status, r.Body)
	}
	m := r.JSON(t)
	secret, _ := m["token"].(string)
	if !strings.HasPrefix(secret, patPrefix) || !strings.HasPrefix(secret, m["prefix"].(string)) {
		t.Fatalf("token %q with prefix %v", secret, m["prefix"])
	}
	return secret, int64(m["id"].(float64))
}

func TestAccessTokens(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	p := newPipeline(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	alice := p.register(t, "alice")
	bob := p.register(t, "bob")
	read, readID := makeToken(t, p.testServer, alice.Access, "read")
	gen, _ := makeToken(t, p.testServer, alice.Access, "read", "generate")
	admin, _ := makeToken(t, p.testServer, alice.Access, "admin")

	// The list shows the tokens without their secrets.
	r := p.do(t, call{Method: "GET", Path: "/api/v1/tokens", Token: alice.Access})
	if r.Status != 200 || strings.Count(string(r.Body), `"id"`) != 3 || bytes.Contains(r.Body, []byte(read)) || bytes.Contains(r.Body, []byte(`"token"`)) {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	if r := p.do(t, call{Method: "GET", Path: "/api/v1/tokens", Token: bob.Access}); !bytes.Contains(r.Body, []byte(`"items":[]`)) {
		t.Fatalf("bob's list: %s", r.Body)
	}

	// Each token does what its scopes allow, and nothing else.
	for _, c := range []struct {
		name, token, method, path string
		body                      any
		want                      int
	}{
		{"read: me", read, "GET", "/api/v1/auth/me", nil, 200},
		{"read: list", read, "GET", "/api/v1/images/list", nil, 200},
		{"read: generate", read, "POST", "/api/v1/images/generate", map[string]any{"prompt": "a banana"}, 403},
		{"read: api key", read, "PUT", "/api/v1/users/api-key", map[string]any{"api_key": "r8_x"}, 403},
		{"generate: generate", gen, "POST", "/api/v1/images/generate", map[string]any{"prompt": "a banana"}, 202},
		{"generate: token list", gen, "GET", "/api/v1/tokens", nil, 403},
		{"admin: token list", admin, "GET", "/api/v1/tokens", nil, 200},
		{"admin: images", admin, "GET", "/api/v1/images/list", nil, 403},
		{"admin: make a token", admin, "POST", "/api/v1/tokens", map[string]any{"name": "x", "scopes": []string{"read"}}, 403},
		{"admin: password", admin, "PUT", "/api/v1/auth/password", map[string]any{"current_password": "password-alice", "new_password": "another-password"}, 403},
		{"admin: sign out everywhere", admin, "POST", "/api/v1/auth/logout-all", nil, 403},
		{"admin: stream ticket", admin, "POST", "/api/v1/events/ticket", nil, 403},
		{"forged", patPrefix + "not-a-token", "GET", "/api/v1/auth/me", nil, 401},
	} {
		r := p.do(t, call{Method: c.method, Path: c.path, Token: c.token, Body: c.body})
		if r.Status != c.want {
			t.Errorf("%s: %d %s; want %d", c.name, r.Status, r.Body, c.want)
		}
		if c.want == 403 && r.Code(t) != db.CodeInsufficientScope {
			t.Errorf("%s: code %s; want insufficient_scope", c.name, r.Code(t))
		}
	}

	// The use is recorded.
	r = p.do(t, call{Method: "GET", Path: "/api/v1/tokens", Token: alice.Access})
	if !strings.Contains(string(r.Body), `"last_used_at":"`) {
		t.Errorf("no last use recorded: %s", r.Body)
	}

	// Bad requests name the field.
	for _, body := range []map[string]any{{"name": "", "scopes": []string{"read"}}, {"name": "x", "scopes": []string{"write"}},
		{"name": "x"}, {"name": "x", "scopes": []string{"read"}, "expires_in_days": -1}} {
		if r := p.do(t, call{Method: "POST", Path: "/api/v1/tokens", Token: alice.Access, Body: body}); r.Status != 422 {
			t.Errorf("create %v: %d %s", body, r.Status, r.Body)
		}
	}

	// Revoking: not by another user; then the token is refused at its next request.
	path := "/api/v1/tokens/" + strconv.FormatInt(readID, 10)
	if r := p.do(t, call{Method: "DELETE", Path: path, Token: bob.Access}); r.Status != 404 {
		t.Fatalf("bob revokes alice's token: %d", r.Status)
	}
	if r := p.do(t, call{Method: "DELETE", Path: path, Token: alice.Access}); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := p.do(t, call{Method: "GET", Path: "/api/v1/auth/me", Token: read}); r.Status != 401 {
		t.Fatalf("a revoked token: %d %s", r.Status, r.Body)
	}

	// The secrets are nowhere in the logs or the database files.
	if !dbtest.Postgres() {
		ctx := context.Background()
		if err := p.DB.Raw(ctx, `PRAGMA wal_checkpoint(FULL)`, nil); err != nil {
			t.Logf("checkpoint: %v", err)
		}
		files, _ := filepath.Glob(filepath.Join(p.Cfg.DataDir, "test.db*"))
		if len(files) == 0 {
			t.Fatal("no database file found")
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{read, gen, admin} {
				if bytes.Contains(raw, []byte(secret[len(patPrefix)+6:])) {
					t.Errorf("%s holds a token's secret in clear", f)
				}
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // the last request's access log line
	for _, secret := range []string{read, gen, admin} {
		if strings.Contains(logs.String(), secret[len(patPrefix)+6:]) {
			t.Errorf("the logs hold a token's secret")
		}
	}
	if !strings.Contains(logs.String(), "access token created") {
		t.Errorf("the logs are not the server's: %.200s", logs.String())
	}
}
