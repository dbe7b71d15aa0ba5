package frontend

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	cases := []struct {
		path, wantType, wantCache, wantBody string
		wantStatus                          int
	}{
		{"/", "text/html; charset=utf-8", "no-cache", `<script type="module" src="/app/main.js">`, 200},
		{"/gallery", "text/html; charset=utf-8", "no-cache", `id="view-gallery"`, 200},
		{"/settings/", "text/html; charset=utf-8", "no-cache", `id="view-settings"`, 200},
		{"/app/", "text/html; charset=utf-8", "no-cache", `<!doctype html>`, 200}, // a directory: the app, never a listing
		{"/app/main.js", "text/javascript; charset=utf-8", "public, max-age=300", "import * as api", 200},
		{"/styles.css", "text/css; charset=utf-8", "public, max-age=300", "prefers-color-scheme: dark", 200},
		{"/favicon.svg", "image/svg+xml", "public, max-age=300", "<svg", 200},
		{"/manifest.webmanifest", "application/manifest+json", "public, max-age=300", `"icons"`, 200},
		{"/icon-192.png", "image/png", "public, max-age=300", "\x89PNG", 200},
		{"/icon-512.png", "image/png", "public, max-age=300", "\x89PNG", 200},
		{"/app/theme-early.js", "text/javascript; charset=utf-8", "public, max-age=300", "nanobanana.theme", 200},
		{"/app/missing.js", "text/plain; charset=utf-8", "", "404", 404},
		{"/robots.txt", "text/plain; charset=utf-8", "", "404", 404},
	}
	for _, c := range cases {
		res, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.wantStatus || res.Header.Get("Content-Type") != c.wantType || res.Header.Get("Cache-Control") != c.wantCache {
			t.Errorf("%s: %d %q %q, want %d %q %q", c.path, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"), c.wantStatus, c.wantType, c.wantCache)
		}
		if !strings.Contains(string(body), c.wantBody) {
			t.Errorf("%s: body lacks %q", c.path, c.wantBody)
		}
	}
}

func TestHandlerRevalidates(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/app/api.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on an asset")
	}
	req, _ := http.NewRequest("GET", srv.URL+"/app/api.js", nil)
	req.Header.Set("If-None-Match", etag)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the same ETag answered %d, want 304", res.StatusCode)
	}
	res, err = http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / answered %d, want 405", res.StatusCode)
	}
}

// The CSP allows no inline script or style: the markup must carry neither.
func TestNoInlineScriptOrStyle(t *testing.T) {
	b, err := files.ReadFile("index.html")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, bad := range []string{" style=", "<style", "onclick=", "onload=", "javascript:"} {
		if strings.Contains(s, bad) {
			t.Errorf("index.html contains %q, which the Content-Security-Policy blocks", bad)
		}
	}
	// Every script is a file: a src, and nothing between the tags.
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllStringIndex(s, -1)
	for _, m := range scripts {
		if tag := s[m[0]:m[1]]; !strings.Contains(tag, ` src="/`) || !strings.HasPrefix(s[m[1]:], "</script>") {
			t.Errorf("index.html has an inline script: %s", tag)
		}
	}
	if len(scripts) < 2 {
		t.Errorf("index.html has %d scripts; want the app's module and the early theme", len(scripts))
	}
}
