package db

import (
	"encoding/json"
	"testing"
	"time"
)

// The hand-written event encoder writes exactly what encoding/json writes for
// EventData: every field, the omitted empty ones, escaping and times.
func TestEventDataJSONMatchesEncodingJSON(t *testing.T) {
	created := time.UnixMilli(1764000000123).UTC()
	strs := []string{"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\rcr\b\f",
		"\x00\x01\x1f\x7f", "émoji 🍌 ünïcode", "bad \xff\xfe utf8", "line\u2028para\u2029end",
		"trailing \xe2\x82"}
	var gens []Generation
	for i, s := range strs {
		g := Generation{ID: NewID(), UserID: 7, Status: StatusRunning,
			Params: Params{Prompt: s, Resolution: "1K", AspectRatio: "16:9", OutputFormat: "png",
				SafetyFilterLevel: "block_only_high", Mode: ModeTextToImage},
			CreatedAt: created}
		switch i % 4 {
		case 1:
			g.Status, g.Error = StatusFailed, s
			g.StartedAt, g.CompletedAt = created.Add(time.Second), created.Add(2500*time.Millisecond)
		case 2:
			g.Status, g.Width, g.Height, g.Bytes = StatusCompleted, 2048, 1152, 1<<33
			g.StartedAt, g.CompletedAt = created.Add(time.Millisecond), created.Add(time.Minute)
		case 3:
			g.Status, g.AspectRatio, g.Mode = StatusPending, s, ModeImageToImage
			g.CreatedAt = time.Time{}
		}
		gens = append(gens, g)
	}
	for _, g := range gens {
		want, err := json.Marshal(eventData(&g))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEventData(nil, &g); string(got) != string(want) {
			t.Errorf("prompt %q:\n got %s\nwant %s", g.Prompt, got, want)
		}
	}
}
