package storage_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nanobanana/storage"
	"nanobanana/storage/storagetest"
)

// newFS returns an FS rooted one level below a temp dir, and checks at the
// end of the test that nothing was written beside the root (an escape) and
// no temporary file was left inside it.
func newFS(t *testing.T) *storage.FS {
	t.Helper()
	parent := t.TempDir()
	s, err := storage.NewFS(filepath.Join(parent, "root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Errorf("walk: %v", err)
				return nil
			}
			rel, _ := filepath.Rel(parent, p)
			if rel != "." && rel != "root" && !strings.HasPrefix(rel, "root"+string(filepath.Separator)) {
				t.Errorf("file outside the root: %s", rel)
			}
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				t.Errorf("left-over hidden/temporary file: %s", rel)
			}
			return nil
		})
	})
	return s
}

func TestFSConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return newFS(t) })
}

func TestNewFSCreatesPrivateRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "images")
	s, err := storage.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("root mode = %v, want 0700", st.Mode().Perm())
	}
	if _, err := s.Put(context.Background(), "u/1/x.png", strings.NewReader("x"), ""); err != nil {
		t.Fatal(err)
	}
	st, err = os.Stat(filepath.Join(dir, "u", "1", "x.png"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, want 0600", st.Mode().Perm())
	}
}

func TestFSLocalPath(t *testing.T) {
	s := newFS(t)
	key := "u/3/abc.png"
	if _, err := s.Put(context.Background(), key, strings.NewReader("pixels"), "image/png"); err != nil {
		t.Fatal(err)
	}
	p, err := s.LocalPath(key)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(p) || !strings.HasPrefix(p, s.Dir()+string(filepath.Separator)) {
		t.Errorf("LocalPath = %q, want an absolute path under %q", p, s.Dir())
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "pixels" {
		t.Errorf("file at LocalPath = %q, %v; want %q", b, err, "pixels")
	}
	for _, bad := range []string{"../x.png", "/etc/passwd", `a\b`} {
		if _, err := s.LocalPath(bad); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("LocalPath(%q) error = %v, want ErrInvalidKey", bad, err)
		}
	}
}

// A symlink planted inside the tree (by another process or an old bug) must
// not let a key read or overwrite a file outside the root.
func TestFSSymlinkCannotEscape(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.png")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := storage.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(s.Dir(), "file.png")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"link/secret.png", "file.png"} {
		if obj, err := s.Open(ctx, key); err == nil {
			b, _ := io.ReadAll(obj)
			obj.Close()
			t.Errorf("Open(%q) through a symlink succeeded, read %q", key, b)
		}
		if _, err := s.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) through a symlink succeeded", key)
		}
	}
	if _, err := s.Put(ctx, "link/secret.png", strings.NewReader("overwritten"), ""); err == nil {
		t.Error("Put through a symlinked directory succeeded")
	}
	if _, err := s.Put(ctx, "link/new.png", strings.NewReader("planted"), ""); err == nil {
		t.Error("Put of a new file through a symlinked directory succeeded")
	}
	if b, _ := os.ReadFile(secret); string(b) != "secret" {
		t.Errorf("file outside the root now holds %q", b)
	}
	if _, err := os.Stat(filepath.Join(outside, "new.png")); err == nil {
		t.Error("a file was created outside the root")
	}
}

func TestFSContentTypeFromExtension(t *testing.T) {
	s := newFS(t)
	ctx := context.Background()
	cases := map[string]string{
		"a.png":  "image/png",
		"b.JPG":  "image/jpeg",
		"c.jpeg": "image/jpeg",
		"d.webp": "image/webp",
		"e.html": "application/octet-stream",
		"f":      "application/octet-stream",
	}
	for key, want := range cases {
		// The argument is ignored on purpose: serving an .html key as
		// text/html because a caller said so would be an XSS hole.
		info, err := s.Put(ctx, key, strings.NewReader("x"), "text/html")
		if err != nil {
			t.Fatal(err)
		}
		if info.ContentType != want {
			t.Errorf("%s: Put type = %q, want %q", key, info.ContentType, want)
		}
		st, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if st.ContentType != want {
			t.Errorf("%s: Stat type = %q, want %q", key, st.ContentType, want)
		}
	}
}

// For X-Accel-Redirect a proxy in the service's group reads the files; by default nobody
// but the service user can.
func TestFSModes(t *testing.T) {
	ctx := context.Background()
	// The service runs with UMask=0077: group-readable modes must survive it.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		group          bool
		wantDir, wantF os.FileMode
	}{{false, 0o700, 0o600}, {true, 0o750, 0o640}} {
		root := filepath.Join(t.TempDir(), "images")
		s, err := storage.NewFSWith(root, storage.FSOptions{GroupReadable: tc.group})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, "u/1/a.png", strings.NewReader("x"), "image/png"); err != nil {
			t.Fatal(err)
		}
		s.Close()
		for path, want := range map[string]os.FileMode{root: tc.wantDir, filepath.Join(root, "u", "1"): tc.wantDir, filepath.Join(root, "u", "1", "a.png"): tc.wantF} {
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != want {
				t.Errorf("group=%v %s: mode %v err %v; want %v", tc.group, path, st.Mode().Perm(), err, want)
			}
		}
	}
}

// RemoveStale deletes the temporary files of Puts that never finished once untouched
// for the given age, and nothing else: not a fresh one (another process sharing the
// folder may be writing it), not an object whose name merely looks alike.
func TestRemoveStaleKeepsLiveFiles(t *testing.T) {
	s, err := storage.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Put(ctx, "u/1/a.png", strings.NewReader("image"), "image/png"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	write := func(rel string, age time.Duration) string {
		p := filepath.Join(s.Dir(), filepath.FromSlash(rel))
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := write("u/1/.tmp-0123456789abcdef01234567", 2*time.Hour)
	oldTop := write(".tmp-fedcba9876543210fedcba98", 3*time.Hour)
	fresh := write("u/1/.tmp-aaaaaaaaaaaaaaaaaaaaaaaa", time.Minute)
	object := write("u/1/b.png", 5*time.Hour)
	n, err := s.RemoveStale(ctx, time.Hour, now)
	if err != nil || n != 2 {
		t.Fatalf("removed %d (%v); want the 2 old temporary files", n, err)
	}
	for _, p := range []string{old, oldTop} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived: %v", p, err)
		}
	}
	for _, p := range []string{fresh, object, filepath.Join(s.Dir(), "u/1/a.png")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
