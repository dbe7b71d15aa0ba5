package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/jobs"
)

// batchItems reads the generations of an answer's list field (generations or items).
func batchItems(t *testing.T, m map[string]any, field string) []map[string]any {
	t.Helper()
	raw, ok := m[field].([]any)
	if !ok {
		t.Fatalf("no %s in %v", field, m)
	}
	out := make([]map[string]any, len(raw))
	for i, g := range raw {
		out[i] = g.(map[string]any)
	}
	return out
}

// predictionCreated is when the fake Replicate received the generation's prediction.
func (p *pipeline) predictionCreated(t *testing.T, userID int64, id string) time.Time {
	t.Helper()
	g, err := p.DB.GetGeneration(context.Background(), userID, id)
	if err != nil || g.PredictionID == "" {
		t.Fatalf("generation %s: %+v %v", id, g, err)
	}
	pred, err := p.Server.replicate.Get(context.Background(), globalToken, g.PredictionID)
	if err != nil {
		t.Fatal(err)
	}
	return pred.CreatedAt
}

func (p *pipeline) post(t *testing.T, path, tok string) reply {
	t.Helper()
	return p.do(t, call{Method: "POST", Path: path, Token: tok})
}

// count 4 makes four generations with one batch_id, each its own job and prediction;
// the answer is the first one's object (image_id where scripts read it) with every
// generation added. prompts makes one per prompt. Without either, the answer is the
// one generation as before, with batch_id null.
func TestGenerateBatch(t *testing.T) {
	p := newPipeline(t)
	alice := p.register(t, "alice")
	r := p.generate(t, alice.Access, map[string]any{"prompt": "a banana boat", "resolution": "1K", "count": 4})
	gs := batchItems(t, r, "generations")
	if len(gs) != 4 {
		t.Fatalf("%d generations, want 4", len(gs))
	}
	bid, _ := r["batch_id"].(string)
	if bid == "" || r["image_id"] != gs[0]["id"] || r["status"] != "pending" {
		t.Fatalf("the answer's own fields: batch_id %v image_id %v (first %v) status %v", r["batch_id"], r["image_id"], gs[0]["id"], r["status"])
	}
	for i, g := range gs {
		if g["batch_id"] != bid || g["prompt"] != "a banana boat" || g["resolution"] != "1K" {
			t.Fatalf("generation %d: %v", i, g)
		}
	}
	var preds []string
	for _, g := range gs {
		done := p.waitStatus(t, alice.Access, g["id"].(string), "completed")
		if done["batch_id"] != bid {
			t.Fatalf("the status answer's batch_id: %v", done["batch_id"])
		}
		dg, _ := p.DB.GetGeneration(context.Background(), alice.ID, g["id"].(string))
		preds = append(preds, dg.PredictionID)
	}
	if n := p.Fake.Stats().Created; n != 4 {
		t.Fatalf("%d predictions, want 4", n)
	}
	if slices.Sort(preds); len(slices.Compact(preds)) != 4 {
		t.Fatalf("predictions %v: want one per generation", preds)
	}
	b := p.get(t, "/api/v1/batches/"+bid, alice.Access, nil)
	if b.Status != http.StatusOK {
		t.Fatalf("batch: %d %s", b.Status, b.Body)
	}
	items := batchItems(t, b.JSON(t), "items")
	for i := range items {
		if items[i]["id"] != gs[i]["id"] || items[i]["status"] != "completed" {
			t.Fatalf("batch item %d: %v", i, items[i])
		}
	}

	r = p.generate(t, alice.Access, map[string]any{"prompts": []string{"a red banana", "  a blue banana "}, "resolution": "1K"})
	gs = batchItems(t, r, "generations")
	if len(gs) != 2 || gs[0]["prompt"] != "a red banana" || gs[1]["prompt"] != "a blue banana" || gs[0]["batch_id"] != gs[1]["batch_id"] || gs[0]["batch_id"] == nil {
		t.Fatalf("prompts: %v", gs)
	}

	one := p.generate(t, alice.Access, map[string]any{"prompt": "just one", "resolution": "1K"})
	if _, ok := one["generations"]; ok || one["batch_id"] != nil || one["image_id"] == nil {
		t.Fatalf("a single generate: %v", one)
	}

	for _, bad := range []map[string]any{
		{"prompt": "x", "count": 5},
		{"prompt": "x", "count": 0},
		{"prompt": "x", "count": 2, "prompts": []string{"a", "b"}},
		{"prompt": "x", "prompts": []string{"a", "b"}},
		{"prompts": []string{"a", "b", "c", "d", "e"}},
		{"prompts": []string{"a", " "}},
		{"prompts": []string{}},
	} {
		r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: alice.Access, Body: bad})
		if r.Status != http.StatusUnprocessableEntity || r.Code(t) != db.CodeInvalid {
			t.Fatalf("%v: %d %s", bad, r.Status, r.Body)
		}
	}
}

// A batch that would cross the pending cap is refused whole: nothing is queued, and
// Replicate sees nothing.
func TestBatchAllOrNothingAtPendingCap(t *testing.T) {
	p := newPipelineWith(t, func(o *jobs.Options) { o.MaxPending = 4 })
	alice := p.register(t, "alice")
	if r := p.post(t, "/api/v1/queue/pause", alice.Access); r.Status != http.StatusOK {
		t.Fatalf("pause: %d %s", r.Status, r.Body)
	}
	p.generate(t, alice.Access, map[string]any{"prompt": "one waiting", "resolution": "1K"})
	r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: alice.Access,
		Body: map[string]any{"prompt": "four more", "resolution": "1K", "count": 4}})
	if r.Status != http.StatusTooManyRequests || r.Code(t) != db.CodePendingLimit {
		t.Fatalf("a batch past the cap: %d %s", r.Status, r.Body)
	}
	list := p.get(t, "/api/v1/images/list", alice.Access, nil)
	if items := batchItems(t, list.JSON(t), "items"); len(items) != 1 {
		t.Fatalf("%d generations after the refused batch, want 1", len(items))
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: alice.Access,
		Body: map[string]any{"prompt": "three more", "resolution": "1K", "count": 3}}); r.Status != http.StatusAccepted {
		t.Fatalf("a batch up to the cap: %d %s", r.Status, r.Body)
	}
	if n := p.Fake.Stats().Created; n != 0 {
		t.Fatalf("%d predictions from a paused queue", n)
	}
}

// The same Idempotency-Key answers the whole batch it made and queues nothing more;
// with another count it is refused.
func TestBatchIdempotencyKey(t *testing.T) {
	p := newPipeline(t)
	alice := p.register(t, "alice")
	post := func(body map[string]any) reply {
		return p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: alice.Access, Body: body,
			Header: http.Header{"Idempotency-Key": {"batch-click-1"}}})
	}
	body := map[string]any{"prompt": "a banana kite", "resolution": "1K", "count": 4}
	r1 := post(body)
	if r1.Status != http.StatusAccepted {
		t.Fatalf("first: %d %s", r1.Status, r1.Body)
	}
	first := batchItems(t, r1.JSON(t), "generations")
	for _, g := range first {
		p.waitStatus(t, alice.Access, g["id"].(string), "completed")
	}
	r2 := post(body)
	if r2.Status != http.StatusAccepted {
		t.Fatalf("again: %d %s", r2.Status, r2.Body)
	}
	again := r2.JSON(t)
	gs := batchItems(t, again, "generations")
	if len(gs) != 4 || again["batch_id"] != r1.JSON(t)["batch_id"] {
		t.Fatalf("again: %v", again)
	}
	for i := range gs {
		if gs[i]["id"] != first[i]["id"] || gs[i]["status"] != "completed" {
			t.Fatalf("again[%d] = %v, want %v as it is now", i, gs[i], first[i]["id"])
		}
	}
	if n := p.Fake.Stats().Created; n != 4 {
		t.Fatalf("%d predictions, want 4", n)
	}
	r3 := post(map[string]any{"prompt": "a banana kite", "resolution": "1K", "count": 3})
	if r3.Status != http.StatusUnprocessableEntity || r3.Code(t) != db.CodeIdempotencyKeyReused {
		t.Fatalf("another count: %d %s", r3.Status, r3.Body)
	}
}

// A batch is canceled in one call (every generation canceled) and retried in one
// (every one queued again and completed); a second cancel finds nothing to cancel.
func TestBatchCancelAndRetry(t *testing.T) {
	p := newPipeline(t)
	alice := p.register(t, "alice")
	p.post(t, "/api/v1/queue/pause", alice.Access)
	r := p.generate(t, alice.Access, map[string]any{"prompt": "a banana tower", "resolution": "1K", "count": 4})
	bid := r["batch_id"].(string)
	for _, g := range batchItems(t, r, "generations") {
		if g["queue_paused"] != true || g["queue_position"] != nil {
			t.Fatalf("a paused queue's generation: %v", g)
		}
	}
	c := p.post(t, "/api/v1/batches/cancel/"+bid, alice.Access)
	if c.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", c.Status, c.Body)
	}
	for _, g := range batchItems(t, c.JSON(t), "items") {
		if g["status"] != "canceled" {
			t.Fatalf("after the batch's cancel: %v", g)
		}
	}
	if c := p.post(t, "/api/v1/batches/cancel/"+bid, alice.Access); c.Status != http.StatusConflict || c.Code(t) != db.CodeAlreadyFinished {
		t.Fatalf("cancel again: %d %s", c.Status, c.Body)
	}
	p.post(t, "/api/v1/queue/resume", alice.Access)
	rt := p.post(t, "/api/v1/batches/retry/"+bid, alice.Access)
	if rt.Status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", rt.Status, rt.Body)
	}
	items := batchItems(t, rt.JSON(t), "items")
	if len(items) != 4 {
		t.Fatalf("retry answered %d items", len(items))
	}
	for _, g := range items {
		p.waitStatus(t, alice.Access, g["id"].(string), "completed")
	}
	if n := p.Fake.Stats().Created; n != 4 {
		t.Fatalf("%d predictions, want 4 (none before the retry)", n)
	}
	if rt := p.post(t, "/api/v1/batches/retry/"+bid, alice.Access); rt.Status != http.StatusConflict || rt.Code(t) != db.CodeNotRetryable {
		t.Fatalf("retry of a completed batch: %d %s", rt.Status, rt.Body)
	}
}

// Another user's batch and pending generation answer 404 on every new route, and
// change nothing.
func TestBatchAndQueueRoutesOfAnotherUser(t *testing.T) {
	p := newPipeline(t)
	alice, bob := p.register(t, "alice"), p.register(t, "bob")
	p.post(t, "/api/v1/queue/pause", alice.Access)
	r := p.generate(t, alice.Access, map[string]any{"prompt": "alice's", "resolution": "1K", "count": 2})
	bid, gid := r["batch_id"].(string), r["image_id"].(string)
	for _, c := range []call{
		{Method: "GET", Path: "/api/v1/batches/" + bid},
		{Method: "POST", Path: "/api/v1/batches/cancel/" + bid},
		{Method: "POST", Path: "/api/v1/batches/retry/" + bid},
		{Method: "POST", Path: "/api/v1/queue/front/" + gid},
		{Method: "POST", Path: "/api/v1/queue/back/" + gid},
	} {
		c.Token = bob.Access
		if got := p.do(t, c); got.Status != http.StatusNotFound {
			t.Fatalf("bob %s %s: %d %s", c.Method, c.Path, got.Status, got.Body)
		}
	}
	for _, g := range batchItems(t, p.get(t, "/api/v1/batches/"+bid, alice.Access, nil).JSON(t), "items") {
		if g["status"] != "pending" {
			t.Fatalf("alice's generation after bob's calls: %v", g)
		}
	}
	// Bob's queue is his own: pausing it did nothing to alice's, and his state is empty.
	st := p.get(t, "/api/v1/queue/state", bob.Access, nil).JSON(t)
	if st["paused"] != false || st["waiting"] != float64(0) {
		t.Fatalf("bob's queue: %v", st)
	}
	st = p.get(t, "/api/v1/queue/state", alice.Access, nil).JSON(t)
	if st["paused"] != true || st["waiting"] != float64(2) {
		t.Fatalf("alice's queue: %v", st)
	}
	if r := p.get(t, "/api/v1/batches/"+gid[:31]+"z", alice.Access, nil); r.Status != http.StatusNotFound {
		t.Fatalf("a malformed batch id: %d", r.Status)
	}
}

// Moving a pending job to the front or back changes the order in which its user's jobs
// are claimed: the fake Replicate receives them in the new order (one runs at a time
// per user here, so each prediction is created after the previous one ended).
func TestQueueReorderChangesClaimOrder(t *testing.T) {
	p := newPipeline(t) // MaxPerUser 1
	alice := p.register(t, "alice")
	p.post(t, "/api/v1/queue/pause", alice.Access)
	a := p.generate(t, alice.Access, map[string]any{"prompt": "a", "resolution": "1K"})["id"].(string)
	b := p.generate(t, alice.Access, map[string]any{"prompt": "b", "resolution": "1K"})["id"].(string)
	c := p.generate(t, alice.Access, map[string]any{"prompt": "c", "resolution": "1K"})["id"].(string)
	front := p.post(t, "/api/v1/queue/front/"+c, alice.Access)
	if front.Status != http.StatusOK || front.JSON(t)["id"] != c {
		t.Fatalf("to the front: %d %s", front.Status, front.Body)
	}
	if back := p.post(t, "/api/v1/queue/back/"+a, alice.Access); back.Status != http.StatusOK {
		t.Fatalf("to the back: %d %s", back.Status, back.Body)
	}
	// Paused, the generations show no position; resumed, the new order.
	if g := p.get(t, "/api/v1/images/status/"+c, alice.Access, nil).JSON(t); g["queue_paused"] != true {
		t.Fatalf("paused: %v", g)
	}
	st := p.post(t, "/api/v1/queue/resume", alice.Access)
	if st.Status != http.StatusOK || st.JSON(t)["paused"] != false {
		t.Fatalf("resume: %d %s", st.Status, st.Body)
	}
	for _, id := range []string{a, b, c} {
		p.waitStatus(t, alice.Access, id, "completed")
	}
	tc, tb, ta := p.predictionCreated(t, alice.ID, c), p.predictionCreated(t, alice.ID, b), p.predictionCreated(t, alice.ID, a)
	if !tc.Before(tb) || !tb.Before(ta) {
		t.Fatalf("predictions created at c %v, b %v, a %v; want c, b, a", tc, tb, ta)
	}
	if r := p.post(t, "/api/v1/queue/front/"+a, alice.Access); r.Status != http.StatusConflict || r.Code(t) != db.CodeNotWaiting {
		t.Fatalf("moving a completed one: %d %s", r.Status, r.Body)
	}
}

// A paused queue's generations stay pending and are not claimed while another user's
// run; resumed, they run.
func TestPausedQueueIsNotClaimed(t *testing.T) {
	p := newPipeline(t)
	alice, bob := p.register(t, "alice"), p.register(t, "bob")
	st := p.post(t, "/api/v1/queue/pause", alice.Access)
	if st.Status != http.StatusOK || st.JSON(t)["paused"] != true {
		t.Fatalf("pause: %d %s", st.Status, st.Body)
	}
	a := p.generate(t, alice.Access, map[string]any{"prompt": "held", "resolution": "1K"})
	if a["queue_paused"] != true || a["queue_position"] != nil {
		t.Fatalf("created while paused: %v", a)
	}
	bg := p.generate(t, bob.Access, map[string]any{"prompt": "bob's", "resolution": "1K"})
	if bg["queue_position"] != float64(1) {
		t.Fatalf("bob's position behind a paused queue: %v", bg["queue_position"])
	}
	p.waitStatus(t, bob.Access, bg["id"].(string), "completed")
	// Workers were free all along: had alice's been claimable, it would have been
	// claimed with bob's.
	if g := p.get(t, "/api/v1/images/status/"+a["id"].(string), alice.Access, nil).JSON(t); g["status"] != "pending" || g["queue_paused"] != true {
		t.Fatalf("alice's while paused: %v", g)
	}
	if n := p.Fake.Stats().Created; n != 1 {
		t.Fatalf("%d predictions, want bob's only", n)
	}
	p.post(t, "/api/v1/queue/resume", alice.Access)
	p.waitStatus(t, alice.Access, a["id"].(string), "completed")
}

// A multipart generate with count and an attached reference image makes a batch whose
// every generation uses the one stored upload, each sending it to its own prediction.
func TestBatchMultipartWithReference(t *testing.T) {
	p := newPipeline(t)
	u := p.register(t, "alice")
	r := p.postMultipart(t, "/api/v1/images/generate", u.Access,
		map[string]string{"prompt": "variations of this", "resolution": "1K", "count": "3"},
		[]formFile{{"images", "ref.png", "image/png", testPNG(t, 32, 24)}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("multipart batch: %d %s", r.Status, r.Body)
	}
	gs := batchItems(t, r.JSON(t), "generations")
	if len(gs) != 3 {
		t.Fatalf("%d generations, want 3", len(gs))
	}
	ref := gs[0]["reference_image_ids"].([]any)
	for _, g := range gs {
		refs := g["reference_image_ids"].([]any)
		if g["generation_mode"] != "image-to-image" || len(refs) != 1 || refs[0] != ref[0] || g["batch_id"] != gs[0]["batch_id"] {
			t.Fatalf("generation %v", g)
		}
		p.waitStatus(t, u.Access, g["id"].(string), "completed")
		if n := p.imageInputs(t, u.ID, g["id"].(string)); n != 1 {
			t.Fatalf("%s sent %d image_input entries, want 1", g["id"], n)
		}
	}
	if bad := p.postMultipart(t, "/api/v1/images/generate", u.Access,
		map[string]string{"prompt": "x", "count": "many"}, nil); bad.Status != http.StatusUnprocessableEntity || bad.Code(t) != db.CodeInvalid {
		t.Fatalf("count=many: %d %s", bad.Status, bad.Body)
	}
}

// Pausing and resuming tell the event stream: a pending generation shows paused (no
// position) while the queue is paused, and comes again in line with its position when
// it resumes.
func TestQueuePauseReachesTheStream(t *testing.T) {
	p := newPipeline(t)
	alice := p.register(t, "alice")
	s := p.openEvents(t, "/api/v1/events", http.Header{"Authorization": {"Bearer " + alice.Access}})
	p.post(t, "/api/v1/queue/pause", alice.Access)
	id := p.generate(t, alice.Access, map[string]any{"prompt": "waiting", "resolution": "1K"})["id"].(string)
	next := func(what string, ok func(map[string]any) bool) {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case ev, open := <-s.Events:
				if !open {
					t.Fatalf("the stream ended before %s", what)
				}
				if ev.Data["id"] == id && ok(ev.Data) {
					return
				}
			case <-timeout:
				t.Fatalf("no event: %s", what)
			}
		}
	}
	next("pending, paused", func(d map[string]any) bool {
		return d["status"] == "pending" && d["queue_paused"] == true && d["queue_position"] == nil
	})
	p.post(t, "/api/v1/queue/resume", alice.Access)
	next("pending with a position", func(d map[string]any) bool {
		return d["status"] == "pending" && d["queue_paused"] == false && d["queue_position"] != nil
	})
	next("completed", func(d map[string]any) bool { return d["status"] == "completed" })
}

// A batch over a spending limit is refused whole over HTTP: 429 spending_limit, nothing
// queued, nothing booked; within it, each generation books its own price.
func TestBatchAllOrNothingAtSpendingLimit(t *testing.T) {
	p := newPipeline(t)
	admin := p.register(t, "admin")
	u := p.register(t, "limited")
	path := "/api/v1/admin/limits/" + strconv.FormatInt(u.ID, 10)
	if r := p.do(t, call{Method: "PUT", Path: path, Token: admin.Access, Body: map[string]any{"day_images": 3}}); r.Status != http.StatusOK {
		t.Fatalf("set limits: %d %s", r.Status, r.Body)
	}
	r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: u.Access,
		Body: map[string]any{"prompt": "four is one too many", "resolution": "1K", "count": 4}})
	if r.Status != http.StatusTooManyRequests || r.Code(t) != db.CodeSpendingLimit {
		t.Fatalf("a batch past the limit: %d %s", r.Status, r.Body)
	}
	if items := batchItems(t, p.get(t, "/api/v1/images/list", u.Access, nil).JSON(t), "items"); len(items) != 0 {
		t.Fatalf("%d generations after the refused batch, want none", len(items))
	}
	use := p.get(t, "/api/v1/users/usage", u.Access, nil).JSON(t)
	if left := use["left"].(map[string]any); left["day_images"] != 3.0 {
		t.Fatalf("usage after the refused batch: %v", use)
	}
	g := p.generate(t, u.Access, map[string]any{"prompt": "three fit", "resolution": "4K", "count": 3})
	for _, x := range batchItems(t, g, "generations") {
		if x["cost_usd"] != 0.3 || x["booked_usd"] != 0.3 || x["paid_by"] != "shared" {
			t.Fatalf("a batch's generation books %v (%v), want its own 0.3", x["booked_usd"], x["cost_usd"])
		}
	}
}
