package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"nanobanana/db"
)

// eventFields decodes an event's data, failing the test when it is not a JSON object.
func eventFields(t testing.TB, e db.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Data, &m); err != nil {
		t.Fatalf("event %d data %s: %v", e.ID, e.Data, err)
	}
	return m
}

var _ = register("EventsAndSubscribe", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u, other := addUser(t, d, "alice"), addUser(t, d, "bob")
	ch, cancel := d.Subscribe(u)
	defer cancel()
	otherCh, cancelOther := d.Subscribe(other)
	defer cancelOther()

	g := create(t, d, u, "hello")
	// The signal is sent after the commit, before CreateGeneration returns.
	select {
	case <-ch:
	default:
		t.Fatal("no signal after create")
	}
	select {
	case <-otherCh:
		t.Fatal("another user was signalled")
	default:
	}
	if _, err := d.CancelGeneration(ctx, u, g.ID); err != nil {
		t.Fatal(err)
	}
	evs, err := d.EventsSince(ctx, u, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != db.StatusPending || evs[1].Type != db.StatusCanceled || evs[1].ID <= evs[0].ID {
		t.Fatalf("events %+v", evs)
	}
	for _, e := range evs {
		if e.UserID != u || e.GenerationID != g.ID || e.CreatedAt.IsZero() {
			t.Fatalf("event %+v", e)
		}
	}
	// An event carries the generation's stored part (db.AppendStored).
	m := eventFields(t, evs[1])
	if m["id"] != g.ID || m["image_id"] != g.ID || m["status"] != db.StatusCanceled || m["prompt"] != "hello" ||
		m["resolution"] != "1K" || m["generation_mode"] != db.ModeTextToImage || m["completed_at"] == nil {
		t.Fatalf("canceled event data %s", evs[1].Data)
	}
	for _, k := range []string{"error", "width", "height", "bytes", "started_at"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("canceled event: %q is %v (present %v); want null", k, v, ok)
		}
	}
	if _, ok := m["queue_position"]; ok {
		t.Errorf("an event's stored part has a queue position: %s", evs[1].Data)
	}
	if m := eventFields(t, evs[0]); m["status"] != db.StatusPending || m["completed_at"] != nil {
		t.Fatalf("pending event data %s", evs[0].Data)
	}
	if more, _ := d.EventsSince(ctx, u, evs[1].ID, 10); len(more) != 0 {
		t.Fatalf("events after the last: %+v", more)
	}
	if evs, _ := d.EventsSince(ctx, other, 0, 10); len(evs) != 0 {
		t.Fatalf("bob sees alice's events: %+v", evs)
	}
	if one, _ := d.EventsSince(ctx, u, 0, 1); len(one) != 1 || one[0].ID != evs[0].ID {
		t.Fatalf("a limit of 1: %+v", one)
	}
	if last, err := d.LastEventID(ctx, u); err != nil || last < evs[1].ID {
		t.Fatalf("last event id %d %v; want at least %d", last, err, evs[1].ID)
	}
	// A deleted generation's event says so.
	if _, err := d.DeleteGeneration(ctx, u, g.ID); err != nil {
		t.Fatal(err)
	}
	del, err := d.EventsSince(ctx, u, evs[1].ID, 10)
	if err != nil || len(del) != 1 || del[0].Type != db.EventDeleted {
		t.Fatalf("deleted event: %+v %v", del, err)
	}
	if m := eventFields(t, del[0]); m["id"] != g.ID || m["image_id"] != g.ID || m["status"] != db.EventDeleted {
		t.Fatalf("deleted event data %s", del[0].Data)
	}
	// An ended subscription hears nothing more. (Signals sent before it ended, some
	// from another process's listener on PostgreSQL, are drained first.)
	cancel()
	for len(ch) > 0 {
		<-ch
	}
	create(t, d, u, "unheard")
	select {
	case <-ch:
		t.Fatal("signalled after the subscription ended")
	default:
	}
	// Everything is older than the cutoff, but the newest event stays so ids never go
	// back: a stream that saw the last event must see the next one.
	all, _ := d.EventsSince(ctx, u, 0, 100)
	lastSeen := all[len(all)-1].ID
	if n, err := d.PruneEvents(ctx, time.Now().Add(time.Hour)); err != nil || n != int64(len(all)-1) {
		t.Fatalf("prune: %d %v; want %d", n, err, len(all)-1)
	}
	create(t, d, u, "after prune")
	if more, err := d.EventsSince(ctx, u, lastSeen, 10); err != nil || len(more) != 1 || more[0].Type != db.StatusPending {
		t.Fatalf("events after a prune: %+v %v", more, err)
	}
})

// Every event of an image-to-image generation names its references, as its status
// answer does; a text-to-image one has an empty list, not null.
var _ = register("EventsCarryReferenceIDs", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	u := addUser(t, d, "alice")
	up := db.Upload{ID: db.NewID(), UserID: u, Key: "u/k.png", ContentType: "image/png", Width: 1, Height: 1, Bytes: 1, SHA256: "x"}
	if err := d.CreateUploads(ctx, []db.Upload{up}, 0); err != nil {
		t.Fatal(err)
	}
	p := params("with a reference")
	p.Mode, p.ReferenceIDs = db.ModeImageToImage, []string{up.ID}
	g, err := d.CreateGeneration(ctx, u, p, db.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plain := create(t, d, u, "without")
	jobs, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 1)
	if err != nil || len(jobs) != 1 || jobs[0].GenerationID != g.ID {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if err := d.CompleteJob(ctx, jobs[0].ID, "w", g.ID, db.Result{ImageKey: "k", ImageType: "image/png", ThumbKey: "t",
		Width: 3, Height: 2, Bytes: 7, SHA256: "x"}); err != nil {
		t.Fatal(err)
	}
	evs, err := d.EventsSince(ctx, u, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]string{}
	for _, e := range evs {
		var data struct {
			Status string   `json:"status"`
			Refs   []string `json:"reference_image_ids"`
			Mode   string   `json:"generation_mode"`
			Width  *int     `json:"width"`
			Height *int     `json:"height"`
			Bytes  *int64   `json:"bytes"`
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
		if data.Status != e.Type {
			t.Errorf("event of type %s holds status %s", e.Type, data.Status)
		}
		// The image's size is known once completed, and only then.
		if done := data.Status == db.StatusCompleted; done != (data.Width != nil) || done != (data.Bytes != nil) ||
			(done && (*data.Width != 3 || *data.Height != 2 || *data.Bytes != 7)) {
			t.Errorf("%s event: width %v height %v bytes %v", data.Status, data.Width, data.Height, data.Bytes)
		}
		seen[e.GenerationID] = append(seen[e.GenerationID], e.Type)
	}
	if got := seen[g.ID]; len(got) != 3 || got[0] != db.StatusPending || got[1] != db.StatusRunning || got[2] != db.StatusCompleted {
		t.Fatalf("events of the first: %v; want pending, running, completed", got)
	}
	if got := seen[plain.ID]; len(got) != 1 || got[0] != db.StatusPending {
		t.Fatalf("events of the second: %v; want pending", got)
	}
})
