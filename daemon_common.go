package main

import (
	"log/slog"
	"math"
	"path/filepath"
	"runtime/debug"
	"strconv"

	"nanobanana/config"
)

// exitStatus is an error that is only an exit code: what needed saying was said.
type exitStatus int

func (e exitStatus) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// logPath is where a server started by `start` logs: LOG_FILE, else DATA_DIR/nanobanana.log.
func logPath(cfg config.Config) string {
	if cfg.LogFile != "" {
		return cfg.LogFile
	}
	return filepath.Join(cfg.DataDir, "nanobanana.log")
}

// applyMemoryLimit sets the Go runtime's soft memory limit from MEMORY_LIMIT; without it,
// the runtime has already read GOMEMLIMIT from the environment, which is left alone.
func applyMemoryLimit(cfg config.Config, log *slog.Logger) {
	if cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
		log.Info("memory limit", "MEMORY_LIMIT", cfg.MemoryLimit)
		return
	}
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		log.Info("memory limit", "GOMEMLIMIT", limit)
	}
}
