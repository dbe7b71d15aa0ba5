package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockOFD takes an exclusive open file description lock on the whole of f without
// waiting; it fails with EAGAIN when another open of the file holds one. The lock
// belongs to the open file, not the process: a child that inherits f holds it too, and
// it goes when the last descriptor of that open file is closed.
func lockOFD(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}

// lockHeld tells whether some process holds the open file description lock on path
// (lockFile's, or the pid file's), without taking it. A missing file is not locked.
func lockHeld(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, fmt.Errorf("test lock %s: %w", path, err)
	}
	return lk.Type != unix.F_UNLCK, nil
}
