package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A kill -9 while an image is being stored leaves its temporary file (images/u/<id>/.tmp-*)
// for good (1 kill in 12 did, in the run). serve removes those older than an
// hour when it starts; a fresh one, which another process sharing the folder may be
// writing, stays.
func TestStaleTempFileDoesNotSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	userDir := filepath.Join(dir, "data", "images", "u", "7")
	if err := os.MkdirAll(userDir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(userDir, ".tmp-0123456789abcdef01234567")
	fresh := filepath.Join(userDir, ".tmp-aaaaaaaaaaaaaaaaaaaaaaaa")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("half an image"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, dir, nil)
	defer p.stop(t)
	deadline := time.Now().Add(20 * time.Second) // only stops a hung test
	for {
		if _, err := os.Stat(old); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an hour-old temporary file survived the start:\n%s", p.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("a fresh temporary file was removed: %v", err)
	}
}
