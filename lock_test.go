package main

import (
	"path/filepath"
	"testing"
)

// The lock, whichever system takes it: a second holder is refused at once with the
// sentence a person reads, and the lock is free again once released.
func TestLockFile(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "nanobanana.db")
	unlock, err := lockFile(dbPath + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockFile(dbPath + ".lock")
	want := "another nanobanana serve is already using " + dbPath + " (lock " + dbPath + ".lock held); stop it first"
	if err == nil || err.Error() != want {
		t.Fatalf("second lock: %v\nwant: %s", err, want)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = lockFile(dbPath + ".lock")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock()
}
