//go:build windows

package main

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockNow locks the file's first byte exclusively without waiting (LockFileEx). Every
// nanobanana locks the same byte, so one holder excludes the others; Windows drops the
// lock when the handle is closed or the process ends. Nothing reads or writes the lock
// file, so the lock being mandatory on Windows changes nothing.
func lockNow(f *os.File) error {
	err := windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLockHeld
	}
	return err
}
