package replicate

import (
	"strings"
	"testing"
	"testing/iotest"
)

// readAll gives back exactly what was sent, whether the announced size is right, wrong
// or missing, and stops at the limit.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("abcdefghij", 300)
	for _, c := range []struct {
		name        string
		in          string
		limit, size int64
		want        string
	}{
		{"announced", body, 10000, int64(len(body)), body},
		{"unknown", body, 10000, -1, body},
		{"announced short", body, 10000, 100, body},
		{"announced long", body, 10000, 5000, body},
		{"over the limit", body, 1000, int64(len(body)), body[:1000]},
		{"over the limit, unknown", body, 1000, -1, body[:1000]},
		{"empty", "", 10000, 0, ""},
	} {
		got, err := readAll(iotest.HalfReader(strings.NewReader(c.in)), c.limit, c.size)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %d bytes, %v; want %d", c.name, len(got), err, len(c.want))
		}
	}
}
