// Package storage owns where image bytes live: the Storage interface every
// backend meets, the key rules they all enforce (ValidateKey), and two
// adapters — FS, a folder on the local disk (the default), and MinIO, any
// S3-compatible object store. It knows nothing of users, generations or HTTP;
// callers choose the keys.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// Storage stores opaque objects under slash-separated keys. Implementations
// are safe for concurrent use. A Put is atomic: readers see the old object or
// the complete new one, never a partial write, and a failed or cancelled Put
// leaves the previous state untouched.
type Storage interface {
	// Put stores everything read from r under key, replacing any object
	// already there. contentType is a hint; see each adapter for how it is
	// kept. An empty contentType is derived from the key's extension.
	Put(ctx context.Context, key string, r io.Reader, contentType string) (Info, error)
	// Open returns the object for reading and seeking, so it can be handed
	// to http.ServeContent. The caller closes it.
	Open(ctx context.Context, key string) (Object, error)
	// Stat describes the object without reading it.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object. Deleting a missing key is not an error, so
	// a retried cleanup is harmless.
	Delete(ctx context.Context, key string) error
}

// Info describes one stored object.
type Info struct {
	Key         string
	ContentType string
	Size        int64
	ModTime     time.Time
}

// Object is an open stored object.
type Object interface {
	io.ReadSeekCloser
	Info() Info
}

var (
	// ErrNotFound is returned (wrapped with the key) by Open and Stat for a
	// key that holds no object.
	ErrNotFound = errors.New("storage: object not found")
	// ErrInvalidKey is returned (wrapped with the key and the reason) by
	// every method for a key that ValidateKey rejects.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrFull is returned (wrapped with the key and the cause) by Put when the
	// storage has no room for the object (a full disk, a quota, a full
	// MinIO): nothing was stored, and the same Put may succeed once there is
	// room again.
	ErrFull = errors.New("storage: no space left")
)

const (
	// MaxKeyLen is S3's limit on object names, in bytes; FS uses the same
	// limit so a key that works on one backend works on the other.
	MaxKeyLen = 1024
	// MaxKeyElemLen is the usual file-name limit (NAME_MAX) of Linux file
	// systems, in bytes.
	MaxKeyElemLen = 255
)

// ValidateKey reports whether key may name an object. Every adapter calls it
// first, so the rules are the same everywhere: a key is a relative,
// slash-separated path of valid UTF-8 with no empty elements, no backslashes,
// no control characters (NUL included), and no element starting with a dot.
// The dot rule covers "." and ".." (traversal) and also reserves hidden names
// for FS's temporary files, so a key can never collide with an in-flight Put.
func ValidateKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, shorten(key), reason)
	}
	return nil
}

func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		return "not valid UTF-8"
	case strings.HasPrefix(key, "/"):
		return "absolute path"
	case strings.Contains(key, `\`):
		// A backslash is a separator on Windows and in some S3 gateways.
		return "contains a backslash"
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return "contains a control character"
		}
	}
	for elem := range strings.SplitSeq(key, "/") {
		switch {
		case elem == "":
			return "empty path element"
		case elem == "." || elem == "..":
			return "dot path element"
		case strings.HasPrefix(elem, "."):
			return "path element starts with a dot"
		case len(elem) > MaxKeyElemLen:
			return fmt.Sprintf("path element longer than %d bytes", MaxKeyElemLen)
		}
	}
	return ""
}

// shorten keeps error messages readable when the key is the over-long one.
func shorten(key string) string {
	const max = 80
	if len(key) <= max {
		return key
	}
	return key[:max] + "..."
}

func notFound(key string) error {
	return fmt.Errorf("%w: %q", ErrNotFound, key)
}

// contentTypes is deliberately small: these are the formats the service
// writes. Anything else is served as application/octet-stream, which a
// browser downloads instead of rendering.
var contentTypes = map[string]string{
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// ContentTypeByExt returns the content type FS reports for key, from its
// extension (case-insensitive), or application/octet-stream.
func ContentTypeByExt(key string) string {
	if ct, ok := contentTypes[strings.ToLower(path.Ext(key))]; ok {
		return ct
	}
	return "application/octet-stream"
}

// ctxReader stops a copy as soon as ctx is done, so a cancelled Put does not
// keep draining a slow upstream.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
