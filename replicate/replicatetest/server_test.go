package replicatetest

import (
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func do(t *testing.T, method, url, token string, hdr map[string]string, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp, m
}

func TestCreateAnswers201WithLocation(t *testing.T) {
	s := New(Options{ManualClock: true})
	defer s.Close()
	resp, m := do(t, "POST", s.URL()+"/models/google/nano-banana-pro/predictions", "r8_a", nil, `{"input":{"prompt":"hi"}}`)
	if resp.StatusCode != 201 || m["status"] != "starting" || resp.Header.Get("Location") != s.URL()+"/predictions/"+m["id"].(string) {
		t.Fatalf("%d %v %q", resp.StatusCode, m, resp.Header.Get("Location"))
	}
	if m["output"] != nil || m["error"] != nil || m["started_at"] != nil || m["data_removed"] != false {
		t.Fatalf("fresh prediction fields: %v", m)
	}
}

func TestHeaderValidation(t *testing.T) {
	s := New(Options{ManualClock: true})
	defer s.Close()
	url := s.URL() + "/models/google/nano-banana-pro/predictions"
	for _, h := range []map[string]string{
		{"Prefer": "wait=0"}, {"Prefer": "wait=61"}, {"Prefer": "wait=soon"},
		{"Cancel-After": "4s"}, {"Cancel-After": "3"}, {"Cancel-After": "tomorrow"},
	} {
		resp, m := do(t, "POST", url, "r8_a", h, `{"input":{"prompt":"hi"}}`)
		if resp.StatusCode != 422 || m["invalid_fields"] == nil {
			t.Errorf("%v: %d %v", h, resp.StatusCode, m)
		}
	}
	for _, h := range []map[string]string{
		{"Cancel-After": "1h30m"}, {"Cancel-After": "300"}, {"Cancel-After": "5s"}, {"Prefer": "respond-async"},
	} {
		if resp, m := do(t, "POST", url, "r8_a", h, `{"input":{"prompt":"hi"}}`); resp.StatusCode != 201 {
			t.Errorf("%v: %d %v", h, resp.StatusCode, m)
		}
	}
	if resp, _ := do(t, "POST", url, "r8_a", nil, `{"input":{"prompt":"hi"},"webhook":"not a url"}`); resp.StatusCode != 422 {
		t.Errorf("bad webhook: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", url, "r8_a", nil, `{"input":"hi"}`); resp.StatusCode != 422 {
		t.Errorf("non-object input: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", url, "r8_a", nil, `{`); resp.StatusCode != 400 {
		t.Errorf("broken JSON: %d", resp.StatusCode)
	}
}

func TestNonLoopbackRefused(t *testing.T) {
	if _, err := Start(Options{Addr: "0.0.0.0:0"}); err == nil {
		t.Fatal("listened on a non-loopback address")
	}
	s := New(Options{})
	defer s.Close()
	resp, _ := do(t, "POST", s.URL()+"/models/google/nano-banana-pro/predictions", "r8_a", nil,
		`{"input":{"prompt":"hi"},"webhook":"https://example.invalid/hook"}`)
	if resp.StatusCode != 201 {
		t.Fatal(resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Succeeded == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Stats(); st.WebhookAttempts != 0 || st.WebhooksDropped == 0 {
		t.Fatalf("a non-loopback webhook must not be called: %+v", st)
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	c := Config{QueueTime: 1500 * time.Millisecond, PageSize: 3, RejectedTokens: []string{"x"}}
	b, err := json.Marshal(c)
	if err != nil || !strings.Contains(string(b), `"queue_time":"1.5s"`) {
		t.Fatalf("%s %v", b, err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || back.QueueTime != c.QueueTime || back.PageSize != 3 || back.RejectedTokens[0] != "x" {
		t.Fatalf("%+v %v", back, err)
	}
}

// Close must release held requests and leave no goroutine behind.
func TestCloseReleasesEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	s := New(Options{Config: Config{QueueTime: time.Hour}})
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", s.URL()+"/models/google/nano-banana-pro/predictions", strings.NewReader(`{"input":{"prompt":"hi"},"webhook":"http://127.0.0.1:1/x"}`))
		req.Header.Set("Authorization", "Bearer r8_a")
		req.Header.Set("Prefer", "wait=60")
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := tr.RoundTrip(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for s.Stats().Created == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	<-done
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left (was %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func BenchmarkDeliver4K(b *testing.B) {
	s := New(Options{ManualClock: true})
	defer s.Close()
	sp := imageSpec{format: "jpeg", ext: "jpeg", w: 4096, h: 2304}
	if _, err := s.images.get(sp); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, _ = s.images.get(sp)
	}
}

// 4K sizing is checked without encoding, which is slow under -race.
func TestImageSpec4K(t *testing.T) {
	s := New(Options{ManualClock: true})
	defer s.Close()
	cases := map[string][2]int{"16:9": {4096, 2304}, "21:9": {4096, 1755}, "2:3": {2731, 4096}, "match_input_image": {4096, 4096}}
	for ar, want := range cases {
		s.mu.Lock()
		sp := s.imageSpecLocked(modelInput{Resolution: "4K", AspectRatio: ar, OutputFormat: "jpg"})
		s.mu.Unlock()
		if sp.w != want[0] || sp.h != want[1] || sp.ext != "jpeg" || sp.contentType() != "image/jpeg" {
			t.Errorf("%s: %+v", ar, sp)
		}
	}
}
