package server

import (
	"testing"

	"nanobanana/internal/dbtest"
)

// TestMain stops the PostgreSQL server a NANOBANANA_TEST_DB=postgres run may have started.
func TestMain(m *testing.M) { dbtest.Main(m) }
