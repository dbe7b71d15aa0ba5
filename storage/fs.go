package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// FS stores objects as files under one directory. All access goes through an
// os.Root, so no key — nor a symlink planted inside the tree — can reach a
// file outside it.
//
// Content types are not stored: FS derives them from the key's extension
// (ContentTypeByExt) and ignores Put's contentType argument. A sidecar file
// per object would double the writes and fsyncs for information the key
// already carries, since callers name keys after the sniffed format.
type FS struct {
	root     *os.Root
	dir      string      // absolute path of the root, for LocalPath
	dirMode  os.FileMode // 0700, or 0750 when group-readable
	fileMode os.FileMode // 0600, or 0640 when group-readable
}

// FSOptions tune an FS.
type FSOptions struct {
	// GroupReadable makes new directories 0750 and files 0640 (the root too), so a
	// front proxy in the service's group (nginx serving X-Accel-Redirect) can read
	// them. Off, everything is private to the service user.
	GroupReadable bool
}

var _ Storage = (*FS)(nil)

// NewFS opens (creating it 0700 if needed) the directory root.
func NewFS(root string) (*FS, error) { return NewFSWith(root, FSOptions{}) }

// NewFSWith opens the directory root with options.
func NewFSWith(root string, o FSOptions) (*FS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	dirMode, fileMode := os.FileMode(0o700), os.FileMode(0o600)
	if o.GroupReadable {
		dirMode, fileMode = 0o750, 0o640
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, fmt.Errorf("storage: create root: %w", err)
	}
	if o.GroupReadable {
		// An existing root made private earlier must open up for the proxy too.
		if err := os.Chmod(abs, dirMode); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("storage: open root: %w", err)
	}
	return &FS{root: r, dir: abs, dirMode: dirMode, fileMode: fileMode}, nil
}

// Close releases the root directory handle.
func (s *FS) Close() error { return s.root.Close() }

// Dir returns the absolute path of the root directory.
func (s *FS) Dir() string { return s.dir }

// LocalPath returns the absolute file path for key, for a front proxy to
// serve it directly (X-Accel-Redirect). It does not check that the object
// exists.
func (s *FS) LocalPath(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// Put writes r to a temporary file beside the final one, fsyncs it, renames
// it into place and fsyncs the directory, so after a crash the key holds
// either the old object or the whole new one.
func (s *FS) Put(ctx context.Context, key string, r io.Reader, _ string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	dir := path.Dir(key)
	syncUpTo, err := s.mkdirs(dir)
	if err != nil {
		return Info{}, putError(key, "", err)
	}

	tmp := path.Join(dir, tmpPrefix+randomHex())
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, s.fileMode)
	if err != nil {
		return Info{}, putError(key, "", err)
	}
	if s.fileMode != 0o600 {
		// As for directories: the umask must not hide the file from the proxy.
		if err := f.Chmod(s.fileMode); err != nil {
			f.Close()
			s.root.Remove(tmp)
			return Info{}, fmt.Errorf("storage: put %q: %w", key, err)
		}
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			s.root.Remove(tmp)
		}
	}()

	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return Info{}, putError(key, "", err)
	}
	// The reader may have finished just as ctx ended; a cancelled Put must
	// not commit, or callers that treat the error as "nothing stored" leak.
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("storage: put %q: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return Info{}, putError(key, "sync: ", err)
	}
	st, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("storage: put %q: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return Info{}, putError(key, "", err)
	}
	if err := s.root.Rename(tmp, key); err != nil {
		return Info{}, putError(key, "", err)
	}
	committed = true
	// The rename and any new directories are durable only once their
	// parents are synced.
	for d := dir; ; d = path.Dir(d) {
		if err := s.syncDir(d); err != nil {
			return Info{}, fmt.Errorf("storage: put %q: sync dir: %w", key, err)
		}
		if d == syncUpTo || d == "." {
			break
		}
	}
	return s.info(key, st), nil
}

// putError is Put's error for key: ErrFull with the cause when the file system has no
// room, else the cause. A reader's error (a download cut off) passes through as it is.
func putError(key, what string, err error) error {
	if isFull(err) {
		return fmt.Errorf("storage: put %q: %s%w: %w", key, what, ErrFull, err)
	}
	return fmt.Errorf("storage: put %q: %s%w", key, what, err)
}

// tmpPrefix starts the name of the file a Put writes before renaming it into place.
const tmpPrefix = ".tmp-"

// RemoveStale deletes the temporary files of Puts that never finished (a process killed
// while storing an image leaves one for good) whose last write is older than olderThan,
// and returns how many it deleted. Several processes may share the folder, so a live
// Put's file must stay: a Put writes its file as the data arrives and renames it within
// moments, so one untouched for an hour is no one's. A file that disappears meanwhile
// (renamed by its Put, or deleted by another process) is not an error.
func (s *FS) RemoveStale(ctx context.Context, olderThan time.Duration, now time.Time) (int, error) {
	n := 0
	err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || now.Sub(info.ModTime()) < olderThan {
			return nil
		}
		if err := s.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("storage: remove stale temporary files: %w", err)
	}
	return n, nil
}

// mkdirs creates dir and returns the highest directory whose entries changed
// (the parent of the topmost directory it had to create), so Put can fsync
// exactly the directories that matter.
func (s *FS) mkdirs(dir string) (string, error) {
	top := ""
	for d := dir; d != "."; d = path.Dir(d) {
		if _, err := s.root.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		top = d
	}
	if top == "" {
		return dir, nil
	}
	if err := s.root.MkdirAll(dir, s.dirMode); err != nil {
		return "", err
	}
	if s.dirMode != 0o700 {
		// The process umask (the unit's UMask=0077) may have narrowed the new
		// directories; chmod is not subject to it.
		for d := dir; ; d = path.Dir(d) {
			if err := s.root.Chmod(d, s.dirMode); err != nil {
				return "", err
			}
			if d == top {
				break
			}
		}
	}
	return path.Dir(top), nil
}

func (s *FS) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open opens the file for key. A directory is not an object: it is reported
// as not found, as an object store would.
func (s *FS) Open(ctx context.Context, key string) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, s.mapErr(key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: open %q: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, notFound(key)
	}
	return &fsObject{File: f, info: s.info(key, st)}, nil
}

// Stat describes the file for key.
func (s *FS) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	st, err := s.root.Stat(key)
	if err != nil {
		return Info{}, s.mapErr(key, err)
	}
	if !st.Mode().IsRegular() {
		return Info{}, notFound(key)
	}
	return s.info(key, st), nil
}

// Delete removes the file for key. Emptied directories are left in place:
// removing them would race with a concurrent Put into the same directory.
func (s *FS) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := s.root.Lstat(key)
	if err != nil {
		if errors.Is(s.mapErr(key, err), ErrNotFound) {
			return nil
		}
		return fmt.Errorf("storage: delete %q: %w", key, err)
	}
	if st.IsDir() {
		return nil
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %q: %w", key, err)
	}
	return nil
}

func (s *FS) info(key string, st fs.FileInfo) Info {
	return Info{Key: key, ContentType: ContentTypeByExt(key), Size: st.Size(), ModTime: st.ModTime()}
}

// mapErr turns "no such file" — including a path that runs through a regular
// file, e.g. "a.png/b" — into ErrNotFound.
func (s *FS) mapErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return notFound(key)
	}
	return fmt.Errorf("storage: %q: %w", key, err)
}

type fsObject struct {
	*os.File
	info Info
}

func (o *fsObject) Info() Info { return o.info }

func randomHex() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
