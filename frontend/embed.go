// Package frontend owns the browser app: static HTML, CSS and ES modules embedded in the
// binary and served with an index.html fallback so client-side paths survive a reload.
// It knows nothing of the API; the app talks to /api/v1 from the browser.
package frontend

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed index.html share.html styles.css favicon.svg icon-192.png icon-512.png manifest.webmanifest app docs/index.html docs/docs.js docs/docs.css docs/swagger-ui-bundle.js docs/swagger-ui.css docs/LICENSE docs/NOTICE docs/swagger-ui-bundle.js.LICENSE.txt
var files embed.FS

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Explicit types: the host's mime tables differ between machines, and a module script
// served as text/plain is refused by the browser.
var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".json":        "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
	"":             "text/plain; charset=utf-8", // LICENSE, NOTICE
}

// Handler serves the embedded app. Unknown paths without a file extension get
// index.html (client-side routes); unknown files get 404 so a missing script never
// arrives as HTML; directories are never listed.
func Handler() http.Handler {
	assets := map[string]*asset{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		ct := types[path.Ext(p)]
		if ct == "" {
			ct = mime.TypeByExtension(path.Ext(p))
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		assets["/"+p] = &asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("frontend: embedded files unreadable: " + err.Error()) // cannot happen with go:embed
	}
	index := assets["/index.html"]
	shared := assets["/share.html"]
	// The API reference (Swagger UI over /api/v1/openapi.json).
	assets["/docs"] = assets["/docs/index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		a, ok := assets[p]
		switch {
		case ok && p == "/docs":
			w.Header().Set("Cache-Control", "no-cache")
		case ok && p != "/index.html":
			// Assets are not content-hashed in their names, so keep the max-age short and
			// let the ETag make revalidation cheap.
			w.Header().Set("Cache-Control", "public, max-age=300")
		case strings.HasPrefix(p, "/s/") && path.Ext(p) == "":
			// A share link's public page (no account; the token stays out of Referers).
			a = shared
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("Referrer-Policy", "no-referrer")
			w.Header().Set("X-Robots-Tag", "noindex, nofollow")
		case ok || path.Ext(p) == "" || strings.HasSuffix(r.URL.Path, "/"):
			a = index
			w.Header().Set("Cache-Control", "no-cache")
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("ETag", a.etag)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
