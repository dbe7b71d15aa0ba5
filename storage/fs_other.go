//go:build !unix

package storage

func isNotDir(error) bool { return false }

// isFull is Unix's no-space errors only: elsewhere a full disk is an ordinary error.
func isFull(error) bool { return false }
