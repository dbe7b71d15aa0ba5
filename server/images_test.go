package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/jobs"
	"nanobanana/replicate"
	"nanobanana/replicate/replicatetest"
	"nanobanana/storage"
)

// globalToken is the REPLICATE_API_TOKEN of pipeline servers.
const globalToken = "r8_global_test_token"

// pipeline is a test server wired like production: the real jobs.Service over the same
// SQLite file, real fs storage, and the fake Replicate over loopback HTTP.
type pipeline struct {
	*testServer
	Fake  *replicatetest.Server
	Store *storage.FS
	Jobs  *jobs.Service
	Queue *recordingQueue
	// jobsAhead moves the workers' clock (jobs.Options.Now) ahead of the real one.
	jobsAhead atomic.Int64
}

// advanceJobs moves the workers' clock d further ahead.
func (p *pipeline) advanceJobs(d time.Duration) { p.jobsAhead.Add(int64(d)) }

// recordingQueue is the real service, with the Wake calls remembered so a test can see
// that a webhook reached the queue.
type recordingQueue struct {
	*jobs.Service
	mu    sync.Mutex
	woken []string
}

func (q *recordingQueue) Wake(id string) {
	q.mu.Lock()
	q.woken = append(q.woken, id)
	q.mu.Unlock()
	q.Service.Wake(id)
}

func (q *recordingQueue) Woken() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.woken...)
}

func newPipeline(t *testing.T, opts ...func(*Options)) *pipeline {
	t.Helper()
	return newPipelineWith(t, nil, opts...)
}

// newPipelineWith is newPipeline with the queue's options changed by jo first.
func newPipelineWith(t *testing.T, jo func(*jobs.Options), opts ...func(*Options)) *pipeline {
	t.Helper()
	fake := replicatetest.New(replicatetest.Options{Config: replicatetest.Config{
		QueueTime: 10 * time.Millisecond, RunTime: 40 * time.Millisecond, SlowRunTime: 3 * time.Second,
	}})
	t.Cleanup(fake.Close)
	store, err := storage.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	client := replicate.New(replicate.Options{BaseURL: fake.URL()})
	pl := &pipeline{Fake: fake, Store: store}
	ts := newTestServer(t, func(o *Options) {
		o.Config.ReplicateAPIToken = globalToken
		sealer := o.Sealer
		d := o.DB
		jopts := jobs.Options{
			DB: d, Replicate: client, Storage: store,
			Token: func(ctx context.Context, userID int64) (string, error) {
				k, err := d.APIKey(ctx, sealer, userID)
				if err != nil || k != "" {
					return k, err
				}
				return o.Config.ReplicateAPIToken, nil
			},
			Now:        func() time.Time { return time.Now().Add(time.Duration(pl.jobsAhead.Load())) },
			MaxWorkers: 3, MaxPerUser: 1,
			PollInterval: 50 * time.Millisecond, PollMin: 20 * time.Millisecond, PollMax: 50 * time.Millisecond,
			Wait: time.Second, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		}
		if jo != nil {
			jo(&jopts)
		}
		svc, err := jobs.New(jopts)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			svc.Stop(ctx)
		})
		pl.Jobs = svc
		pl.Queue = &recordingQueue{Service: svc}
		o.Queue = pl.Queue
		o.Storage = store
		o.Replicate = client
		o.WebhookSecret = fake.WebhookSecret()
		for _, f := range opts {
			f(o)
		}
	})
	pl.testServer = ts
	return pl
}

// generate posts a JSON generate and expects 202.
func (p *pipeline) generate(t *testing.T, tok string, body map[string]any) map[string]any {
	t.Helper()
	r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: tok, Body: body})
	if r.Status != http.StatusAccepted {
		t.Fatalf("generate: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)
}

// waitStatus polls the status endpoint until the generation reaches want (or fails the
// test after a generous deadline; the work itself takes well under a second).
func (p *pipeline) waitStatus(t *testing.T, tok, id, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last map[string]any
	for time.Now().Before(deadline) {
		r := p.do(t, call{Method: "GET", Path: "/api/v1/images/status/" + id, Token: tok})
		if r.Status != http.StatusOK {
			t.Fatalf("status %s: %d %s", id, r.Status, r.Body)
		}
		last = r.JSON(t)
		if last["status"] == want {
			return last
		}
		if want != "failed" && last["status"] == "failed" {
			t.Fatalf("generation %s failed: %v", id, last["error"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("generation %s did not reach %s; last: %v", id, want, last)
	return nil
}

// get fetches a URL (path + query) of the server with an optional token.
func (p *pipeline) get(t *testing.T, path, tok string, h http.Header) reply {
	t.Helper()
	return p.do(t, call{Method: "GET", Path: path, Token: tok, Header: h})
}

// testPNG and testJPEG are small real images.
func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type formFile struct {
	Field, Name, Type string
	Data              []byte
}

// multipartBody builds a multipart/form-data body.
func multipartBody(t testing.TB, values map[string]string, files []formFile) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range values {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+f.Field+`"; filename="`+f.Name+`"`)
		if f.Type != "" {
			h.Set("Content-Type", f.Type)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.Data)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func (p *pipeline) postMultipart(t *testing.T, path, tok string, values map[string]string, files []formFile) reply {
	t.Helper()
	ct, body := multipartBody(t, values, files)
	return p.do(t, call{Method: "POST", Path: path, Token: tok, Body: body, Header: http.Header{"Content-Type": {ct}}})
}

// expiredToken is an access token for s that expired an hour ago.
func expiredToken(t *testing.T, ts *testServer, userID int64) string {
	t.Helper()
	u, err := ts.DB.UserByID(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	past := func() time.Time { return time.Now().Add(-5 * time.Hour) }
	tk := newTokens(ts.Cfg.SecretKey, ts.Cfg.Algorithm, time.Hour, past)
	raw, _, err := tk.issue(userID, u.TokenVersion, "")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// multipartHeader gives a raw multipart body its Content-Type (do sends []byte bodies as JSON).
func multipartHeader(body any, ct string) http.Header {
	if _, raw := body.([]byte); raw {
		return http.Header{"Content-Type": {ct}}
	}
	return nil
}

func TestImageEndpointsRefuseStrangers(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	alice := p.register(t, "alice")
	bob := p.register(t, "bob")
	g := p.generate(t, alice.Access, map[string]any{"prompt": "a lighthouse", "resolution": "1K"})
	id := g["image_id"].(string)
	p.waitStatus(t, alice.Access, id, "completed")

	tampered := alice.Access[:len(alice.Access)-3] + "abc"
	if tampered == alice.Access {
		tampered = alice.Access[:len(alice.Access)-3] + "xyz"
	}
	expired := expiredToken(t, p.testServer, alice.ID)
	up := p.postMultipart(t, "/api/v1/images/uploads", alice.Access, nil, []formFile{{Field: "images", Name: "ref.png", Type: "image/png", Data: testPNG(t, 32, 32)}})
	if up.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", up.Status, up.Body)
	}
	uploadID := up.JSON(t)["uploads"].([]any)[0].(map[string]any)["id"].(string)
	ct, uploadBody := multipartBody(t, nil, []formFile{{Field: "images", Name: "x.png", Type: "image/png", Data: testPNG(t, 8, 8)}})

	endpoints := []struct {
		method, path string
		body         any
		ownerOnly    bool // another user's token gets 404 (the id is not theirs)
	}{
		{"GET", "/api/v1/images/status/" + id, nil, true},
		{"GET", "/api/v1/images/" + id, nil, true}, // the original's read, served by the fallback
		{"GET", "/api/v1/images/file/" + id, nil, true},
		{"GET", "/api/v1/images/thumbnail/" + id, nil, true},
		{"POST", "/api/v1/images/cancel/" + id, nil, true},
		{"POST", "/api/v1/images/retry/" + id, nil, true},
		{"DELETE", "/api/v1/images/" + id, nil, true},
		{"GET", "/api/v1/images/list", nil, false},
		{"POST", "/api/v1/images/generate", map[string]any{"prompt": "x"}, false},
		{"GET", "/api/v1/events", nil, false},
		{"GET", "/api/v1/images/uploads/file/" + uploadID, nil, true},
		{"POST", "/api/v1/images/uploads", uploadBody, false},
	}
	for _, e := range endpoints {
		for _, c := range []struct {
			name, token string
		}{{"no token", ""}, {"tampered", tampered}, {"expired", expired}} {
			r := p.do(t, call{Method: e.method, Path: e.path, Token: c.token, Body: e.body, Header: multipartHeader(e.body, ct)})
			if r.Status != http.StatusUnauthorized {
				t.Errorf("%s %s with %s: %d %s, want 401", e.method, e.path, c.name, r.Status, r.Body)
			}
		}
		if e.ownerOnly {
			r := p.do(t, call{Method: e.method, Path: e.path, Token: bob.Access, Body: e.body, Header: multipartHeader(e.body, ct)})
			if r.Status != http.StatusNotFound {
				t.Errorf("%s %s with another user's token: %d %s, want 404", e.method, e.path, r.Status, r.Body)
			}
		}
	}
	// A missing id answers exactly like another user's.
	missing := p.get(t, "/api/v1/images/status/"+strings.Repeat("ab", 16), bob.Access, nil)
	other := p.get(t, "/api/v1/images/status/"+id, bob.Access, nil)
	if missing.Status != 404 || other.Status != 404 ||
		strings.ReplaceAll(other.Detail(t), id, "X") != strings.ReplaceAll(missing.Detail(t), strings.Repeat("ab", 16), "X") {
		t.Errorf("another user's id and a missing id differ: %d %q vs %d %q", other.Status, other.Detail(t), missing.Status, missing.Detail(t))
	}
	// Bob's list does not show Alice's generation.
	if items := p.get(t, "/api/v1/images/list", bob.Access, nil).JSON(t)["items"].([]any); len(items) != 0 {
		t.Errorf("bob sees %d generations, want 0", len(items))
	}
	// The generation is untouched by all of that.
	p.waitStatus(t, alice.Access, id, "completed")
}

func TestGenerateValidation(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "val")
	long := strings.Repeat("é", maxPromptChars+1)
	fifteen := make([]string, 15)
	for i := range fifteen {
		fifteen[i] = strings.Repeat(strconv.FormatInt(int64(i%16), 16), 32)
	}
	cases := []struct {
		name      string
		body      any
		status    int
		field     string
		mentioned []string // words the detail or the field message must contain
	}{
		{"bad resolution", map[string]any{"prompt": "x", "resolution": "8K"}, 422, "resolution", []string{"1K", "2K", "4K"}},
		{"bad aspect", map[string]any{"prompt": "x", "aspect_ratio": "7:3"}, 422, "aspect_ratio", []string{"16:9", "21:9", "match_input_image"}},
		{"bad format", map[string]any{"prompt": "x", "output_format": "gif"}, 422, "output_format", []string{"jpg", "png"}},
		{"bad safety", map[string]any{"prompt": "x", "safety_filter_level": "none"}, 422, "safety_filter_level", []string{"block_only_high"}},
		{"bad mode", map[string]any{"prompt": "x", "generation_mode": "video"}, 422, "generation_mode", []string{"text-to-image", "image-to-image"}},
		{"no prompt", map[string]any{"resolution": "1K"}, 422, "prompt", []string{"required"}},
		{"empty prompt", map[string]any{"prompt": "   "}, 422, "prompt", []string{"empty"}},
		{"long prompt", map[string]any{"prompt": long}, 422, "prompt", []string{"5000"}},
		{"i2i without references", map[string]any{"prompt": "x", "generation_mode": "image-to-image"}, 422, "reference_image_ids", []string{"1 to 14"}},
		{"15 references", map[string]any{"prompt": "x", "generation_mode": "image-to-image", "reference_image_ids": fifteen}, 422, "reference_image_ids", []string{"14"}},
		{"unknown reference", map[string]any{"prompt": "x", "generation_mode": "image-to-image", "reference_image_ids": []string{strings.Repeat("0", 32)}}, 422, "reference_image_ids", []string{"not yours"}},
		{"malformed reference", map[string]any{"prompt": "x", "reference_image_ids": []string{"../etc"}}, 422, "reference_image_ids", []string{"upload ids"}},
		{"prompt not a string", map[string]any{"prompt": 5}, 422, "prompt", nil},
		{"not JSON", "{prompt", 400, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: u.Access, Body: c.body})
			if r.Status != c.status {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, c.status)
			}
			if c.field == "" {
				return
			}
			m := r.JSON(t)
			fields, _ := m["fields"].([]any)
			var msg string
			for _, f := range fields {
				fm := f.(map[string]any)
				if fm["field"] == c.field {
					msg = fm["message"].(string)
				}
			}
			if msg == "" {
				t.Fatalf("fields do not name %s: %s", c.field, r.Body)
			}
			for _, w := range c.mentioned {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not mention %q", msg, w)
				}
			}
		})
	}
	// Nothing was queued by any of them.
	if items := p.get(t, "/api/v1/images/list", u.Access, nil).JSON(t)["items"].([]any); len(items) != 0 {
		t.Errorf("%d generations were created by invalid requests", len(items))
	}
	if n := p.Fake.Stats().Created; n != 0 {
		t.Errorf("fake saw %d creates", n)
	}
}

func TestGenerateWithoutAnyKey(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, func(o *Options) { o.Config.ReplicateAPIToken = "" })
	u := p.register(t, "nokey")
	r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: u.Access, Body: map[string]any{"prompt": "x"}})
	if r.Status != 400 || r.Detail(t) != noKeyMessage {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	// With the user's own key it goes through.
	if err := p.DB.SetAPIKey(context.Background(), p.Server.sealer, u.ID, "r8_users_own_key", true); err != nil {
		t.Fatal(err)
	}
	g := p.generate(t, u.Access, map[string]any{"prompt": "x", "resolution": "1K"})
	p.waitStatus(t, u.Access, g["id"].(string), "completed")
	if n := p.Fake.Stats().CreatedByToken["r8_users_own_key"]; n != 1 {
		t.Errorf("the user's key made %d predictions, want 1", n)
	}
}

func TestGenerationCompletesAndServesFiles(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "gallery")
	g := p.generate(t, u.Access, map[string]any{"prompt": "a beautiful landscape", "resolution": "1K", "aspect_ratio": "16:9", "generation_mode": "text-to-image"})
	if g["status"] != "pending" || g["image_id"] != g["id"] || g["queue_position"] == nil {
		t.Fatalf("202 answer: %v", g)
	}
	if g["resolution"] != "1K" || g["aspect_ratio"] != "16:9" || g["output_format"] != "jpg" || g["safety_filter_level"] != "block_only_high" {
		t.Errorf("defaults/echo wrong: %v", g)
	}
	id := g["id"].(string)
	done := p.waitStatus(t, u.Access, id, "completed")
	for _, k := range []string{"created_at", "started_at", "completed_at"} {
		if _, err := time.Parse(time.RFC3339, done[k].(string)); err != nil {
			t.Errorf("%s = %v: %v", k, done[k], err)
		}
	}
	if _, ok := done["queue_position"]; ok {
		t.Errorf("completed generation has a queue_position")
	}
	if done["price_usd"].(float64) != p.Cfg.Prices.P1K {
		t.Errorf("price_usd %v", done["price_usd"])
	}
	width, height := int(done["width"].(float64)), int(done["height"].(float64))
	if width <= height || width == 0 {
		t.Errorf("16:9 image is %dx%d", width, height)
	}
	imageURL, thumbURL := done["image_url"].(string), done["thumbnail_url"].(string)
	if !strings.HasPrefix(imageURL, "/api/v1/images/file/"+id+"?") || !strings.Contains(imageURL, "sig=") {
		t.Errorf("image_url %q is not this server's signed URL", imageURL)
	}

	// With the bearer token.
	r := p.get(t, "/api/v1/images/file/"+id, u.Access, nil)
	if r.Status != 200 {
		t.Fatalf("file: %d %s", r.Status, r.Body)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(r.Body))
	if err != nil || format != "jpeg" || cfg.Width != width || cfg.Height != height {
		t.Errorf("file decodes as %s %dx%d (%v), want jpeg %dx%d", format, cfg.Width, cfg.Height, err, width, height)
	}
	if int64(len(r.Body)) != int64(done["bytes"].(float64)) {
		t.Errorf("file has %d bytes, status says %v", len(r.Body), done["bytes"])
	}
	h := r.Header
	if h.Get("Content-Type") != "image/jpeg" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(h.Get("Cache-Control"), "private, max-age=") ||
		h.Get("Content-Disposition") != `inline; filename="nanobanana-`+id+`.jpg"` {
		t.Errorf("file headers: %v", h)
	}
	// With the signed URL and no token, as an <img> would.
	r2 := p.get(t, imageURL, "", nil)
	if r2.Status != 200 || !bytes.Equal(r2.Body, r.Body) {
		t.Errorf("signed image URL: %d (%d bytes)", r2.Status, len(r2.Body))
	}
	th := p.get(t, thumbURL, "", nil)
	if th.Status != 200 {
		t.Fatalf("thumbnail: %d %s", th.Status, th.Body)
	}
	tc, tf, err := image.DecodeConfig(bytes.NewReader(th.Body))
	if err != nil || tf != "jpeg" || max(tc.Width, tc.Height) > 384 || tc.Width <= tc.Height {
		t.Errorf("thumbnail decodes as %s %dx%d (%v)", tf, tc.Width, tc.Height, err)
	}
	// Range, and a download: the stored bytes serve ranges; a download carries the
	// recipe (share_test.go), written as it is sent, so it is whole and offers none.
	rg := p.get(t, "/api/v1/images/file/"+id, u.Access, http.Header{"Range": {"bytes=0-9"}})
	if rg.Status != http.StatusPartialContent || !bytes.Equal(rg.Body, r.Body[:10]) {
		t.Errorf("range: %d %q %v", rg.Status, rg.Body, rg.Header)
	}
	dl := p.get(t, "/api/v1/images/file/"+id+"?download=1", u.Access, http.Header{"Range": {"bytes=0-9"}})
	if dl.Status != http.StatusOK || len(dl.Body) <= len(r.Body) || dl.Header.Get("Accept-Ranges") != "none" ||
		!strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("download: %d, %d bytes (stored %d), %v", dl.Status, len(dl.Body), len(r.Body), dl.Header)
	}
	hd := p.do(t, call{Method: "HEAD", Path: imageURL})
	if hd.Status != 200 || len(hd.Body) != 0 || hd.Header.Get("Content-Length") != strconv.Itoa(len(r.Body)) {
		t.Errorf("HEAD: %d, %d body bytes, Content-Length %q", hd.Status, len(hd.Body), hd.Header.Get("Content-Length"))
	}
	// Conditional request.
	if lm := h.Get("Last-Modified"); lm != "" {
		nm := p.get(t, "/api/v1/images/file/"+id, u.Access, http.Header{"If-Modified-Since": {lm}})
		if nm.Status != http.StatusNotModified {
			t.Errorf("If-Modified-Since: %d", nm.Status)
		}
	}

	// A signature for the thumbnail does not open the image; a changed one fails; an
	// expired (validly signed) one fails.
	sigOf := func(u string) string { return u[strings.Index(u, "?"):] }
	bad := []string{
		"/api/v1/images/file/" + id + sigOf(thumbURL),
		strings.Replace(imageURL, "sig=", "sig=A", 1),
		strings.Replace(imageURL, "u="+strconv.FormatInt(u.ID, 10), "u="+strconv.FormatInt(u.ID+1, 10), 1),
	}
	past := time.Now().Add(-time.Minute).Unix()
	bad = append(bad, "/api/v1/images/file/"+id+"?u="+strconv.FormatInt(u.ID, 10)+"&exp="+strconv.FormatInt(past, 10)+
		"&sig="+b64(p.Server.fileSig(kindImage, id, u.ID, past)))
	for _, b := range bad {
		if r := p.get(t, b, "", nil); r.Status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", b, r.Status)
		}
	}
}

func TestListPaginationAndFilter(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "lister")
	var ids []string
	// Creation times are in milliseconds; the pause keeps "newest first" unambiguous
	// (ties are ordered by the random id).
	for i := range 3 {
		time.Sleep(3 * time.Millisecond)
		g := p.generate(t, u.Access, map[string]any{"prompt": "ok " + strconv.Itoa(i), "resolution": "1K"})
		ids = append(ids, g["id"].(string))
	}
	for i := range 2 {
		time.Sleep(3 * time.Millisecond)
		g := p.generate(t, u.Access, map[string]any{"prompt": "[[E005]] refused " + strconv.Itoa(i), "resolution": "1K"})
		ids = append(ids, g["id"].(string))
	}
	for i, id := range ids {
		want := "completed"
		if i >= 3 {
			want = "failed"
		}
		p.waitStatus(t, u.Access, id, want)
	}
	// Newest first, two at a time.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		path := "/api/v1/images/list?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		m := p.get(t, path, u.Access, nil).JSON(t)
		for _, it := range m["items"].([]any) {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	if len(seen) != 5 {
		t.Fatalf("listed %v", seen)
	}
	for i := range seen {
		if seen[i] != ids[len(ids)-1-i] {
			t.Fatalf("order %v, want newest first of %v", seen, ids)
		}
	}
	for status, n := range map[string]int{"completed": 3, "failed": 2, "pending": 0} {
		m := p.get(t, "/api/v1/images/list?status="+status, u.Access, nil).JSON(t)
		items := m["items"].([]any)
		if len(items) != n {
			t.Errorf("status=%s: %d items, want %d", status, len(items), n)
		}
		for _, it := range items {
			if it.(map[string]any)["status"] != status {
				t.Errorf("status=%s listed %v", status, it)
			}
		}
	}
	failed := p.get(t, "/api/v1/images/list?status=failed&limit=1", u.Access, nil).JSON(t)
	if e, _ := failed["items"].([]any)[0].(map[string]any)["error"].(string); e == "" {
		t.Errorf("a failed generation carries no error sentence")
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "status=done", "cursor=bm9wZQ"} {
		r := p.get(t, "/api/v1/images/list?"+q, u.Access, nil)
		if r.Status != 422 || r.JSON(t)["fields"] == nil {
			t.Errorf("%s: %d %s, want 422 with fields", q, r.Status, r.Body)
		}
	}
}

func TestDeleteRemovesFiles(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "deleter")
	id := p.generate(t, u.Access, map[string]any{"prompt": "to delete", "resolution": "1K"})["id"].(string)
	done := p.waitStatus(t, u.Access, id, "completed")
	g, err := p.DB.GetGeneration(context.Background(), u.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{g.ImageKey, g.ThumbKey} {
		if _, err := p.Store.Stat(context.Background(), k); err != nil {
			t.Fatalf("stored file %s: %v", k, err)
		}
	}
	if r := p.do(t, call{Method: "DELETE", Path: "/api/v1/images/" + id, Token: u.Access}); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	for _, k := range []string{g.ImageKey, g.ThumbKey} {
		if _, err := p.Store.Stat(context.Background(), k); err == nil {
			t.Errorf("file %s still stored after delete", k)
		}
	}
	for _, path := range []string{"/api/v1/images/status/" + id, "/api/v1/images/file/" + id, done["image_url"].(string)} {
		if r := p.get(t, path, u.Access, nil); r.Status != 404 {
			t.Errorf("%s after delete: %d", path, r.Status)
		}
	}
	if r := p.do(t, call{Method: "DELETE", Path: "/api/v1/images/" + id, Token: u.Access}); r.Status != 404 {
		t.Errorf("second delete: %d", r.Status)
	}
}

func TestCancelAndRetry(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "canceler")
	// MaxPerUser is 1: the slow one runs, the next one waits.
	slow := p.generate(t, u.Access, map[string]any{"prompt": "[[slow]] long one", "resolution": "1K"})["id"].(string)
	p.waitStatus(t, u.Access, slow, "running")
	queued := p.generate(t, u.Access, map[string]any{"prompt": "waiting", "resolution": "1K"})
	qid := queued["id"].(string)
	if queued["queue_position"].(float64) < 1 {
		t.Errorf("queue_position %v", queued["queue_position"])
	}
	r := p.do(t, call{Method: "POST", Path: "/api/v1/images/cancel/" + qid, Token: u.Access})
	if r.Status != 200 || r.JSON(t)["status"] != "canceled" {
		t.Fatalf("cancel pending: %d %s", r.Status, r.Body)
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/images/cancel/" + qid, Token: u.Access}); r.Status != 409 || r.Code(t) != db.CodeAlreadyFinished {
		t.Errorf("second cancel: %d %s", r.Status, r.Body)
	}
	// Canceling the running one cancels it at Replicate too.
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/images/cancel/" + slow, Token: u.Access}); r.Status != 200 {
		t.Fatalf("cancel running: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Fake.Stats().Canceled == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.Fake.Stats().Canceled == 0 {
		t.Errorf("the running prediction was not canceled at Replicate")
	}
	// The canceled pending one can run again, and does.
	r = p.do(t, call{Method: "POST", Path: "/api/v1/images/retry/" + qid, Token: u.Access})
	if r.Status != 202 || r.JSON(t)["status"] != "pending" {
		t.Fatalf("retry canceled: %d %s", r.Status, r.Body)
	}
	p.waitStatus(t, u.Access, qid, "completed")
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/images/retry/" + qid, Token: u.Access}); r.Status != 409 || r.Code(t) != db.CodeNotRetryable {
		t.Errorf("retry of a completed one: %d %s", r.Status, r.Body)
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/images/cancel/" + qid, Token: u.Access}); r.Status != 409 || r.Code(t) != db.CodeAlreadyFinished {
		t.Errorf("cancel of a completed one: %d %s", r.Status, r.Body)
	}
}

func TestRetryFailed(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "retrier")
	// The user's key is refused by Replicate: the generation fails at once.
	if err := p.DB.SetAPIKey(context.Background(), p.Server.sealer, u.ID, "r8_revoked", true); err != nil {
		t.Fatal(err)
	}
	p.Fake.Configure(func(c *replicatetest.Config) { c.RejectedTokens = []string{"r8_revoked"} })
	id := p.generate(t, u.Access, map[string]any{"prompt": "a cat", "resolution": "1K"})["id"].(string)
	failed := p.waitStatus(t, u.Access, id, "failed")
	if e, _ := failed["error"].(string); !strings.Contains(strings.ToLower(e), "key") {
		t.Errorf("error sentence %q does not point at the key", e)
	}
	// The user fixes the key, then retries with the same settings.
	if err := p.DB.SetAPIKey(context.Background(), p.Server.sealer, u.ID, "r8_fixed", true); err != nil {
		t.Fatal(err)
	}
	r := p.do(t, call{Method: "POST", Path: "/api/v1/images/retry/" + id, Token: u.Access})
	if r.Status != 202 {
		t.Fatalf("retry: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["id"] != id || m["prompt"] != "a cat" || m["resolution"] != "1K" || m["error"] != nil {
		t.Errorf("retried generation: %v", m)
	}
	p.waitStatus(t, u.Access, id, "completed")
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// BenchmarkGenerateHTTP measures the durable enqueue over HTTP (authenticate, validate,
// one write transaction, answer): the queue's workers are not started, so only the
// request path is timed. Loader and server share the machine.
func BenchmarkGenerateHTTP(b *testing.B) {
	fake := replicatetest.New(replicatetest.Options{})
	b.Cleanup(fake.Close)
	store, err := storage.NewFS(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ts := newTestServer(b, func(o *Options) {
		o.Config.ReplicateAPIToken = globalToken
		svc, err := jobs.New(jobs.Options{DB: o.DB, Replicate: replicate.New(replicate.Options{BaseURL: fake.URL()}),
			Storage: store, Token: func(context.Context, int64) (string, error) { return globalToken, nil }})
		if err != nil {
			b.Fatal(err)
		}
		o.Queue, o.Storage = svc, store
	})
	u := ts.register(b, "bench")
	body := []byte(`{"prompt":"a beautiful landscape","resolution":"1K","aspect_ratio":"16:9","generation_mode":"text-to-image"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", ts.URL+"/api/v1/images/generate", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+u.Access)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Fatalf("generate: %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// With PUBLIC_URL set, image links are absolute, so a script can fetch them as they are.
func TestImageURLsAbsoluteWithPublicURL(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, func(o *Options) { o.Config.PublicURL = "https://images.example.org" })
	u := p.register(t, "public")
	g := p.generate(t, u.Access, map[string]any{"prompt": "absolute links", "resolution": "1K"})
	done := p.waitStatus(t, u.Access, g["id"].(string), "completed")
	for _, k := range []string{"image_url", "thumbnail_url"} {
		link, _ := done[k].(string)
		if !strings.HasPrefix(link, "https://images.example.org/api/v1/images/") {
			t.Fatalf("%s = %q; want an absolute link under PUBLIC_URL", k, link)
		}
		// The path and query work on this server.
		path := strings.TrimPrefix(link, "https://images.example.org")
		if r := p.get(t, path, "", nil); r.Status != 200 {
			t.Fatalf("%s: %d", k, r.Status)
		}
	}
}
