package db

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// Generation ids start with the time they were made, so later ones sort after earlier
// ones, and keep 80 random bits: no two are alike and none can be predicted.
func TestNewTimeIDIsOrderedHexWithRandomTail(t *testing.T) {
	before := time.Now().UnixMilli()
	a := NewTimeID()
	time.Sleep(2 * time.Millisecond)
	b := NewTimeID()
	after := time.Now().UnixMilli()
	for _, id := range []string{a, b, NewID()} {
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 32 lowercase hex characters", id)
		}
	}
	if a >= b {
		t.Fatalf("an id made later sorts first: %s then %s", a, b)
	}
	ts, err := strconv.ParseInt(a[:12], 16, 64)
	if err != nil || ts < before || ts > after {
		t.Fatalf("id %s: time prefix %d not within [%d, %d] (%v)", a, ts, before, after, err)
	}
	seen := map[string]bool{}
	tails := map[string]bool{}
	for range 1000 {
		id := NewTimeID()
		if seen[id] {
			t.Fatalf("id %s made twice", id)
		}
		seen[id] = true
		tails[id[12:]] = true
	}
	if len(tails) != 1000 {
		t.Fatalf("only %d distinct random parts in 1000 ids", len(tails))
	}
}
