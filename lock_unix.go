//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// lockNow takes flock's exclusive advisory lock without waiting, which every nanobanana
// so far takes (an older binary's serve and this one exclude each other), and on Linux
// also an open file description lock (lockOFD), which `start` and `status` can test
// without taking it. Both belong to the open file, so the kernel drops them when the
// file is closed or the process dies.
func lockNow(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		err = lockOFD(f)
	}
	if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
		return errLockHeld
	}
	return err
}
