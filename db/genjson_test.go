package db

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// generationJSON is the shape of a generation written as a tagged struct: what
// encoding/json makes of it is what AppendGeneration must write, byte for byte.
type generationJSON struct {
	ID                string          `json:"id"`
	ImageID           string          `json:"image_id"`
	Status            string          `json:"status"`
	Prompt            string          `json:"prompt"`
	Resolution        string          `json:"resolution"`
	AspectRatio       string          `json:"aspect_ratio"`
	OutputFormat      string          `json:"output_format"`
	SafetyFilterLevel string          `json:"safety_filter_level"`
	GenerationMode    string          `json:"generation_mode"`
	ReferenceImageIDs []string        `json:"reference_image_ids"`
	BatchID           *string         `json:"batch_id"`
	Error             *string         `json:"error"`
	CreatedAt         time.Time       `json:"created_at"`
	StartedAt         *time.Time      `json:"started_at"`
	CompletedAt       *time.Time      `json:"completed_at"`
	Width             *int            `json:"width"`
	Height            *int            `json:"height"`
	Bytes             *int64          `json:"bytes"`
	CostUSD           float64         `json:"cost_usd"`
	PaidBy            *string         `json:"paid_by"`
	BookedUSD         float64         `json:"booked_usd"`
	Metrics           json.RawMessage `json:"metrics"`
	QueuedAt          *time.Time      `json:"queued_at"`
	Attempt           int             `json:"attempt"`
	RetryReason       *string         `json:"retry_reason"`
	RetryAt           *time.Time      `json:"retry_at"`
	ErrorCode         *string         `json:"error_code"`
	Favorite          bool            `json:"favorite"`
	QueuePaused       *bool           `json:"queue_paused,omitempty"`
	QueuePosition     *int            `json:"queue_position,omitempty"`
	ImageURL          *string         `json:"image_url"`
	ThumbnailURL      *string         `json:"thumbnail_url"`
	PriceUSD          float64         `json:"price_usd"`
	ReferenceURLs     []string        `json:"reference_urls"`
}

func mirror(g *Generation, v *View) generationJSON {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	optTime := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	refs := g.ReferenceIDs
	if refs == nil {
		refs = []string{}
	}
	m := generationJSON{ID: g.ID, ImageID: g.ID, Status: g.Status, Prompt: g.Prompt,
		Resolution: g.Resolution, AspectRatio: g.AspectRatio, OutputFormat: g.OutputFormat,
		SafetyFilterLevel: g.SafetyFilterLevel, GenerationMode: g.Mode, ReferenceImageIDs: refs,
		BatchID: opt(g.BatchID), Error: opt(g.Error), CreatedAt: g.CreatedAt.UTC(), StartedAt: optTime(g.StartedAt),
		CompletedAt: optTime(g.CompletedAt), ImageURL: opt(v.ImageURL),
		ThumbnailURL: opt(v.ThumbnailURL), PriceUSD: v.PriceUSD, ReferenceURLs: v.ReferenceURLs,
		CostUSD: USD(g.CostMicros), PaidBy: opt(g.PaidBy), BookedUSD: USD(g.BookedMicros), Metrics: g.Metrics, Favorite: g.Favorite}
	if m.ReferenceURLs == nil {
		m.ReferenceURLs = []string{}
	}
	if g.Status == StatusCompleted {
		w, h, b := g.Width, g.Height, g.Bytes
		m.Width, m.Height, m.Bytes = &w, &h, &b
	}
	m.QueuedAt = optTime(g.QueuedAt)
	m.Attempt = AttemptOf(g)
	if g.Status == StatusPending || g.Status == StatusRunning {
		m.RetryReason = opt(RetryReason(g.LastError))
	}
	if g.Status == StatusRunning && g.JobState == JobQueued {
		m.RetryAt = optTime(g.RunAfter)
	}
	if g.Status == StatusFailed {
		m.ErrorCode = opt(FailureCode(g.LastError))
	}
	if g.Status == StatusPending {
		paused := v.QueuePaused
		m.QueuePaused = &paused
		if !paused {
			qp := max(v.QueuePosition, 1)
			m.QueuePosition = &qp
		}
	}
	return m
}

// The hand-written encoder gives byte for byte what encoding/json gives for the shape:
// escaping, nulls, optional fields, times, floats. And an event's stored bytes completed
// at delivery (AppendView) are the status answer's bytes (AppendGeneration): one object.
func TestGenerationJSONMatchesEncodingJSON(t *testing.T) {
	created := time.UnixMilli(1767225600123).UTC()
	odd := "quote\" back\\ <b>&amp; \n\r\t\b\f \x01\x1f é 日本 \u2028\u2029 bad\xff\xfe end 🍌"
	cases := []struct {
		g Generation
		v View
	}{
		{Generation{ID: "a", Status: StatusPending, Params: Params{Prompt: "a cat", Resolution: "1K",
			AspectRatio: "16:9", OutputFormat: "png", SafetyFilterLevel: "block_only_high",
			Mode: ModeTextToImage, ReferenceIDs: []string{}}, CreatedAt: created},
			View{QueuePosition: 3, PriceUSD: 0.15}},
		{Generation{ID: "m", Status: StatusCompleted, CostMicros: 150000, PaidBy: PaidShared, BookedMicros: 300000,
			Metrics: []byte(`{"predict_time":12.5}`)}, View{PriceUSD: 0.15}},
		{Generation{ID: "o", Status: StatusCanceled, CostMicros: 300000, PaidBy: PaidOwn}, View{PriceUSD: 0.3}},
		{Generation{ID: "b", Status: StatusCompleted, Params: Params{Prompt: odd, Resolution: "4K",
			ReferenceIDs: []string{"x", odd}}, Error: odd, CreatedAt: time.UnixMilli(1767225600000),
			StartedAt: time.UnixMilli(1767225601100), CompletedAt: time.UnixMilli(1767225609999),
			Width: 4096, Height: 0, Bytes: 1 << 40, Favorite: true},
			View{ImageURL: "/api/v1/images/file/b?u=1&exp=2&sig=a-b_c", ThumbnailURL: "https://x.example/t?a=<1>", PriceUSD: 0.3,
				ReferenceURLs: []string{"/api/v1/uploads/file/x?u=1&exp=2&sig=a", "https://x.example/<odd>"}}},
		{Generation{Status: StatusPending}, View{}},
		{Generation{Status: StatusPending, BatchID: "0123456789abcdef0123456789abcdef"}, View{QueuePaused: true, QueuePosition: 4}},
		{Generation{Status: StatusRunning, BatchID: odd}, View{QueuePaused: true}},
		{Generation{Status: StatusFailed, Error: "no", Width: 5}, View{PriceUSD: 1e-7}},
		{Generation{Status: StatusRunning}, View{PriceUSD: 1e22}},
		{Generation{Status: StatusCanceled}, View{PriceUSD: -2.5}},
		{Generation{Status: StatusCompleted}, View{PriceUSD: 123456789.125}},
		{Generation{Status: StatusRunning, Attempts: 1, JobState: JobQueued, RunAfter: time.UnixMilli(1767225700123), QueuedAt: created,
			LastError: "replicate: create prediction: HTTP 429 Too Many Requests"}, View{}},
		{Generation{Status: StatusFailed, Attempts: 1, JobState: JobFailed,
			LastError: "fail: replicate: prediction p1 failed: The input or output was flagged as sensitive. (E005)"}, View{}},
	}
	for i, c := range cases {
		want, err := json.Marshal(mirror(&c.g, &c.v))
		if err != nil {
			t.Fatal(err)
		}
		got := AppendGeneration(nil, &c.g, &c.v)
		if !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
		if ev := AppendView(nil, AppendStored(nil, &c.g), c.g.Status, &c.v); !bytes.Equal(ev, got) {
			t.Errorf("case %d: the event differs from the status answer:\nevent  %s\nstatus %s", i, ev, got)
		}
		// What an event stores depends on nothing of the reader's or the moment's.
		stored := AppendStored(nil, &c.g)
		for _, k := range []string{"queue_position", "queue_paused", "image_url", "thumbnail_url", "price_usd", "reference_urls"} {
			if bytes.Contains(stored, []byte(`"`+k+`"`)) {
				t.Errorf("case %d: the stored part holds %s: %s", i, k, stored)
			}
		}
		var m map[string]any
		if err := json.Unmarshal(stored, &m); err != nil {
			t.Errorf("case %d: the stored part is not JSON: %v", i, err)
		}
	}
}

// A retry's reason and a failure's code are words of a fixed list, whatever the
// technical cause says (it may quote Replicate's answer, which is never shown).
func TestRetryReasonAndFailureCode(t *testing.T) {
	for cause, want := range map[string]string{
		"": "",
		"replicate: create prediction: HTTP 429 Too Many Requests: Request was throttled. Expected available in 1 second.": RetryThrottled,
		"replicate: get prediction: HTTP 503 Service Unavailable":                                                          RetryReplicateError,
		"replicate: prediction abc failed: Director: unexpected error handling prediction (E6716)":                         RetryModelStart,
		"replicate: prediction abc aborted":                                                                                RetryModelStart,
		"replicate: create prediction: dial tcp 127.0.0.1:1: connect: connection refused":                                  RetryUnreachable,
		"storage full: no new prediction until there is room":                                                              RetryStorageFull,
		"sqlite: database is locked r8_secret_token_here":                                                                  RetryTemporary,
	} {
		if got := RetryReason(cause); got != want {
			t.Errorf("RetryReason(%q) = %q, want %q", cause, got, want)
		}
	}
	if got := FailureCode("fail: replicate: prediction p failed: flagged as sensitive. (E005)"); got != FailureSafety {
		t.Errorf("an E005 failure's code is %q", got)
	}
	if got := FailureCode("fail: replicate: create prediction: HTTP 402 Payment Required"); got != "" {
		t.Errorf("a 402 failure's code is %q, want none", got)
	}
	g := &Generation{Status: StatusRunning, Attempts: 1, JobState: JobQueued, RunAfter: time.Now(), LastError: "replicate: HTTP 500 r8_secret"}
	b := AppendStored(nil, g)
	if !bytes.Contains(b, []byte(`"attempt":2,"retry_reason":"replicate_error","retry_at":"`)) || bytes.Contains(b, []byte("r8_secret")) {
		t.Errorf("a running generation waiting for its second attempt: %s", b)
	}
}
