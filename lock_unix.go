//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// lockNow takes flock's exclusive advisory lock without waiting. It belongs to the open
// file, so the kernel drops it when the file is closed or the process dies.
func lockNow(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLockHeld
	}
	return err
}
