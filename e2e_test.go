package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"nanobanana/internal/proctest"
	"nanobanana/storage/imaging"
)

func getJSON(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// pythonWithRequests finds a python3 that has the requests module (the seed's example
// uses it), or skips.
func pythonWithRequests(t *testing.T) string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import requests").Run() == nil {
			return py
		}
	}
	proctest.Missing(t, "no python3 with the requests module (scripts/test-deps.sh installs python3-requests)")
	return ""
}

// seedExample is the Python example of the original's README (shared/seed). The
// project keeps a verbatim copy in testdata so the test runs wherever the checkout is;
// where the seed is beside the checkout, the copy is held to it.
func seedExample(t *testing.T) string {
	t.Helper()
	kept, err := os.ReadFile("testdata/seed_example.py")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kept), `API_URL = "http://localhost:8000/api/v1"`) {
		t.Fatal("testdata/seed_example.py is not the seed's example")
	}
	if seed, _ := filepath.Glob("../shared/seed/*.md"); len(seed) > 0 {
		readme, err := os.ReadFile(seed[0])
		if err != nil {
			t.Fatal(err)
		}
		block := regexp.MustCompile("(?s)```python\n(.*?)```").FindSubmatch(readme)
		if block == nil || string(block[1]) != string(kept) {
			t.Fatal("testdata/seed_example.py differs from the seed README's Python example")
		}
	}
	return string(kept)
}

// The seed's Python example, unchanged but for its URL, against the real binary pointed
// at the fake Replicate: the generation it queues reaches completed with a real image.
func TestSeedPythonExample(t *testing.T) {
	py := pythonWithRequests(t)
	api := proctest.StartFakeReplicate(t)
	dir := t.TempDir()
	p := startServe(t, dir, []string{"REPLICATE_API_BASE=" + api})
	example := seedExample(t)
	script := strings.Replace(example, "http://localhost:8000", p.URL, 1)
	out, err := exec.Command(py, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("the seed example failed: %v\n%s\nserver log:\n%s", err, out, p.Logs.String())
	}
	// It prints the status dict (Python repr) of its generation.
	m := regexp.MustCompile(`'image_id': '([0-9a-f]+)'.*'status': '(\w+)'`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("the seed example printed no generation: %s", out)
	}
	id, status := m[1], m[2]
	if status != "pending" && status != "running" && status != "completed" {
		t.Fatalf("status %q is not a real status", status)
	}
	_, login := postJSON(t, p.URL+"/api/v1/auth/login", "", map[string]string{"username": "user1", "password": "password123"})
	token := login["access_token"].(string)
	deadline := time.Now().Add(30 * time.Second)
	var g map[string]any
	for time.Now().Before(deadline) {
		_, g = getJSON(t, p.URL+"/api/v1/images/status/"+id, token)
		if g["status"] == "completed" || g["status"] == "failed" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if g["status"] != "completed" {
		t.Fatalf("generation did not complete: %v\n%s", g, p.Logs.String())
	}
	req, _ := http.NewRequest("GET", p.URL+"/api/v1/images/file/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	info, err := imaging.Inspect(resp.Body, 100_000_000)
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("image file: %d %v", resp.StatusCode, err)
	}
	// 1K at 16:9, as the example asked.
	if info.Width != 1024 || info.Height != 576 {
		t.Errorf("image is %dx%d; want 1024x576 for 1K 16:9", info.Width, info.Height)
	}
}

// The crash test: 100 jobs, the server killed with SIGKILL twice while they run, then
// restarted: every job completes and Replicate saw exactly 100 predictions.
func TestCrashRecoveryKillNineNoJobLostNonePaidTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	api := proctest.StartFakeReplicate(t, "-queue-time", "300ms", "-run-time", "1500ms")
	dir := t.TempDir()
	env := []string{"REPLICATE_API_BASE=" + api, "REPLICATE_API_TOKEN=r8_global_test_token", "MAX_WORKERS=12", "MAX_CONCURRENT_GENERATIONS=6", "LOG_LEVEL=warn"}
	p := startServe(t, dir, env)
	const users, perUser = 4, 25
	tokens := make([]string, users)
	var ids []string
	for u := range users {
		code, reg := postJSON(t, p.URL+"/api/v1/auth/register", "", map[string]string{
			"username": fmt.Sprintf("crash%d", u), "email": fmt.Sprintf("crash%d@example.com", u), "password": "crash-password"})
		if code != 201 {
			t.Fatalf("register: %d %v", code, reg)
		}
		tokens[u] = reg["access_token"].(string)
	}
	for i := range users * perUser {
		code, g := postJSON(t, p.URL+"/api/v1/images/generate", tokens[i%users], map[string]string{
			"prompt": fmt.Sprintf("crash test image %d", i), "resolution": "1K", "aspect_ratio": "1:1"})
		if code != 202 {
			t.Fatalf("generate %d: %d %v", i, code, g)
		}
		ids = append(ids, g["image_id"].(string))
	}
	// Kills land at different phases: mid-create, mid-poll, right after a restart.
	for round, after := range []time.Duration{2500 * time.Millisecond, 1200 * time.Millisecond, 3 * time.Second} {
		time.Sleep(after)
		if err := p.Kill(); err != nil { // SIGKILL: no shutdown code runs
			t.Fatal(err)
		}
		t.Logf("kill -9 #%d; fake so far: %+v", round+1, proctest.FakeStats(t, api))
		p = startServe(t, dir, env)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		done, failed := 0, 0
		for i, id := range ids {
			_, g := getJSON(t, p.URL+"/api/v1/images/status/"+id, tokens[i%users])
			switch g["status"] {
			case "completed":
				done++
			case "failed", "canceled":
				failed++
				t.Errorf("job %s ended %v: %v", id, g["status"], g["error"])
			}
		}
		if failed > 0 {
			t.FailNow()
		}
		if done == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d jobs completed\n%s", done, len(ids), p.Logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	st := proctest.FakeStats(t, api)
	if st.Created != len(ids) {
		t.Fatalf("Replicate saw %d predictions for %d jobs: a job was paid twice or lost (%+v)", st.Created, len(ids), st)
	}
	// Every completed job has its image file.
	for i, id := range ids[:10] {
		req, _ := http.NewRequest("GET", p.URL+"/api/v1/images/file/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+tokens[i%users])
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("file of %s: %v %v", id, resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// With PUBLIC_URL set, creates ask for a webhook; the fake delivers it signed with its
// secret, which the server fetched from the API, and the server accepts it.
func TestWebhooksFromReplicateAreVerifiedAndAccepted(t *testing.T) {
	api := proctest.StartFakeReplicate(t, "-run-time", "1500ms")
	dir := t.TempDir()
	addr := proctest.FreeAddr(t)
	p := startServeAt(t, dir, addr, []string{"REPLICATE_API_BASE=" + api, "REPLICATE_API_TOKEN=r8_hook", "PUBLIC_URL=http://" + addr})
	_, reg := postJSON(t, p.URL+"/api/v1/auth/register", "", map[string]string{"username": "hook", "email": "hook@example.com", "password": "hook-password"})
	token := reg["access_token"].(string)
	code, g := postJSON(t, p.URL+"/api/v1/images/generate", token, map[string]string{"prompt": "webhook test", "resolution": "1K"})
	if code != 202 {
		t.Fatalf("generate: %d %v", code, g)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, st := getJSON(t, p.URL+"/api/v1/images/status/"+g["image_id"].(string), token)
		fs := proctest.FakeStats(t, api)
		if st["status"] == "completed" && fs.WebhooksSent >= 1 {
			if fs.WebhooksFailed != 0 {
				t.Fatalf("the server refused %d webhook deliveries:\n%s", fs.WebhooksFailed, p.Logs.String())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accepted webhook: status %v, fake %+v\n%s", st["status"], fs, p.Logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
