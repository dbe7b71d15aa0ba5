package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive advisory lock on path for the life of the process (the
// kernel drops it when the process dies, even by kill -9). A second `serve` on the same
// database fails at once instead of taking the first one's jobs.
//
// Two locks are taken on the one open file: a flock, which every nanobanana so far takes
// (so an older binary's serve and this one exclude each other), and an open file
// description lock, which lockHeld can test without taking it, so `start` and `status`
// looking never make a starting serve fail.
func lockFile(path string) (func() error, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		err = lockOFD(f)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
			return nil, fmt.Errorf("another nanobanana serve is already using %s (lock %s held); stop it first", path[:len(path)-len(".lock")], path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f.Close, nil
}

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
