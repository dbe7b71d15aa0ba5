// Package storagetest holds the conformance suite every storage.Storage
// adapter must pass, so the FS and MinIO backends stay interchangeable.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"nanobanana/storage"
)

// LargeSize is the size of the streamed object in the "Large" case. It is
// above 2x the smallest multipart part (5 MiB), so an adapter given that
// part size uploads it in several parts.
const LargeSize = 11<<20 + 12345

// Run runs the suite. newStorage is called once per subtest and must return
// an empty storage (a fresh directory or bucket); it may register cleanups
// on the t it is given, e.g. to check for leftovers.
func Run(t *testing.T, newStorage func(t *testing.T) storage.Storage) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s storage.Storage)
	}{
		{"RoundTrip", testRoundTrip},
		{"ServeContentRange", testServeContentRange},
		{"Empty", testEmpty},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"NotFound", testNotFound},
		{"InvalidKeys", testInvalidKeys},
		{"ValidKeys", testValidKeys},
		{"Large", testLarge},
		{"FailingReader", testFailingReader},
		{"FailingReaderKeepsOld", testFailingReaderKeepsOld},
		{"Concurrent", testConcurrent},
		{"ContextCanceled", testContextCanceled},
		{"ContextCanceledMidway", testContextCanceledMidway},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, newStorage(t))
		})
	}
}

// InvalidKeys are keys every adapter must reject with storage.ErrInvalidKey.
var InvalidKeys = []string{
	"",
	"/etc/passwd",
	"/abs.png",
	"..",
	".",
	"../escape.png",
	"../../escape.png",
	"a/../../escape.png",
	"a/..",
	"a/./b.png",
	"./a.png",
	"a//b.png",
	"a/",
	"/",
	`a\b.png`,
	`..\escape.png`,
	`..\..\escape.png`,
	"a\x00b.png",
	"a.png\x00.txt",
	"a\nb.png",
	"a\rb.png",
	"\x7f.png",
	".hidden",
	"u/.tmp-123",
	"a\xffb.png",
	strings.Repeat("a", storage.MaxKeyLen+1),
	strings.Repeat("a", storage.MaxKeyElemLen+1) + ".png",
}

func mustPut(t *testing.T, s storage.Storage, key string, data []byte, ct string) storage.Info {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(data), ct)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

func mustRead(t *testing.T, s storage.Storage, key string) ([]byte, storage.Info) {
	t.Helper()
	obj, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b, obj.Info()
}

func wantNotFound(t *testing.T, s storage.Storage, key string) {
	t.Helper()
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat(%q) error = %v, want ErrNotFound", key, err)
	}
	obj, err := s.Open(context.Background(), key)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Open(%q) error = %v, want ErrNotFound", key, err)
	}
	if obj != nil {
		obj.Close()
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testRoundTrip(t *testing.T, s storage.Storage) {
	data := randomBytes(1, 70_001)
	key := "u/42/0123456789abcdef0123456789abcdef.png"
	info := mustPut(t, s, key, data, "image/png")
	if info.Key != key || info.Size != int64(len(data)) || info.ContentType != "image/png" {
		t.Errorf("Put info = %+v, want key %q size %d type image/png", info, key, len(data))
	}
	if info.ModTime.IsZero() {
		t.Error("Put info has zero ModTime")
	}

	st, err := s.Stat(context.Background(), key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Key != key || st.Size != info.Size || st.ContentType != "image/png" || !st.ModTime.Equal(info.ModTime) {
		t.Errorf("Stat = %+v, want %+v", st, info)
	}

	got, oinfo := mustRead(t, s, key)
	if !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes, differing from the %d put", len(got), len(data))
	}
	if oinfo.Size != info.Size || oinfo.ContentType != "image/png" || oinfo.Key != key {
		t.Errorf("Object.Info = %+v, want %+v", oinfo, info)
	}

	// Seeking must work for http.ServeContent and for range requests.
	obj, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	end, err := obj.Seek(0, io.SeekEnd)
	if err != nil || end != int64(len(data)) {
		t.Fatalf("Seek(0, End) = %d, %v; want %d", end, err, len(data))
	}
	if _, err := obj.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 500)
	if _, err := io.ReadFull(obj, part); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part, data[1000:1500]) {
		t.Error("bytes after Seek(1000) differ")
	}
}

func testServeContentRange(t *testing.T, s storage.Storage) {
	data := randomBytes(2, 10_000)
	key := "img/range.webp"
	mustPut(t, s, key, data, "image/webp")
	obj, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("Range", "bytes=100-199")
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", obj.Info().ContentType)
	http.ServeContent(rec, req, "", obj.Info().ModTime, obj)
	if rec.Code != http.StatusPartialContent {
		t.Fatalf("status = %d, want 206", rec.Code)
	}
	if !bytes.Equal(rec.Body.Bytes(), data[100:200]) {
		t.Errorf("range body differs (%d bytes)", rec.Body.Len())
	}
	if got := rec.Header().Get("Content-Range"); got != "bytes 100-199/10000" {
		t.Errorf("Content-Range = %q", got)
	}
}

func testEmpty(t *testing.T, s storage.Storage) {
	info := mustPut(t, s, "empty.txt", nil, "text/plain; charset=utf-8")
	if info.Size != 0 {
		t.Errorf("size = %d, want 0", info.Size)
	}
	got, _ := mustRead(t, s, "empty.txt")
	if len(got) != 0 {
		t.Errorf("read %d bytes, want 0", len(got))
	}
}

func testOverwrite(t *testing.T, s storage.Storage) {
	key := "u/1/over.jpg"
	mustPut(t, s, key, randomBytes(3, 5000), "image/jpeg")
	second := randomBytes(4, 1234)
	info := mustPut(t, s, key, second, "image/jpeg")
	if info.Size != int64(len(second)) {
		t.Errorf("Put info size = %d, want %d", info.Size, len(second))
	}
	got, oinfo := mustRead(t, s, key)
	if !bytes.Equal(got, second) || oinfo.Size != int64(len(second)) {
		t.Errorf("after overwrite read %d bytes (info size %d), want the second %d", len(got), oinfo.Size, len(second))
	}
}

func testDelete(t *testing.T, s storage.Storage) {
	key := "u/1/gone.png"
	mustPut(t, s, key, []byte("bye"), "image/png")
	mustPut(t, s, "u/1/stays.png", []byte("hi"), "image/png")
	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, key)
	if got, _ := mustRead(t, s, "u/1/stays.png"); string(got) != "hi" {
		t.Errorf("neighbour object = %q after Delete, want %q", got, "hi")
	}
	// Deleting twice is how a retried cleanup looks.
	if err := s.Delete(context.Background(), key); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

func testDeleteMissing(t *testing.T, s storage.Storage) {
	for _, key := range []string{"never.png", "no/such/dir/x.png"} {
		if err := s.Delete(context.Background(), key); err != nil {
			t.Errorf("Delete(%q) of a missing key: %v", key, err)
		}
	}
}

func testNotFound(t *testing.T, s storage.Storage) {
	wantNotFound(t, s, "missing.png")
	mustPut(t, s, "dir/sub/obj.png", []byte("x"), "image/png")
	// A prefix of a key is not an object, even where the backend keeps it
	// as a directory; nor is a path below an object.
	wantNotFound(t, s, "dir")
	wantNotFound(t, s, "dir/sub")
	wantNotFound(t, s, "dir/sub/obj.png/below")
	if err := s.Delete(context.Background(), "dir/sub"); err != nil {
		t.Errorf("Delete of a prefix: %v", err)
	}
	if got, _ := mustRead(t, s, "dir/sub/obj.png"); string(got) != "x" {
		t.Errorf("object under a deleted prefix = %q, want %q", got, "x")
	}
}

func testInvalidKeys(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	for _, key := range InvalidKeys {
		name := key
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			if err := storage.ValidateKey(key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("ValidateKey = %v, want ErrInvalidKey", err)
			}
			if _, err := s.Put(ctx, key, strings.NewReader("evil"), "image/png"); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Put error = %v, want ErrInvalidKey", err)
			}
			obj, err := s.Open(ctx, key)
			if !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Open error = %v, want ErrInvalidKey", err)
			}
			if obj != nil {
				obj.Close()
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Stat error = %v, want ErrInvalidKey", err)
			}
			if err := s.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Delete error = %v, want ErrInvalidKey", err)
			}
		})
	}
}

func testValidKeys(t *testing.T, s storage.Storage) {
	long := strings.Repeat("d", storage.MaxKeyElemLen)
	keys := []string{
		"a.png",
		"u/7/0123456789abcdef0123456789abcdef.png",
		"thumbs/u/7/0123456789abcdef0123456789abcdef.jpg",
		"deep/a/b/c/d/e/f.webp",
		"with space and-dash_underscore.png",
		"ünïcödé/名前.png",
		"dots.in.name..png",
		strings.Repeat("c", storage.MaxKeyElemLen),
		// exactly MaxKeyLen bytes
		long + "/" + long + "/" + long + "/" + strings.Repeat("e", 200) + "/" + strings.Repeat("f", storage.MaxKeyLen-3*(storage.MaxKeyElemLen+1)-201),
	}
	for i, key := range keys {
		if err := storage.ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v", key, err)
			continue
		}
		data := fmt.Appendf(nil, "object %d", i)
		mustPut(t, s, key, data, "")
		if got, _ := mustRead(t, s, key); !bytes.Equal(got, data) {
			t.Errorf("%q read back %q, want %q", key, got, data)
		}
	}
}

// streamReader yields size deterministic bytes and hides its length, so the
// adapter has to stream an upload of unknown size.
type streamReader struct {
	r    *rand.Rand
	left int
	fail error // returned instead of io.EOF at the end, if set
}

func newStream(seed uint64, size int, fail error) *streamReader {
	return &streamReader{r: rand.New(rand.NewPCG(seed, seed)), left: size, fail: fail}
}

func (s *streamReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		if s.fail != nil {
			return 0, s.fail
		}
		return 0, io.EOF
	}
	n := min(len(p), s.left, 64<<10)
	for i := range n {
		p[i] = byte(s.r.Uint32())
	}
	s.left -= n
	return n, nil
}

func testLarge(t *testing.T, s storage.Storage) {
	key := "big/large.png"
	want := sha256.New()
	io.Copy(want, newStream(9, LargeSize, nil))

	info, err := s.Put(context.Background(), key, newStream(9, LargeSize, nil), "image/png")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if info.Size != LargeSize {
		t.Errorf("Put size = %d, want %d", info.Size, LargeSize)
	}
	obj, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	got := sha256.New()
	n, err := io.Copy(got, obj)
	if err != nil {
		t.Fatal(err)
	}
	if n != LargeSize || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("read back %d bytes with a different hash, want %d", n, LargeSize)
	}
}

var errBoom = errors.New("upstream broke")

func testFailingReader(t *testing.T, s storage.Storage) {
	// Fails after more than one 5 MiB part, so a multipart upload has
	// already sent parts when the error comes.
	for _, size := range []int{100_000, 6 << 20} {
		key := fmt.Sprintf("fail/%d.png", size)
		_, err := s.Put(context.Background(), key, newStream(5, size, errBoom), "image/png")
		if !errors.Is(err, errBoom) {
			t.Errorf("Put with failing reader (%d bytes in): error = %v, want it to wrap %v", size, err, errBoom)
		}
		wantNotFound(t, s, key)
	}
}

func testFailingReaderKeepsOld(t *testing.T, s storage.Storage) {
	key := "keep/old.png"
	old := []byte("the old, complete object")
	mustPut(t, s, key, old, "image/png")
	if _, err := s.Put(context.Background(), key, newStream(6, 200_000, errBoom), "image/png"); err == nil {
		t.Fatal("Put with failing reader succeeded")
	}
	got, info := mustRead(t, s, key)
	if !bytes.Equal(got, old) || info.Size != int64(len(old)) {
		t.Errorf("after failed overwrite read %q (size %d), want the old object", got, info.Size)
	}
}

func testConcurrent(t *testing.T, s storage.Storage) {
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("conc/%02d.png", i)
			if _, err := s.Put(context.Background(), key, newStream(uint64(100+i), 50_000+i, nil), "image/png"); err != nil {
				errs <- fmt.Errorf("Put(%q): %w", key, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range n {
		key := fmt.Sprintf("conc/%02d.png", i)
		want, _ := io.ReadAll(newStream(uint64(100+i), 50_000+i, nil))
		if got, _ := mustRead(t, s, key); !bytes.Equal(got, want) {
			t.Errorf("%q: read %d bytes that differ from the %d put", key, len(got), len(want))
		}
	}
}

func testContextCanceled(t *testing.T, s storage.Storage) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	key := "ctx/before.png"
	if _, err := s.Put(ctx, key, strings.NewReader("data"), "image/png"); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with cancelled context: error = %v, want context.Canceled", err)
	}
	wantNotFound(t, s, key)
}

// cancelingReader cancels the Put's own context after some bytes, as a
// client disconnecting during an upload would.
type cancelingReader struct {
	r      io.Reader
	after  int
	read   int
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.read >= c.after {
		c.cancel()
	}
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func testContextCanceledMidway(t *testing.T, s storage.Storage) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	key := "ctx/midway.png"
	r := &cancelingReader{r: newStream(7, 3<<20, nil), after: 256 << 10, cancel: cancel}
	if _, err := s.Put(ctx, key, r, "image/png"); !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled midway: error = %v, want context.Canceled", err)
	}
	wantNotFound(t, s, key)
}
