package replicate_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	_ "image/jpeg"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"nanobanana/replicate"
	"nanobanana/replicate/replicatetest"
)

const tok = "r8_test_token"

func newFake(t *testing.T, o replicatetest.Options) (*replicatetest.Server, *replicate.Client) {
	t.Helper()
	s := replicatetest.New(o)
	t.Cleanup(s.Close)
	return s, replicate.New(replicate.Options{BaseURL: s.URL()})
}

// eventually polls cond; the deadline only guards against a hang.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func poll(t *testing.T, c *replicate.Client, id string) *replicate.Prediction {
	t.Helper()
	var p *replicate.Prediction
	eventually(t, "prediction "+id+" ends", func() bool {
		var err error
		p, err = c.Get(context.Background(), tok, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.Terminal()
	})
	return p
}

func download(t *testing.T, c *replicate.Client, url string) ([]byte, string) {
	t.Helper()
	rc, ctype, err := c.Download(context.Background(), tok, url, 64<<20)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b, ctype
}

func TestCreatePollDownload(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{})
	ctx := context.Background()
	p, err := c.Create(ctx, tok, replicate.Input{Prompt: "a banana", Resolution: "1K"}, replicate.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || p.Status != replicate.StatusStarting || p.OutputURL() != "" {
		t.Fatalf("fresh prediction: %+v", p)
	}
	p = poll(t, c, p.ID)
	if p.Status != replicate.StatusSucceeded || p.Metrics.PredictTime <= 0 || p.StartedAt.IsZero() || p.CompletedAt.IsZero() {
		t.Fatalf("finished prediction: %+v", p)
	}
	url := p.OutputURL()
	if !strings.HasSuffix(url, ".jpeg") {
		t.Fatalf("jpg output should come back as .jpeg like the real service: %s", url)
	}
	b, ctype := download(t, c, url)
	if ctype != "image/jpeg" {
		t.Fatalf("content type %q", ctype)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || format != "jpeg" || cfg.Width != 1024 || cfg.Height != 1024 {
		t.Fatalf("decoded %s %dx%d, %v", format, cfg.Width, cfg.Height, err)
	}
	st := s.Stats()
	if st.Created != 1 || st.CreatedByToken[tok] != 1 || st.Charged != 1 || st.Succeeded != 1 || st.Downloads != 1 || st.Active != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestImageSizes(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true})
	// A 300x200 PNG as a data: URL drives match_input_image to 3:2.
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 300, 200))); err != nil {
		t.Fatal(err)
	}
	dataURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBuf.Bytes())
	cases := []struct {
		in         replicate.Input
		w, h       int
		format     string
		extension  string
		contentTyp string
	}{
		{replicate.Input{AspectRatio: "16:9", Resolution: "1K", OutputFormat: "png"}, 1024, 576, "png", ".png", "image/png"},
		{replicate.Input{AspectRatio: "9:16", Resolution: "1K", OutputFormat: "jpg"}, 576, 1024, "jpeg", ".jpeg", "image/jpeg"},
		{replicate.Input{AspectRatio: "4:5", Resolution: "2K", OutputFormat: "png"}, 1638, 2048, "png", ".png", "image/png"},
		{replicate.Input{AspectRatio: "21:9", Resolution: "2K"}, 2048, 878, "jpeg", ".jpeg", "image/jpeg"},
		{replicate.Input{Resolution: "1K", OutputFormat: "png"}, 1024, 1024, "png", ".png", "image/png"},
		{replicate.Input{Resolution: "1K", OutputFormat: "png", ImageInput: []string{dataURL}}, 1024, 683, "png", ".png", "image/png"},
	}
	for _, tc := range cases {
		tc.in.Prompt = "sizes"
		p, err := c.Create(context.Background(), tok, tc.in, replicate.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Advance(time.Second)
		p, err = c.Get(context.Background(), tok, p.ID)
		if err != nil || p.Status != replicate.StatusSucceeded {
			t.Fatalf("%+v: %v %v", tc.in, p.Status, err)
		}
		if !strings.HasSuffix(p.OutputURL(), tc.extension) {
			t.Errorf("%+v: url %s", tc.in, p.OutputURL())
		}
		b, ctype := download(t, c, p.OutputURL())
		cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || format != tc.format || ctype != tc.contentTyp || cfg.Width != tc.w || cfg.Height != tc.h {
			t.Errorf("%s %s %+v: got %s %q %dx%d (%v), want %dx%d", tc.in.AspectRatio, tc.in.Resolution, tc.in.OutputFormat, format, ctype, cfg.Width, cfg.Height, err, tc.w, tc.h)
		}
	}
	// A full decode proves the bytes are a real picture, not just a header.
	p, _ := c.Create(context.Background(), tok, replicate.Input{Prompt: "x", Resolution: "1K", OutputFormat: "png", AspectRatio: "3:2"}, replicate.CreateOptions{})
	s.Advance(time.Second)
	p, _ = c.Get(context.Background(), tok, p.ID)
	b, _ := download(t, c, p.OutputURL())
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() != 1024 || img.Bounds().Dy() != 683 {
		t.Fatalf("decode: %v", err)
	}
	if img.At(0, 100) == img.At(1000, 600) {
		t.Fatal("image is one flat colour")
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{
		ManualClock: true,
		Config:      replicatetest.Config{RejectedTokens: []string{"r8_revoked"}, NoCreditTokens: []string{"r8_broke"}, RetryAfterSeconds: 7},
	})
	ctx := context.Background()
	in := replicate.Input{Prompt: "p"}
	apiErr := func(t *testing.T, err error, status int) *replicate.Error {
		t.Helper()
		var ae *replicate.Error
		if !errors.As(err, &ae) || ae.StatusCode != status {
			t.Fatalf("want HTTP %d, got %v", status, err)
		}
		if strings.Contains(err.Error(), "r8_") || strings.Contains(replicate.UserMessage(err), "r8_") {
			t.Fatalf("token leaked into %q", err)
		}
		return ae
	}

	t.Run("401 rejected and missing token", func(t *testing.T) {
		_, err := c.Account(ctx, "r8_revoked")
		ae := apiErr(t, err, 401)
		if ae.Detail != "You did not pass a valid authentication token" || !replicate.IsPermanent(err) || replicate.IsTransient(err) {
			t.Fatalf("%+v", ae)
		}
		if replicate.UserMessage(err) != "Replicate rejected the API key: update it in Settings." {
			t.Fatal(replicate.UserMessage(err))
		}
		_, err = c.Get(ctx, "", "abc")
		apiErr(t, err, 401)
	})
	t.Run("402 no credit", func(t *testing.T) {
		_, err := c.Create(ctx, "r8_broke", in, replicate.CreateOptions{})
		ae := apiErr(t, err, 402)
		if !strings.HasPrefix(ae.Detail, "You have insufficient credit to run this model") || !replicate.IsPermanent(err) {
			t.Fatalf("%+v", ae)
		}
	})
	t.Run("404 unknown prediction and model", func(t *testing.T) {
		_, err := c.Get(ctx, tok, "doesnotexist")
		apiErr(t, err, 404)
		other := replicate.New(replicate.Options{BaseURL: s.URL(), Model: "google/imagen-4"})
		_, err = other.Create(ctx, tok, in, replicate.CreateOptions{})
		if ae := apiErr(t, err, 404); ae.Detail != "Model not found" || !replicate.IsPermanent(err) {
			t.Fatalf("%+v", ae)
		}
	})
	t.Run("422 names the invalid fields", func(t *testing.T) {
		many := make([]string, 15)
		for i := range many {
			many[i] = "https://example.invalid/" + string(rune('a'+i)) + ".png"
		}
		_, err := c.Create(ctx, tok, replicate.Input{OutputFormat: "webp", ImageInput: many}, replicate.CreateOptions{})
		ae := apiErr(t, err, 422)
		got := map[string]string{}
		for _, f := range ae.InvalidFields {
			got[f.Field] = f.Type
		}
		if got["input.prompt"] != "required" || got["input.output_format"] != "enum" || got["input.image_input"] != "max_items" {
			t.Fatalf("invalid_fields %+v", ae.InvalidFields)
		}
		msg := replicate.UserMessage(err)
		if !strings.Contains(msg, "output_format") || !strings.Contains(msg, "prompt") {
			t.Fatalf("message %q", msg)
		}
		_, err = c.Create(ctx, tok, replicate.Input{Prompt: "x", ImageInput: []string{"ftp://x/y.png"}, AspectRatio: "7:3"}, replicate.CreateOptions{})
		ae = apiErr(t, err, 422)
		if len(ae.InvalidFields) != 2 {
			t.Fatalf("%+v", ae.InvalidFields)
		}
	})
	t.Run("429 with and without Retry-After", func(t *testing.T) {
		s.Configure(func(c *replicatetest.Config) { c.ThrottleNextCreates = 2 })
		_, err := c.Create(ctx, tok, in, replicate.CreateOptions{})
		ae := apiErr(t, err, 429)
		if ae.RetryAfter != 7*time.Second || !replicate.IsTransient(err) || replicate.IsPermanent(err) {
			t.Fatalf("%+v", ae)
		}
		s.Configure(func(c *replicatetest.Config) { c.OmitRetryAfter = true })
		_, err = c.Create(ctx, tok, in, replicate.CreateOptions{})
		if ae := apiErr(t, err, 429); ae.RetryAfter != 7*time.Second {
			t.Fatalf("detail should carry the wait: %+v", ae)
		}
		if s.Stats().Created != 0 {
			t.Fatal("a throttled create must create nothing")
		}
	})
	t.Run("5xx", func(t *testing.T) {
		s.Configure(func(c *replicatetest.Config) { c.UnavailableNextCreates = 1 })
		_, err := c.Create(ctx, tok, in, replicate.CreateOptions{})
		apiErr(t, err, 503)
		if !replicate.IsTransient(err) || !strings.Contains(replicate.UserMessage(err), "temporary") {
			t.Fatal(replicate.UserMessage(err))
		}
		s.Configure(func(c *replicatetest.Config) { c.Rate5xx = 1 })
		seen := map[int]bool{}
		for range 30 {
			_, err := c.Account(ctx, tok)
			var ae *replicate.Error
			if !errors.As(err, &ae) || !replicate.IsTransient(err) {
				t.Fatalf("want a transient 5xx, got %v", err)
			}
			seen[ae.StatusCode] = true
		}
		if !seen[502] {
			t.Fatalf("never saw the HTML 502: %v", seen)
		}
		s.Configure(func(c *replicatetest.Config) { c.Rate5xx = 0 })
	})
	t.Run("lost response still created the prediction", func(t *testing.T) {
		s.Configure(func(c *replicatetest.Config) { c.LoseNextCreates = 1 })
		before := s.Stats().Created
		_, err := c.Create(ctx, tok, replicate.Input{Prompt: "lost one"}, replicate.CreateOptions{})
		var ne *replicate.NetworkError
		if !errors.As(err, &ne) || !replicate.IsTransient(err) {
			t.Fatalf("want a network error, got %v", err)
		}
		if s.Stats().Created != before+1 {
			t.Fatal("the prediction should exist")
		}
		preds, _, err := c.List(ctx, tok, "")
		if err != nil || len(preds) == 0 {
			t.Fatalf("list: %v %v", preds, err)
		}
		// The list does not carry inputs (as the API reference shows); Get does.
		full, err := c.Get(ctx, tok, preds[0].ID)
		if err != nil || !strings.Contains(string(full.Input), "lost one") {
			t.Fatalf("newest listed prediction should be the lost one: %v %v", full, err)
		}
	})
	t.Run("network error when nothing listens", func(t *testing.T) {
		dead := replicatetest.New(replicatetest.Options{})
		u := dead.URL()
		dead.Close()
		_, err := replicate.New(replicate.Options{BaseURL: u}).Account(ctx, tok)
		var ne *replicate.NetworkError
		if !errors.As(err, &ne) || !replicate.IsTransient(err) {
			t.Fatalf("%v", err)
		}
	})
}

func TestPredictionFailures(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true})
	ctx := context.Background()
	cases := []struct {
		marker               string
		transient, permanent bool
		code                 string
	}{
		{"[[E005]]", false, true, "E005"},
		{"[[E6716]]", true, false, "E6716"},
		{"[[PA]]", true, false, "PA"},
		{"[[fail]]", false, false, ""},
	}
	for _, tc := range cases {
		p, err := c.Create(ctx, tok, replicate.Input{Prompt: "cat " + tc.marker}, replicate.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Advance(time.Second)
		p, _ = c.Get(ctx, tok, p.ID)
		err = replicate.PredictionError(p)
		var pf *replicate.PredictionFailure
		if p.Status != replicate.StatusFailed || !errors.As(err, &pf) || pf.Code() != tc.code ||
			replicate.IsTransient(err) != tc.transient || replicate.IsPermanent(err) != tc.permanent || p.OutputURL() != "" {
			t.Errorf("%s: status %s error %q", tc.marker, p.Status, p.Error)
		}
	}
	p, _ := c.Create(ctx, tok, replicate.Input{Prompt: "[[E005]]"}, replicate.CreateOptions{})
	s.Advance(time.Second)
	p, _ = c.Get(ctx, tok, p.ID)
	want := "The prompt or image was flagged as sensitive by the safety filter (E005); change the prompt or lower the safety level."
	if got := replicate.UserMessage(replicate.PredictionError(p)); got != want {
		t.Fatalf("user message %q", got)
	}
}

func TestPreferWait(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true, Config: replicatetest.Config{QueueTime: time.Second, RunTime: 3 * time.Second}})
	ctx := context.Background()
	type result struct {
		p   *replicate.Prediction
		err error
	}
	start := func(wait time.Duration) <-chan result {
		ch := make(chan result, 1)
		n := s.Stats().Created
		go func() {
			p, err := c.Create(ctx, tok, replicate.Input{Prompt: "wait"}, replicate.CreateOptions{Wait: wait})
			ch <- result{p, err}
		}()
		eventually(t, "create reaches the fake", func() bool { return s.Stats().Created == n+1 })
		return ch
	}
	// Held until it ends: the answer is the finished prediction.
	ch := start(60 * time.Second)
	s.Advance(2 * time.Second)
	select {
	case r := <-ch:
		t.Fatalf("answered while still running: %+v %v", r.p, r.err)
	default:
	}
	s.Advance(2 * time.Second)
	r := <-ch
	if r.err != nil || r.p.Status != replicate.StatusSucceeded || r.p.OutputURL() == "" {
		t.Fatalf("%+v %v", r.p, r.err)
	}
	// Held only N seconds: the answer is the unfinished prediction.
	ch = start(2 * time.Second)
	s.Advance(2 * time.Second)
	r = <-ch
	if r.err != nil || r.p.Status != replicate.StatusProcessing {
		t.Fatalf("want processing after the wait ran out: %+v %v", r.p, r.err)
	}
}

func TestCancelAfter(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true, Config: replicatetest.Config{QueueTime: 10 * time.Second, RunTime: time.Minute}})
	ctx := context.Background()

	// Deadline before the run starts: aborted, never charged. The client
	// raises 2s to Replicate's 5s minimum.
	p, err := c.Create(ctx, tok, replicate.Input{Prompt: "queued"}, replicate.CreateOptions{CancelAfter: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if p.Deadline.Sub(p.CreatedAt) != 5*time.Second {
		t.Fatalf("deadline %v after creation", p.Deadline.Sub(p.CreatedAt))
	}
	s.Advance(4 * time.Second)
	if p, _ = c.Get(ctx, tok, p.ID); p.Status != replicate.StatusStarting {
		t.Fatalf("too early: %s", p.Status)
	}
	s.Advance(time.Second)
	p, _ = c.Get(ctx, tok, p.ID)
	if p.Status != replicate.StatusAborted || !p.Terminal() || s.Stats().Charged != 0 || s.Stats().Aborted != 1 {
		t.Fatalf("want aborted uncharged: %s %+v", p.Status, s.Stats())
	}

	// Deadline while running: canceled, charged.
	p, _ = c.Create(ctx, tok, replicate.Input{Prompt: "running"}, replicate.CreateOptions{CancelAfter: 20 * time.Second})
	s.Advance(20 * time.Second)
	p, _ = c.Get(ctx, tok, p.ID)
	if p.Status != replicate.StatusCanceled || s.Stats().Charged != 1 || s.Stats().Canceled != 1 {
		t.Fatalf("want canceled charged: %s %+v", p.Status, s.Stats())
	}

	// Cancel endpoint from starting: canceled and never charged.
	p, _ = c.Create(ctx, tok, replicate.Input{Prompt: "cancel me"}, replicate.CreateOptions{})
	p, err = c.Cancel(ctx, tok, p.ID)
	if err != nil || p.Status != replicate.StatusCanceled {
		t.Fatalf("%v %v", p, err)
	}
	s.Advance(2 * time.Minute)
	if st := s.Stats(); st.Charged != 1 || st.Canceled != 2 || st.Active != 0 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := c.Cancel(ctx, tok, "nope"); !replicate.IsPermanent(err) {
		t.Fatalf("cancel of unknown id: %v", err)
	}
}

func TestRetentionExpiresOutput(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true})
	ctx := context.Background()
	p, _ := c.Create(ctx, tok, replicate.Input{Prompt: "keep", Resolution: "1K"}, replicate.CreateOptions{})
	s.Advance(time.Second)
	p, _ = c.Get(ctx, tok, p.ID)
	url := p.OutputURL()
	download(t, c, url)
	s.Advance(59 * time.Minute)
	if p, _ = c.Get(ctx, tok, p.ID); p.DataRemoved || p.OutputURL() != url {
		t.Fatal("removed too early")
	}
	s.Advance(time.Minute)
	p, _ = c.Get(ctx, tok, p.ID)
	if !p.DataRemoved || p.OutputURL() != "" {
		t.Fatalf("after an hour: %+v", p)
	}
	_, _, err := c.Download(ctx, tok, url, 1<<20)
	if !errors.Is(err, replicate.ErrOutputExpired) || !strings.Contains(replicate.UserMessage(err), "expired") {
		t.Fatalf("want ErrOutputExpired, got %v", err)
	}

	// ExpireOutputs removes outputs at once.
	p, _ = c.Create(ctx, tok, replicate.Input{Prompt: "gone", Resolution: "1K"}, replicate.CreateOptions{})
	s.Advance(time.Second)
	p, _ = c.Get(ctx, tok, p.ID)
	url = p.OutputURL()
	s.Configure(func(c *replicatetest.Config) { c.ExpireOutputs = true })
	if _, _, err := c.Download(ctx, tok, url, 1<<20); !errors.Is(err, replicate.ErrOutputExpired) {
		t.Fatalf("want ErrOutputExpired, got %v", err)
	}
}

func TestDownloadCap(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true})
	ctx := context.Background()
	p, _ := c.Create(ctx, tok, replicate.Input{Prompt: "big", Resolution: "1K", OutputFormat: "png"}, replicate.CreateOptions{})
	s.Advance(time.Second)
	p, _ = c.Get(ctx, tok, p.ID)
	_, _, err := c.Download(ctx, tok, p.OutputURL(), 100)
	if !errors.Is(err, replicate.ErrOutputTooLarge) {
		t.Fatalf("want ErrOutputTooLarge, got %v", err)
	}
	// Without a Content-Length the cap still holds while streaming.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		for range 10 {
			_, _ = w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	rc, _, err := c.Download(ctx, tok, srv.URL+"/x.png", 500)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if !errors.Is(err, replicate.ErrOutputTooLarge) || n > 500 {
		t.Fatalf("read %d, err %v", n, err)
	}
	rc2, _, err := c.Download(ctx, tok, srv.URL+"/x.png", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	if n, err := io.Copy(io.Discard, rc2); n != 1000 || err != nil {
		t.Fatalf("exactly at the cap: %d %v", n, err)
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true, Config: replicatetest.Config{PageSize: 2}})
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		p, err := c.Create(ctx, tok, replicate.Input{Prompt: "n" + string(rune('0'+i))}, replicate.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
		s.Advance(time.Millisecond)
	}
	var got []string
	cursor, pages := "", 0
	for {
		preds, next, err := c.List(ctx, tok, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range preds {
			got = append(got, p.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pages %d, got %v want %v", pages, got, want)
	}
	if preds, _, _ := c.List(ctx, "r8_someone_else", ""); len(preds) != 0 {
		t.Fatal("another account's predictions are visible")
	}
	if _, err := c.Get(ctx, "r8_someone_else", ids[0]); !replicate.IsPermanent(err) {
		t.Fatalf("another account's prediction: %v", err)
	}
	if _, _, err := c.List(ctx, tok, "http://127.0.0.2:1/v1/predictions?cursor=x"); err == nil {
		t.Fatal("a cursor on another host must be refused")
	}
	if s.Stats().Lists != 4 {
		t.Fatalf("lists %d", s.Stats().Lists)
	}
}

func TestAccountSecretUpload(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true})
	ctx := context.Background()
	a, err := c.Account(ctx, tok)
	if err != nil || a.Type != "user" || a.Username == "" {
		t.Fatalf("%+v %v", a, err)
	}
	secret, err := c.WebhookSecret(ctx, tok)
	if err != nil || secret != s.WebhookSecret() || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("%q %v", secret, err)
	}
	var pngBuf bytes.Buffer
	_ = png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 200, 400)))
	f, err := c.UploadFile(ctx, tok, "ref.png", "image/png", bytes.NewReader(pngBuf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if f.ID == "" || f.Name != "ref.png" || f.ContentType != "image/png" || f.Size != int64(pngBuf.Len()) || !strings.HasPrefix(f.URLs.Get, s.URL()) {
		t.Fatalf("%+v", f)
	}
	b, _ := download(t, c, f.URLs.Get)
	if !bytes.Equal(b, pngBuf.Bytes()) {
		t.Fatal("uploaded bytes differ")
	}
	// The uploaded file works as an input and drives match_input_image (1:2).
	p, err := c.Create(ctx, tok, replicate.Input{Prompt: "edit", ImageInput: []string{f.URLs.Get}, Resolution: "1K", OutputFormat: "png"}, replicate.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Advance(time.Second)
	p, _ = c.Get(ctx, tok, p.ID)
	out, _ := download(t, c, p.OutputURL())
	cfg, _, err := image.DecodeConfig(bytes.NewReader(out))
	if err != nil || cfg.Width != 512 || cfg.Height != 1024 {
		t.Fatalf("%dx%d %v", cfg.Width, cfg.Height, err)
	}
	if s.Stats().FilesUploaded != 1 {
		t.Fatal("upload not counted")
	}
}

func TestOutputAsList(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true, Config: replicatetest.Config{OutputAsList: true}})
	p, _ := c.Create(context.Background(), tok, replicate.Input{Prompt: "list", Resolution: "1K"}, replicate.CreateOptions{})
	s.Advance(time.Second)
	p, _ = c.Get(context.Background(), tok, p.ID)
	if !strings.HasPrefix(string(p.Output), "[") || p.OutputURL() == "" {
		t.Fatalf("output %s", p.Output)
	}
	download(t, c, p.OutputURL())
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		attempts = map[string]int{}
		bodies   []replicate.Prediction
		secret   string
	)
	got := make(chan struct{}, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := replicate.VerifyWebhook(secret, r.Header, body, time.Now()); err != nil {
			t.Errorf("verify: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		id := r.Header.Get("webhook-id")
		attempts[id]++
		if attempts[id] == 1 {
			// Refuse the first attempt: the fake must retry with the same id.
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p replicate.Prediction
		_ = json.Unmarshal(body, &p)
		bodies = append(bodies, p)
		got <- struct{}{}
	}))
	defer recv.Close()

	s, c := newFake(t, replicatetest.Options{Config: replicatetest.Config{WebhookRetryDelay: time.Millisecond}})
	var err error
	secret, err = c.WebhookSecret(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Create(context.Background(), tok, replicate.Input{Prompt: "hook", Resolution: "1K"},
		replicate.CreateOptions{Webhook: recv.URL + "/hook", WebhookEvents: []string{"completed"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || bodies[0].ID != p.ID || bodies[0].Status != replicate.StatusSucceeded || bodies[0].OutputURL() == "" {
		t.Fatalf("deliveries %+v", bodies)
	}
	for id, n := range attempts {
		if n != 2 {
			t.Fatalf("webhook %s attempted %d times, want 2 with one id", id, n)
		}
	}
	eventually(t, "stats count the delivery", func() bool { return s.Stats().WebhooksSent == 1 })
	if st := s.Stats(); st.WebhookAttempts != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFakeControlOverHTTP(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true})
	ctx := context.Background()
	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(strings.TrimSuffix(s.URL(), "/v1")+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("/_fake/config", `{"throttle_next_creates":1,"queue_time":"2s","no_credit_tokens":["r8_x"]}`); r.StatusCode != 200 {
		t.Fatalf("config: %d", r.StatusCode)
	}
	cfg := s.Config()
	if cfg.ThrottleNextCreates != 1 || cfg.QueueTime != 2*time.Second || cfg.RunTime != 200*time.Millisecond || len(cfg.NoCreditTokens) != 1 {
		t.Fatalf("config %+v", cfg)
	}
	if r := post("/_fake/config", `{"no_such_knob":1}`); r.StatusCode != 400 {
		t.Fatalf("unknown knob accepted: %d", r.StatusCode)
	}
	if _, err := c.Create(ctx, tok, replicate.Input{Prompt: "x"}, replicate.CreateOptions{}); replicate.RetryAfter(err) == 0 {
		t.Fatalf("want throttled, got %v", err)
	}
	if _, err := c.Create(ctx, tok, replicate.Input{Prompt: "x"}, replicate.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(strings.TrimSuffix(s.URL(), "/v1") + "/_fake/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st replicatetest.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Created != 1 || st.Throttled != 1 || st.CreatedByToken[tok] != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
	if r := post("/_fake/reset", ``); r.StatusCode != 204 {
		t.Fatal(r.StatusCode)
	}
	if st := s.Stats(); st.Created != 0 || s.Config().QueueTime != 50*time.Millisecond {
		t.Fatalf("after reset %+v", st)
	}
}

func TestOutputWhileProcessing(t *testing.T) {
	t.Parallel()
	s, c := newFake(t, replicatetest.Options{ManualClock: true, Config: replicatetest.Config{QueueTime: time.Second, RunTime: 10 * time.Second, OutputEarly: true}})
	ctx := context.Background()
	p, _ := c.Create(ctx, tok, replicate.Input{Prompt: "early", Resolution: "1K"}, replicate.CreateOptions{})
	s.Advance(7 * time.Second)
	p, _ = c.Get(ctx, tok, p.ID)
	if p.Status != replicate.StatusProcessing || p.OutputURL() == "" {
		t.Fatalf("want output while processing: %s %q", p.Status, p.OutputURL())
	}
	download(t, c, p.OutputURL())
	s.Advance(5 * time.Second)
	if p, _ = c.Get(ctx, tok, p.ID); p.Status != replicate.StatusSucceeded {
		t.Fatal(p.Status)
	}
}

// The user's token goes with a download only to Replicate's own hosts (here: the API's
// host and port). Another host an output URL names never sees it: not when it answers
// 401 (the download then fails, saying why), not when it is the API's host name on
// another port, and not when the API's host redirects there.
func TestDownloadSendsTheTokenOnlyToReplicate(t *testing.T) {
	t.Parallel()
	const secret = "r8_secret_token"
	var mu sync.Mutex
	seen := map[string][]string{} // path -> Authorization headers received
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = append(seen[r.URL.Path], r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/private.png" && r.Header.Get("Authorization") == "" {
			http.Error(w, "auth required", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n\x1a\n"))
	}))
	defer other.Close()
	// The API's host: its own files get the token; /moved redirects to the other server.
	var apiAuth []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/moved" {
			http.Redirect(w, r, other.URL+"/redirected.png", http.StatusFound)
			return
		}
		mu.Lock()
		apiAuth = append(apiAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n\x1a\n"))
	}))
	defer api.Close()
	c := replicate.New(replicate.Options{BaseURL: api.URL + "/v1"})
	ctx := context.Background()

	port := other.URL[strings.LastIndex(other.URL, ":")+1:]
	for _, u := range []string{
		"http://localhost:" + port + "/out.png", // another host
		other.URL + "/same-name.png",            // the API's host name (127.0.0.1), another port
		api.URL + "/v1/moved",                   // the API's host, redirecting elsewhere
		api.URL + "/files/own.png",              // the API's own host: gets the token
	} {
		rc, _, err := c.Download(ctx, secret, u, 1<<20)
		if err != nil {
			t.Fatalf("download %s: %v", u, err)
		}
		rc.Close()
	}
	_, _, err := c.Download(ctx, secret, "http://localhost:"+port+"/private.png", 1<<20)
	if !errors.Is(err, replicate.ErrOutputNeedsAuth) || !replicate.IsPermanent(err) {
		t.Errorf("an output host asking for auth: want ErrOutputNeedsAuth (permanent), got %v", err)
	}
	if msg := replicate.UserMessage(err); !strings.Contains(msg, "not at Replicate") {
		t.Errorf("user message %q does not say why", msg)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("error holds the token: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	for path, auth := range seen {
		for _, a := range auth {
			if a != "" {
				t.Errorf("%s on a host that is not Replicate's received Authorization %q", path, a)
			}
		}
	}
	for _, path := range []string{"/out.png", "/same-name.png", "/redirected.png", "/private.png"} {
		if len(seen[path]) != 1 {
			t.Errorf("%s requested %d times, want once (no retry with the token)", path, len(seen[path]))
		}
	}
	if len(apiAuth) != 1 || apiAuth[0] != "Bearer "+secret {
		t.Errorf("the API's own host received Authorization %q, want the token once", apiAuth)
	}
}

// Replicate's domains get the token over https only; look-alike names never do.
func TestDownloadTokenHosts(t *testing.T) {
	t.Parallel()
	const secret = "r8_secret_token"
	var mu sync.Mutex
	got := map[string]string{} // host -> Authorization
	// Every URL is sent to this one loopback server, whatever host it names, so the
	// test sees exactly what the client would send to that host.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Host] = r.Header.Get("Authorization")
		mu.Unlock()
		w.Write([]byte("\x89PNG\r\n\x1a\n"))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			// Plain HTTP behind an https URL: the client only decides on the URL.
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	c := replicate.New(replicate.Options{HTTPClient: &http.Client{Transport: tr}})
	cases := map[string]bool{
		"https://replicate.delivery/xezq/a/out.png":    true,
		"https://pbxt.replicate.delivery/a/out.png":    true,
		"https://api.replicate.com/v1/files/a":         true,
		"https://replicate.com/a.png":                  true,
		"http://replicate.delivery/a.png":              false, // not https
		"https://evilreplicate.delivery/a.png":         false,
		"https://replicate.delivery.example.com/a.png": false,
		"https://replicate.com.example.net/a.png":      false,
		"https://example.com/replicate.delivery/a.png": false,
	}
	for u, want := range cases {
		rc, _, err := c.Download(context.Background(), secret, u, 1<<20)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		rc.Close()
		h, _ := url.Parse(u)
		mu.Lock()
		a := got[h.Host]
		mu.Unlock()
		if (a == "Bearer "+secret) != want {
			t.Errorf("%s: Authorization %q, want token=%v", u, a, want)
		}
	}
}

// blockingReader is a caller's body that arrives over a slow link: its first Read gives
// a few bytes at once, the next one blocks until released.
type blockingReader struct {
	first    []byte
	blocked  chan struct{} // closed when the blocking Read starts
	release  chan struct{}
	returned atomic.Bool // set by the test once UploadFile has returned
	late     atomic.Bool // a Read ran, or was still running, after UploadFile returned
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if r.returned.Load() {
		r.late.Store(true)
	}
	if len(r.first) > 0 {
		n := copy(p, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	close(r.blocked)
	<-r.release
	if r.returned.Load() {
		r.late.Store(true)
	}
	return 0, io.EOF
}

// UploadFile must not return while it is still reading the caller's reader (the caller
// closes it next): not when Replicate refuses the upload while the body is still
// coming, and not when the caller gives up. The uploads run over loopback inside a
// synctest bubble, so "UploadFile has not returned" is checked once every goroutine of
// the upload has come to rest, not after some delay.
//
// The API here is a loopback server of the test's own, not the fake: it answers only
// once it has received the reader's first bytes, which guarantees that the reader is
// then read again (and blocks) whether or not the answer comes first; the fake answers
// a refused token before reading anything. (On a cancel, net/http itself sometimes
// waits for the body's writer, so that case alone may miss a regression; the refused
// one never does.)
func TestUploadFileStopsReadingBeforeItReturns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer bool // refuse the upload with a 401, else never answer
		check  func(error) bool
	}{
		{name: "refused", answer: true, check: func(err error) bool { return replicate.IsPermanent(err) }},
		{name: "canceled", check: func(err error) bool { return errors.Is(err, context.Canceled) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stop := make(chan struct{})
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Errors end the request quietly: a canceled client closes the
				// connection while this may still be reading.
				mr, err := r.MultipartReader()
				if err != nil {
					return
				}
				part, err := mr.NextPart()
				if err != nil {
					return
				}
				if _, err := part.Read(make([]byte, 1)); err != nil {
					return
				}
				if !tc.answer {
					select {
					case <-r.Context().Done():
					case <-stop:
					}
					return
				}
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"title":"Unauthenticated","detail":"You did not pass a valid authentication token","status":401}`))
			}))
			t.Cleanup(api.Close)
			t.Cleanup(func() { close(stop) }) // runs first: lets a waiting handler end
			synctest.Test(t, func(t *testing.T) {
				// No idle connections, whose readers would never come to rest.
				tr := &http.Transport{DisableKeepAlives: true}
				c := replicate.New(replicate.Options{BaseURL: api.URL + "/v1", HTTPClient: &http.Client{Transport: tr}})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				r := &blockingReader{first: []byte("\x89PNG\r\n\x1a\n"), blocked: make(chan struct{}), release: make(chan struct{})}
				done := make(chan error, 1)
				go func() {
					_, err := c.UploadFile(ctx, tok, "ref.png", "image/png", r)
					r.returned.Store(true)
					done <- err
				}()
				<-r.blocked
				if !tc.answer {
					cancel()
				}
				synctest.Wait()
				select {
				case err := <-done:
					t.Errorf("UploadFile returned (%v) while a Read of the caller's reader was still running", err)
					close(r.release)
					return
				default:
				}
				close(r.release)
				err := <-done
				if !tc.check(err) {
					t.Errorf("UploadFile: unexpected error %v", err)
				}
				if r.late.Load() {
					t.Error("the reader was read after UploadFile returned")
				}
			})
		})
	}
}
