package server

import (
	"bytes"
	"image"
	"net/http"
	"strings"
	"testing"

	"nanobanana/replicate/replicatetest"
)

// A completed generation's image becomes a reference upload of its owner, and an
// image-to-image generation made from it sends it to Replicate and lists it in its
// references with a link the page can show. Another user, a missing id and a generation
// without an image are refused.
func TestUploadFromGeneration(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	alice, bob := p.register(t, "alice"), p.register(t, "bob")
	src := p.generate(t, alice.Access, map[string]any{"prompt": "a banana boat", "resolution": "1K"})["id"].(string)
	done := p.waitStatus(t, alice.Access, src, "completed")

	path := "/api/v1/uploads/generation/" + src
	if r := p.do(t, call{Method: "POST", Path: path, Token: bob.Access}); r.Status != http.StatusNotFound {
		t.Fatalf("bob makes alice's generation his reference: %d %s", r.Status, r.Body)
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/uploads/generation/" + strings.Repeat("ab", 16), Token: alice.Access}); r.Status != http.StatusNotFound {
		t.Fatalf("a missing generation: %d %s", r.Status, r.Body)
	}
	r := p.do(t, call{Method: "POST", Path: path, Token: alice.Access})
	if r.Status != http.StatusCreated {
		t.Fatalf("use as reference: %d %s", r.Status, r.Body)
	}
	ups := r.JSON(t)["uploads"].([]any)
	up := ups[0].(map[string]any)
	if len(ups) != 1 || up["width"] != done["width"] || up["height"] != done["height"] {
		t.Fatalf("the upload %v is not the generation's image %v", up, done)
	}
	f := p.get(t, up["url"].(string), "", nil)
	if _, _, err := image.DecodeConfig(bytes.NewReader(f.Body)); f.Status != 200 || err != nil {
		t.Fatalf("the upload's link: %d %v", f.Status, err)
	}

	edit := p.generate(t, alice.Access, map[string]any{"prompt": "the same boat, at night",
		"generation_mode": "image-to-image", "reference_image_ids": []string{up["id"].(string)}})
	id := edit["id"].(string)
	if refs := edit["reference_image_ids"].([]any); len(refs) != 1 || refs[0] != up["id"] {
		t.Fatalf("the edit's references: %v", edit["reference_image_ids"])
	}
	if urls, _ := edit["reference_urls"].([]any); len(urls) != 1 || !strings.Contains(urls[0].(string), "/api/v1/uploads/file/"+up["id"].(string)) {
		t.Fatalf("the edit's reference_urls: %v", edit["reference_urls"])
	}
	p.waitStatus(t, alice.Access, id, "completed")
	if n := p.imageInputs(t, alice.ID, id); n != 1 {
		t.Fatalf("the edit sent %d images to Replicate, want 1", n)
	}

	// Not yet an image: a generation that is still running.
	p.Fake.Configure(func(c *replicatetest.Config) { c.QueueTime = 1 << 40 })
	busy := p.generate(t, alice.Access, map[string]any{"prompt": "still going"})["id"].(string)
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/uploads/generation/" + busy, Token: alice.Access}); r.Status != http.StatusConflict || !strings.Contains(r.Detail(t), "no image") {
		t.Fatalf("a generation without an image: %d %s", r.Status, r.Body)
	}
}

// An https:// reference is listed in reference_urls as it was given, after the uploads.
func TestReferenceURLsKeepHTTPS(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "carol")
	g := p.generate(t, u.Access, map[string]any{"prompt": "from a link", "generation_mode": "image-to-image",
		"reference_images": []string{"https://example.com/ref.png"}})
	urls, _ := g["reference_urls"].([]any)
	if len(urls) != 1 || urls[0] != "https://example.com/ref.png" {
		t.Fatalf("reference_urls %v", g["reference_urls"])
	}
	st := p.do(t, call{Method: "GET", Path: "/api/v1/images/status/" + g["id"].(string), Token: u.Access}).JSON(t)
	if got, _ := st["reference_urls"].([]any); len(got) != 1 || got[0] != "https://example.com/ref.png" {
		t.Fatalf("status reference_urls %v", st["reference_urls"])
	}
}

// A transient error at Replicate is retried, and the stream says so at once: the
// generation stays running, its next attempt is 2, and the reason is a code, never
// Replicate's words.
func TestRetryShowsAttemptAndReason(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "dave")
	p.Fake.Configure(func(c *replicatetest.Config) { c.ThrottleNextCreates = 1 })
	st := p.openEvents(t, "/api/v1/events", http.Header{"Authorization": {"Bearer " + u.Access}})
	id := p.generate(t, u.Access, map[string]any{"prompt": "retried once", "resolution": "1K"})["id"].(string)
	evs := st.until(t, id, "completed")
	var retry map[string]any
	for _, ev := range evs {
		if ev.Data["status"] == "running" && ev.Data["retry_reason"] != nil {
			retry = ev.Data
			break
		}
	}
	if retry == nil {
		t.Fatalf("no event said the generation was retried: %v", evs)
	}
	if retry["attempt"] != float64(2) || retry["retry_reason"] != "replicate_throttled" || retry["retry_at"] == nil {
		t.Fatalf("the retry's event: attempt %v, reason %v, at %v", retry["attempt"], retry["retry_reason"], retry["retry_at"])
	}
	last := evs[len(evs)-1].Data
	if last["attempt"] != float64(2) || last["retry_reason"] != nil || last["error_code"] != nil {
		t.Fatalf("the completed event: attempt %v, reason %v, code %v", last["attempt"], last["retry_reason"], last["error_code"])
	}
}

// A safety failure carries error_code safety_filter, so a page can offer to edit the
// prompt instead of sending it again.
func TestSafetyFailureHasCode(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "erin")
	id := p.generate(t, u.Access, map[string]any{"prompt": "[[E005]] flagged"})["id"].(string)
	g := p.waitStatus(t, u.Access, id, "failed")
	if g["error_code"] != "safety_filter" || g["attempt"] != float64(1) {
		t.Fatalf("a safety failure: code %v, attempt %v", g["error_code"], g["attempt"])
	}
}
