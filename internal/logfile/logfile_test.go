package logfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRotatesBySizeKeepingK(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	l, err := Open(path, Options{MaxBytes: 100, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// 10-byte lines: ten fill a file exactly, the eleventh starts a new one.
	for i := range 35 {
		if _, err := fmt.Fprintf(l, "line %04d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, path); got != "line 0030\nline 0031\nline 0032\nline 0033\nline 0034\n" {
		t.Errorf("current file:\n%s", got)
	}
	if got := read(t, path+".1"); !strings.HasPrefix(got, "line 0020\n") || !strings.HasSuffix(got, "line 0029\n") || len(got) != 100 {
		t.Errorf("%s.1 holds %d bytes:\n%s", path, len(got), got)
	}
	if got := read(t, path+".2"); !strings.HasPrefix(got, "line 0010\n") || len(got) != 100 {
		t.Errorf("%s.2 holds %d bytes:\n%s", path, len(got), got)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 exists with Keep 2: %v", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, want 0600 (logs name users and addresses)", fi.Mode().Perm())
	}
}

func TestAppendsToAnExistingFileAndCountsIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 95)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, Options{MaxBytes: 100, Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Write([]byte("next\n")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != "next\n" {
		t.Errorf("a write past the size of the file found at open went to %q; want a new file", got)
	}
	if got := read(t, path+".1"); len(got) != 96 {
		t.Errorf("the old content was not kept whole in .1: %d bytes", len(got))
	}
}

func TestKeepZeroAndNoLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	l, err := Open(path, Options{MaxBytes: 10, Keep: 0})
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("0123456789"))
	l.Write([]byte("abc"))
	l.Close()
	if got := read(t, path); got != "abc" {
		t.Errorf("Keep 0: current file %q, want abc", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("Keep 0 left %d files", len(entries))
	}

	path2 := filepath.Join(dir, "big.log")
	l, err = Open(path2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		l.Write([]byte(strings.Repeat("y", 100)))
	}
	l.Close()
	if got := read(t, path2); len(got) != 10000 {
		t.Errorf("MaxBytes 0 should never rotate; file has %d bytes", len(got))
	}
	if _, err := l.Write([]byte("late")); err == nil {
		t.Error("a write after Close succeeded")
	}
}

// OnOpen sees every file, the first and each rotation's, before it is written to.
func TestOnOpenSeesEachFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	var opened []int64
	l, err := Open(path, Options{MaxBytes: 5, Keep: 3, OnOpen: func(f *os.File) error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		opened = append(opened, fi.Size())
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 3 {
		l.Write([]byte("12345"))
	}
	if len(opened) != 3 || opened[0] != 0 || opened[1] != 0 || opened[2] != 0 {
		t.Errorf("OnOpen saw %v; want three empty files", opened)
	}
}

// Lines written at once from many goroutines stay whole, and none is lost.
func TestConcurrentWritesStayWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	l, err := Open(path, Options{MaxBytes: 1000, Keep: 100})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				fmt.Fprintf(l, "goroutine %d line %02d\n", g, i)
			}
		})
	}
	wg.Wait()
	l.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, e := range entries {
		for _, line := range strings.Split(strings.TrimSuffix(read(t, filepath.Join(dir, e.Name())), "\n"), "\n") {
			if !strings.HasPrefix(line, "goroutine ") || len(line) != len("goroutine 0 line 00") {
				t.Errorf("torn line %q in %s", line, e.Name())
			}
			lines++
		}
	}
	if lines != 8*50 {
		t.Errorf("%d lines in the files, want %d", lines, 8*50)
	}
}

// A rotation that cannot happen leaves the log going to the old file, with the reason.
func TestRotationFailureKeepsLogging(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	// A directory where NAME.1 should go: renaming the file over it fails, even as root.
	if err := os.Mkdir(path+".1", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path+".1", "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, Options{MaxBytes: 10, Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write([]byte("0123456789"))
	if _, err := l.Write([]byte("after\n")); err != nil {
		t.Fatalf("write after a failed rotation: %v", err)
	}
	if got := read(t, path); !strings.HasPrefix(got, "0123456789") || !strings.Contains(got, "could not rotate") || !strings.HasSuffix(got, "after\n") {
		t.Errorf("file after a failed rotation:\n%s", got)
	}
}
