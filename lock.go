package main

import (
	"errors"
	"fmt"
	"os"
)

// lockFile takes an exclusive lock on path for the life of the process (the system drops
// it when the process dies, even by kill -9). A second `serve` on the same database
// fails at once instead of taking the first one's jobs. How the lock is taken is each
// system's (lockNow in lock_unix.go and lock_windows.go); the sentence is the same.
func lockFile(path string) (func() error, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := lockNow(f); err != nil {
		f.Close()
		if errors.Is(err, errLockHeld) {
			return nil, fmt.Errorf("another nanobanana serve is already using %s (lock %s held); stop it first", path[:len(path)-len(".lock")], path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f.Close, nil
}

// errLockHeld is what lockNow returns when another open file holds the lock.
var errLockHeld = errors.New("lock held")
