package replicate

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseErrorProblemDetails(t *testing.T) {
	body := `{"title":"Input validation failed","detail":"- input.output_format: must be one of jpg, png","status":422,
	"invalid_fields":[{"type":"enum","field":"input.output_format","description":"output_format must be one of the following: \"jpg\", \"png\""}]}`
	e := parseError("create prediction", 422, http.Header{}, []byte(body), time.Now())
	if e.StatusCode != 422 || e.Title != "Input validation failed" || len(e.InvalidFields) != 1 || e.InvalidFields[0].Field != "input.output_format" {
		t.Fatalf("parsed %+v", e)
	}
	if !IsPermanent(e) || IsTransient(e) {
		t.Fatal("422 must be permanent")
	}
	msg := UserMessage(e)
	if !strings.Contains(msg, "output_format") {
		t.Fatalf("message does not name the field: %q", msg)
	}
}

func TestRetryAfterSources(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	throttled := `{"title":"Request was throttled","detail":"Request was throttled. Your rate limit resets in ~30s.","status":429}`
	cases := []struct {
		name   string
		header string
		body   string
		want   time.Duration
	}{
		{"header seconds", "7", throttled, 7 * time.Second},
		{"header date", now.Add(90 * time.Second).Format(http.TimeFormat), throttled, 90 * time.Second},
		{"detail seconds", "", throttled, 30 * time.Second},
		{"nothing", "", `{"title":"Request was throttled","status":429}`, 0},
		{"plain text", "", "too many requests", 0},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.header != "" {
				h.Set("Retry-After", c.header)
			}
			e := parseError("x", 429, h, []byte(c.body), now)
			if e.RetryAfter != c.want {
				t.Fatalf("RetryAfter = %v, want %v", e.RetryAfter, c.want)
			}
			if !IsTransient(e) {
				t.Fatal("429 must be transient")
			}
		})
	}
}

func TestNonJSONErrorBody(t *testing.T) {
	e := parseError("get prediction", 502, http.Header{}, []byte("Bad Gateway from upstream\n"), time.Now())
	if e.Detail != "Bad Gateway from upstream" || e.Title != "Bad Gateway" {
		t.Fatalf("parsed %+v", e)
	}
	if !IsTransient(e) {
		t.Fatal("502 must be transient")
	}
	html := parseError("get prediction", 503, http.Header{}, []byte("<html><body>down</body></html>"), time.Now())
	if html.Detail != "" {
		t.Fatalf("html body should not become the detail: %q", html.Detail)
	}
}

func TestPredictionErrorClassification(t *testing.T) {
	cases := []struct {
		status    Status
		msg       string
		transient bool
		permanent bool
		code      string
		user      string
	}{
		{StatusFailed, "The input or output was flagged as sensitive. (E005)", false, true, "E005", "safety filter (E005)"},
		{StatusFailed, "Director: unexpected error handling prediction (E6716)", true, false, "E6716", "temporary problem"},
		{StatusFailed, "interrupted (code: PA)", true, false, "PA", "temporary problem"},
		{StatusFailed, "CUDA out of memory", false, false, "", "CUDA out of memory"},
		{StatusCanceled, "", false, false, "", "canceled"},
		{StatusAborted, "", false, false, "", "aborted"},
	}
	for _, c := range cases {
		err := PredictionError(&Prediction{ID: "p1", Status: c.status, Error: c.msg})
		var pf *PredictionFailure
		if !errors.As(err, &pf) {
			t.Fatalf("%s %q: no PredictionFailure", c.status, c.msg)
		}
		wrapped := fmt.Errorf("job: %w", err)
		if IsTransient(wrapped) != c.transient || IsPermanent(wrapped) != c.permanent || pf.Code() != c.code {
			t.Errorf("%q: transient=%v permanent=%v code=%q", c.msg, IsTransient(wrapped), IsPermanent(wrapped), pf.Code())
		}
		if um := UserMessage(wrapped); !strings.Contains(um, c.user) {
			t.Errorf("%q: user message %q lacks %q", c.msg, um, c.user)
		}
	}
	if PredictionError(&Prediction{Status: StatusSucceeded}) != nil || PredictionError(&Prediction{Status: StatusProcessing}) != nil {
		t.Fatal("a succeeded or running prediction is not an error")
	}
}

func TestUserMessages(t *testing.T) {
	cases := map[int]string{
		401: "Replicate rejected the API key: update it in Settings.",
		402: "Your Replicate account has insufficient credit: add credit at Replicate and retry.",
	}
	for code, want := range cases {
		if got := UserMessage(&Error{StatusCode: code}); got != want {
			t.Errorf("%d: %q", code, got)
		}
	}
	if got := UserMessage(&Error{StatusCode: 429, RetryAfter: 30 * time.Second}); !strings.Contains(got, "30s") {
		t.Errorf("429: %q", got)
	}
	if got := UserMessage(&Error{StatusCode: 503}); !strings.Contains(got, "temporary") {
		t.Errorf("503: %q", got)
	}
}

func TestFormatCancelAfter(t *testing.T) {
	cases := map[time.Duration]string{
		time.Second:                    "5s",
		45 * time.Second:               "45s",
		30 * time.Minute:               "30m",
		90 * time.Minute:               "1h30m",
		time.Hour + 5*time.Second:      "1h5s",
		1500 * time.Millisecond * 1000: "25m",
	}
	for d, want := range cases {
		if got := FormatCancelAfter(d); got != want {
			t.Errorf("%v -> %q, want %q", d, got, want)
		}
	}
}

func TestOutputURLShapes(t *testing.T) {
	for raw, want := range map[string]string{
		`"https://x/a.png"`:                 "https://x/a.png",
		`["https://x/b.png","https://x/c"]`: "https://x/b.png",
		`null`:                              "",
		`[]`:                                "",
	} {
		p := &Prediction{Output: []byte(raw)}
		if got := p.OutputURL(); got != want {
			t.Errorf("%s -> %q", raw, got)
		}
	}
}

func FuzzParseError(f *testing.F) {
	f.Add(429, "3", `{"detail":"resets in ~30s"}`)
	f.Add(422, "", `{"invalid_fields":[{"field":"input.prompt"}]}`)
	f.Add(500, "Wed, 21 Oct 2015 07:28:00 GMT", "<html>")
	f.Fuzz(func(t *testing.T, status int, retry, body string) {
		h := http.Header{}
		h.Set("Retry-After", retry)
		e := parseError("op", status, h, []byte(body), time.Now())
		if e.RetryAfter < 0 {
			t.Fatalf("negative RetryAfter %v", e.RetryAfter)
		}
		_ = e.Error()
		_ = UserMessage(e)
	})
}
