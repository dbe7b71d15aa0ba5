// Package logfile is a log file that rotates itself by size, for a server that runs with
// no journal or logrotate behind it (`nanobanana start` on a shared host). When a write
// would take the file past its size, NAME becomes NAME.1 (NAME.1 becomes NAME.2, and so
// on), the oldest beyond the kept count goes, and a new NAME is opened. It owns nothing
// else: what is written and when is the logger's business.
package logfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// Options say when to rotate and what to keep.
type Options struct {
	// MaxBytes is the size a file may reach; a write that would pass it goes to a new
	// file first. Zero or less: never rotate. One write is never split, so a line
	// longer than MaxBytes makes a file of its own.
	MaxBytes int64
	// Keep is how many rotated files stay (NAME.1 ... NAME.Keep); 0 keeps none.
	Keep int
	// OnOpen, when set, is called with each file the writer opens, the first one
	// included, before anything is written to it; a daemon points its standard output
	// and error there, so what the runtime itself prints lands in the current file.
	OnOpen func(*os.File) error
}

// File is an open, rotating log file. It is safe for concurrent use.
type File struct {
	path string
	o    Options

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (appending, creating with mode 0600) the log file at path.
func Open(path string, o Options) (*File, error) {
	l := &File{path: path, o: o}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *File) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log file: %w", err)
	}
	if l.o.OnOpen != nil {
		if err := l.o.OnOpen(f); err != nil {
			f.Close()
			return fmt.Errorf("log file %s: %w", l.path, err)
		}
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past MaxBytes. When the
// rotation fails (a full disk, a directory made read-only), the writer keeps appending to
// the file it has, says why in it, and tries again at the next write: losing the log
// would be worse than a file past its size.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.o.MaxBytes > 0 && l.size > 0 && l.size+int64(len(p)) > l.o.MaxBytes {
		if err := l.rotate(); err != nil {
			msg := "logfile: could not rotate " + l.path + ": " + err.Error() + "\n"
			n, _ := l.f.WriteString(msg)
			l.size += int64(n)
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate shifts NAME.i to NAME.i+1, NAME to NAME.1, and opens a new NAME. On an error
// before the new file is open, the old one stays in use.
func (l *File) rotate() error {
	name := func(i int) string {
		if i == 0 {
			return l.path
		}
		return l.path + "." + strconv.Itoa(i)
	}
	if l.o.Keep <= 0 {
		if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for i := l.o.Keep; i >= 1; i-- {
		// Renaming over NAME.Keep drops the oldest.
		if err := os.Rename(name(i-1), name(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	old := l.f
	if err := l.open(); err != nil {
		return err
	}
	old.Close()
	return nil
}

// Close closes the current file; later writes fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
