package db

import (
	"context"
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
			g.ReferenceIDs = []string{NewID(), s}
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

// Every event of an image-to-image generation names its references, as its status
// answer does; a text-to-image one has an empty list, not null.
func TestEventsCarryReferenceIDs(t *testing.T) {
	d := openTestDB(t)
	ctx := context.Background()
	u := addUser(t, d, "alice")
	up := Upload{ID: NewID(), UserID: u, Key: "u/k.png", ContentType: "image/png", Width: 1, Height: 1, Bytes: 1, SHA256: "x"}
	if err := d.CreateUpload(ctx, up); err != nil {
		t.Fatal(err)
	}
	p := params("with a reference")
	p.Mode, p.ReferenceIDs = ModeImageToImage, []string{up.ID}
	g, err := d.CreateGeneration(ctx, u, p)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := d.CreateGeneration(ctx, u, params("without"))
	jobs, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 1)
	if err != nil || len(jobs) != 1 || jobs[0].GenerationID != g.ID {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if err := d.CompleteJob(ctx, jobs[0].ID, "w", g.ID, Result{ImageKey: "k", ImageType: "image/png", ThumbKey: "t",
		Width: 1, Height: 1, Bytes: 1, SHA256: "x"}); err != nil {
		t.Fatal(err)
	}
	evs, err := d.EventsSince(ctx, u, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range evs {
		var data struct {
			Status string   `json:"status"`
			Refs   []string `json:"reference_image_ids"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatal(err)
		}
		want := []string{}
		if e.GenerationID == g.ID {
			want = []string{up.ID}
		}
		if data.Refs == nil || len(data.Refs) != len(want) || (len(want) == 1 && data.Refs[0] != want[0]) {
			t.Errorf("%s event of %s: reference_image_ids %v; want %v", data.Status, e.GenerationID, data.Refs, want)
		}
		seen[e.GenerationID]++
	}
	if seen[g.ID] != 3 || seen[plain.ID] != 1 {
		t.Fatalf("events per generation: %v; want pending, running and completed of the first, pending of the second", seen)
	}
}
