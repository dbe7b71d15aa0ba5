package server

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
	"nanobanana/storage"
)

// The kinds of file this server hands out; each is part of what a URL signature covers,
// so a thumbnail's link cannot be replayed for the full image.
type fileKind string

const (
	kindImage  fileKind = "image"
	kindThumb  fileKind = "thumb"
	kindUpload fileKind = "upload"
)

// Signed URLs live at least signedURLTTL. Their expiry is rounded up to a bucket so the
// same image gets the same URL for a while and browsers can cache it across pages.
const (
	signedURLTTL    = time.Hour
	signedURLBucket = 15 * time.Minute
	// fileMaxAge is how long a browser may keep an image: files never change under an id
	// (a retry only ever follows a failure or a cancel, which have no file).
	fileMaxAge = time.Hour
)

// signKeyLabel separates this key from every other use of the server secret.
const signKeyLabel = "nanobanana image-url signing v1"

// deriveSignKey derives the URL-signing key from the server secret with HKDF, so a leak
// of one derived key says nothing about the JWT key. With no secret (some tests build a
// server without one) the key is random: links then last only as long as the process.
func deriveSignKey(secret string) ([]byte, error) {
	if secret == "" {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		return k, nil
	}
	return hkdf.Key(sha256.New, []byte(secret), nil, signKeyLabel, 32)
}

func (s *Server) fileSig(kind fileKind, id string, userID, exp int64) []byte {
	m := hmac.New(sha256.New, s.signKey)
	m.Write([]byte(string(kind) + "|" + id + "|" + strconv.FormatInt(userID, 10) + "|" + strconv.FormatInt(exp, 10)))
	return m.Sum(nil)
}

func filePath(kind fileKind, id string) string {
	switch kind {
	case kindThumb:
		return "/api/v1/images/thumbnail/" + id
	case kindUpload:
		return "/api/v1/uploads/file/" + id
	}
	return "/api/v1/images/file/" + id
}

// signedURL is this server's own link to a file, usable in <img src> without a token:
// ?u=<user id>&exp=<unix seconds>&sig=<HMAC-SHA256 of "kind|id|user|exp">. The user id
// is in the URL so the check needs no extra lookup; it is covered by the signature.
func (s *Server) signedURL(kind fileKind, id string, userID int64) string {
	bucket := int64(signedURLBucket / time.Second)
	exp := s.now().Add(signedURLTTL).Unix()
	exp = (exp + bucket - 1) / bucket * bucket
	k := signedKey{kind: kind, id: id, user: userID}
	if u, ok := s.signed.get(k, exp); ok {
		return u
	}
	// With PUBLIC_URL the link is absolute, so a script can fetch it as it is (the
	// original answered absolute storage URLs); without, it is relative to this server.
	u := s.cfg.PublicURL + filePath(kind, id) + "?u=" + strconv.FormatInt(userID, 10) + "&exp=" + strconv.FormatInt(exp, 10) +
		"&sig=" + base64.RawURLEncoding.EncodeToString(s.fileSig(kind, id, userID, exp))
	s.signed.put(k, exp, u)
	return u
}

// signedURLs remembers the URLs of the current expiry bucket: a URL is a function of
// (kind, id, user, expiry), the expiry changes once per bucket, and a list of 20 made
// 40 HMACs per request, a third of its allocations. Entries of another expiry are
// dropped all at once when the bucket moves on, so the map holds one bucket's links.
type signedURLs struct {
	mu  sync.RWMutex
	exp int64
	m   map[signedKey]string
}

type signedKey struct {
	kind fileKind
	id   string
	user int64
}

// maxSignedURLs bounds one bucket's map (about 200 bytes an entry).
const maxSignedURLs = 8192

func (c *signedURLs) get(k signedKey, exp int64) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.exp != exp {
		return "", false
	}
	u, ok := c.m[k]
	return u, ok
}

func (c *signedURLs) put(k signedKey, exp int64, u string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exp != exp || c.m == nil || len(c.m) >= maxSignedURLs {
		c.exp, c.m = exp, make(map[signedKey]string)
	}
	c.m[k] = u
}

var errBadSignature = newError(db.CodeInvalidLink, "This image link is invalid or has expired; reload the page to get a fresh one.")

// verifySigned checks a signed URL's query and answers the user it was made for.
func (s *Server) verifySigned(kind fileKind, id string, q url.Values) (int64, time.Time, error) {
	uid, err1 := strconv.ParseInt(q.Get("u"), 10, 64)
	exp, err2 := strconv.ParseInt(q.Get("exp"), 10, 64)
	sig, err3 := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if err1 != nil || err2 != nil || err3 != nil || uid <= 0 {
		return 0, time.Time{}, errBadSignature
	}
	if !hmac.Equal(sig, s.fileSig(kind, id, uid, exp)) {
		return 0, time.Time{}, errBadSignature
	}
	expires := time.Unix(exp, 0)
	if !s.now().Before(expires) {
		return 0, time.Time{}, errBadSignature
	}
	return uid, expires, nil
}

// file serves one kind of file to its owner, who comes with a bearer token or with a
// signed URL (bearerOrLink).
func (s *Server) file(kind fileKind) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
		return s.serveFile(w, r, kind, ps.ByName("id"), p)
	}
}

// inlineTypes are the only content types served as themselves; anything else stored
// under an id (which the pipeline never writes) would go out as a download.
var inlineTypes = map[string]string{"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, kind fileKind, id string, p *principal) error {
	missing := notFound("No image with id " + strconv.Quote(id) + ".")
	if !validID(id) {
		return missing
	}
	userID := p.ID
	cacheFor := fileMaxAge
	if !p.LinkExpires.IsZero() {
		cacheFor = min(cacheFor, p.LinkExpires.Sub(s.now()))
	}

	var key, ctype, name, etag string
	var modtime time.Time
	var gen *db.Generation // the image's generation, for a download's recipe
	switch kind {
	case kindImage, kindThumb:
		g, err := s.db.GetGeneration(r.Context(), userID, id)
		if errors.Is(err, db.ErrNotFound) {
			return missing
		}
		if err != nil {
			return err
		}
		if g.Status != db.StatusCompleted || g.ImageKey == "" {
			return notFound("Generation " + id + " has no image (it is " + g.Status + ").")
		}
		modtime = g.CompletedAt
		if kind == kindImage {
			gen = g
			key, ctype, name = g.ImageKey, g.ImageType, "nanobanana-"+id
			if g.SHA256 != "" {
				etag = `"` + g.SHA256 + `"`
			}
		} else {
			if g.ThumbKey == "" {
				return notFound("Generation " + id + " has no thumbnail.")
			}
			key, ctype, name = g.ThumbKey, "image/jpeg", "nanobanana-"+id+"-thumb"
		}
	case kindUpload:
		ups, err := s.db.GetUploads(r.Context(), userID, []string{id})
		if errors.Is(err, db.ErrNotFound) {
			return missing
		}
		if err != nil {
			return err
		}
		u := ups[0]
		key, ctype, name, modtime = u.Key, u.ContentType, "nanobanana-upload-"+id, u.CreatedAt
		if u.SHA256 != "" {
			etag = `"` + u.SHA256 + `"`
		}
	}

	h := w.Header()
	ext, inline := inlineTypes[ctype]
	disposition := "inline"
	if !inline {
		ctype, ext = "application/octet-stream", "bin"
	}
	download := r.URL.Query().Get("download") == "1"
	if !inline || download {
		disposition = "attachment"
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", disposition+`; filename="`+name+"."+ext+`"`)
	h.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(max(cacheFor, 0)/time.Second)))
	h.Set("X-Content-Type-Options", "nosniff")
	if etag != "" {
		h.Set("ETag", etag)
	}
	if download && gen != nil && inline {
		// Saved with Download: the file carries its recipe (recipe.go).
		return s.writeDownload(w, r, gen)
	}

	if prefix := s.cfg.XAccelRedirect; prefix != "" {
		if _, isFS := s.store.(*storage.FS); isFS {
			// nginx serves the bytes (ranges and all) from its internal location; the
			// access check above is what this process is for.
			h.Set("X-Accel-Redirect", prefix+key)
			w.WriteHeader(http.StatusOK)
			return nil
		}
	}
	obj, err := s.store.Open(r.Context(), key)
	if errors.Is(err, storage.ErrNotFound) {
		return notFound("The file of " + id + " is missing from storage.")
	}
	if err != nil {
		return err
	}
	defer obj.Close()
	if modtime.IsZero() {
		modtime = obj.Info().ModTime
	}
	http.ServeContent(w, r, "", modtime, obj)
	return nil
}
