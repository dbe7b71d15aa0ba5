package frontend

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A share link's path is the public page, not the app: it loads no account and keeps
// the token out of Referer headers; the app's own paths are unchanged.
func TestHandlerServesTheSharePage(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/s/0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `src="/app/shareview.js"`) || strings.Contains(string(body), "/app/main.js") ||
		res.Header.Get("Referrer-Policy") != "no-referrer" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("/s/{token}: %d %q %q\n%.200s", res.StatusCode, res.Header.Get("Referrer-Policy"), res.Header.Get("Cache-Control"), body)
	}
}
