//go:build unix && !linux

package main

import "os"

// lockOFD is Linux's (lock_linux.go); elsewhere flock alone guards the database, and
// the background start of shared hosting, which tests the lock, is Linux's too.
func lockOFD(*os.File) error { return nil }
