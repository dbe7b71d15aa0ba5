package db

import (
	"testing"

	"nanobanana/internal/pgtest"
)

// TestMain stops the PostgreSQL server pgtest may have started for this binary.
func TestMain(m *testing.M) { pgtest.Main(m) }
