//go:build unix

package storage

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

// A file system that has no room refuses with ENOSPC (or EDQUOT, a quota): Put reports
// it as ErrFull, which the jobs use to keep a paid image waiting rather than give it
// up. (Producing a real ENOSPC needs a small file system, which needs root; the
// mapping is what is checked here.)
func TestNoSpaceIsErrFull(t *testing.T) {
	for _, cause := range []error{syscall.ENOSPC, syscall.EDQUOT} {
		err := putError("u/1/a.png", "", &fs.PathError{Op: "write", Path: ".tmp-x", Err: cause})
		if !errors.Is(err, ErrFull) || !errors.Is(err, cause) {
			t.Errorf("%v: %v is not ErrFull with its cause", cause, err)
		}
	}
	if err := putError("u/1/a.png", "", &fs.PathError{Op: "write", Path: ".tmp-x", Err: syscall.EIO}); errors.Is(err, ErrFull) {
		t.Errorf("EIO taken for a full disk: %v", err)
	}
}
