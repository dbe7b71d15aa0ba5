package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Error is a non-2xx answer from the Replicate API, parsed from its
// problem-details body when there is one.
type Error struct {
	StatusCode    int
	Title         string
	Detail        string
	InvalidFields []InvalidField
	// RetryAfter is how long Replicate asked us to wait (Retry-After header,
	// else the seconds named in Detail), or 0 when it did not say.
	RetryAfter time.Duration
	// Op names the call ("create prediction", "get prediction", ...).
	Op string
}

// InvalidField is one entry of a 422's invalid_fields.
type InvalidField struct {
	Type        string `json:"type"`
	Field       string `json:"field"`
	Description string `json:"description"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("replicate: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if e.Title != "" {
		b.WriteString(" ")
		b.WriteString(e.Title)
	}
	if e.Detail != "" && e.Detail != e.Title {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for i, f := range e.InvalidFields {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		if f.Description != "" {
			b.WriteString(": ")
			b.WriteString(f.Description)
		}
		if i == len(e.InvalidFields)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

// NetworkError is a request that got no HTTP answer: connection refused or
// reset, timeout, or a response lost mid-way. For a create this means the
// prediction may or may not exist.
type NetworkError struct {
	Op  string
	Err error
}

func (e *NetworkError) Error() string { return "replicate: " + e.Op + ": " + e.Err.Error() }
func (e *NetworkError) Unwrap() error { return e.Err }

// PredictionFailure is a prediction that ended without output.
type PredictionFailure struct {
	ID      string
	Status  Status // failed, canceled or aborted
	Message string // the prediction's error text
}

func (e *PredictionFailure) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("replicate: prediction %s %s: %s", e.ID, e.Status, e.Message)
	}
	return fmt.Sprintf("replicate: prediction %s %s", e.ID, e.Status)
}

// Code returns the platform error code in the message: "E005", "E6716",
// "PA", or "".
func (e *PredictionFailure) Code() string {
	if m := codeRe.FindStringSubmatch(e.Message); m != nil {
		if m[1] != "" {
			return m[1]
		}
		return m[2]
	}
	return ""
}

var codeRe = regexp.MustCompile(`\((E\d+)\)|\(code: ([A-Za-z0-9_]+)\)`)

// PredictionError turns a terminal prediction without output into an error:
// nil for succeeded (or still running) predictions, a *PredictionFailure for
// failed, canceled and aborted ones.
func PredictionError(p *Prediction) error {
	if p == nil {
		return nil
	}
	switch p.Status {
	case StatusFailed, StatusCanceled, StatusAborted:
		return &PredictionFailure{ID: p.ID, Status: p.Status, Message: p.Error}
	}
	return nil
}

var (
	// ErrOutputExpired: the delivery URL answered 404/410, which happens once
	// Replicate's retention (one hour) has deleted the output.
	ErrOutputExpired = errors.New("replicate: output expired (removed by Replicate's retention)")
	// ErrOutputTooLarge: a download exceeded the caller's byte cap.
	ErrOutputTooLarge = errors.New("replicate: output larger than the allowed size")
	// ErrOutputNeedsAuth: an output URL on a host that is not Replicate's asked for
	// credentials (401/403). The API token is never sent to such a host.
	ErrOutputNeedsAuth = errors.New("replicate: download output: the output's host asks for credentials, and the API token is only sent to Replicate's own hosts")
)

// IsTransient reports whether retrying later may succeed: 429, 5xx, network
// failures and timeouts, and the platform failures E6716 and "(code: PA)".
// A caller's own cancellation is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode >= 500
	}
	var ne *NetworkError
	if errors.As(err, &ne) {
		return true
	}
	var pf *PredictionFailure
	if errors.As(err, &pf) {
		if pf.Status != StatusFailed {
			return false
		}
		c := pf.Code()
		return c == "E6716" || c == "PA"
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// IsPermanent reports whether retrying the same request cannot help: 401,
// 402, 403, 404, 422, the safety block E005, and an output host that wants
// credentials we will not send.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrOutputNeedsAuth) {
		return true
	}
	var ae *Error
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case 401, 402, 403, 404, 422:
			return true
		}
		return false
	}
	var pf *PredictionFailure
	if errors.As(err, &pf) {
		return pf.Status == StatusFailed && pf.Code() == "E005"
	}
	return false
}

// RetryAfter returns the wait Replicate asked for, or 0.
func RetryAfter(err error) time.Duration {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// UserMessage returns one sentence a person can act on. It never contains
// the API token (no error here ever holds it).
func UserMessage(err error) string {
	if err == nil {
		return ""
	}
	var ae *Error
	var pf *PredictionFailure
	var ne *NetworkError
	switch {
	case errors.Is(err, ErrOutputExpired):
		return "The image expired at Replicate before it could be downloaded; generate it again."
	case errors.Is(err, ErrOutputTooLarge):
		return "The image from Replicate was larger than allowed and was not stored."
	case errors.Is(err, ErrOutputNeedsAuth):
		return "The image's download address is not at Replicate and asked for credentials; the API key is never sent there, so the image could not be fetched."
	case errors.As(err, &ae):
		switch {
		case ae.StatusCode == 401:
			return "Replicate rejected the API key: update it in Settings."
		case ae.StatusCode == 402:
			return "Your Replicate account has insufficient credit: add credit at Replicate and retry."
		case ae.StatusCode == 403:
			return "Replicate refused this API key access to the model: check the key's permissions in Settings."
		case ae.StatusCode == 404:
			return "Replicate could not find the model or prediction: check the model name in the configuration."
		case ae.StatusCode == 422:
			if len(ae.InvalidFields) == 0 {
				if ae.Detail != "" {
					return "Replicate rejected the request: " + strings.TrimSuffix(ae.Detail, ".") + "."
				}
				return "Replicate rejected the request as invalid."
			}
			parts := make([]string, 0, len(ae.InvalidFields))
			for _, f := range ae.InvalidFields {
				name := strings.TrimPrefix(f.Field, "input.")
				if f.Description != "" {
					parts = append(parts, name+" ("+strings.TrimSuffix(f.Description, ".")+")")
				} else {
					parts = append(parts, name)
				}
			}
			return "Replicate rejected these inputs: " + strings.Join(parts, "; ") + "; change them and retry."
		case ae.StatusCode == 429:
			if ae.RetryAfter > 0 {
				return fmt.Sprintf("Replicate is throttling requests: it will be retried in about %s.", ae.RetryAfter.Round(time.Second))
			}
			return "Replicate is throttling requests: it will be retried shortly."
		case ae.StatusCode >= 500:
			return fmt.Sprintf("Replicate had a temporary problem (HTTP %d): it will be retried shortly.", ae.StatusCode)
		}
		return fmt.Sprintf("Replicate answered with an unexpected error (HTTP %d).", ae.StatusCode)
	case errors.As(err, &pf):
		switch {
		case pf.Status == StatusCanceled:
			return "The generation was canceled at Replicate."
		case pf.Status == StatusAborted:
			return "The generation was aborted at Replicate because it did not start in time; try again."
		case pf.Code() == "E005":
			return "The prompt or image was flagged as sensitive by the safety filter (E005); change the prompt or lower the safety level."
		case IsTransient(pf):
			return "Replicate had a temporary problem running the model (" + pf.Code() + "): try again in a moment."
		case pf.Message != "":
			return "The generation failed at Replicate: " + strings.TrimSuffix(pf.Message, ".") + "."
		}
		return "The generation failed at Replicate."
	case errors.Is(err, context.Canceled):
		return "The request to Replicate was canceled."
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return "Replicate could not be reached (a temporary network problem): it will be retried shortly."
	}
	return "Something went wrong talking to Replicate."
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// parseError builds an *Error from a non-2xx answer whose body has been read.
func parseError(op string, status int, h http.Header, body []byte, now time.Time) *Error {
	e := &Error{StatusCode: status, Op: op}
	var pd struct {
		Title         string          `json:"title"`
		Detail        string          `json:"detail"`
		Status        json.RawMessage `json:"status"`
		InvalidFields []InvalidField  `json:"invalid_fields"`
	}
	trimmed := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &pd) == nil {
		e.Title, e.Detail, e.InvalidFields = pd.Title, pd.Detail, pd.InvalidFields
	} else if trimmed != "" && !strings.HasPrefix(trimmed, "<") {
		// Plain text from a proxy or load balancer: keep a bounded excerpt.
		e.Detail = truncate(trimmed, 300)
	}
	if e.Title == "" {
		e.Title = http.StatusText(status)
	}
	e.RetryAfter = retryAfter(h.Get("Retry-After"), e.Detail, now)
	return e
}

var resetsInRe = regexp.MustCompile(`(?i)resets in ~?\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|minutes?)?\b`)

// retryAfter reads the Retry-After header (delta-seconds or an HTTP date),
// else the "resets in ~30s" of a throttling detail, else 0.
func retryAfter(header, detail string, now time.Time) time.Duration {
	header = strings.TrimSpace(header)
	if header != "" {
		if n, err := strconv.ParseFloat(header, 64); err == nil && n >= 0 && n < 1e7 {
			return time.Duration(n * float64(time.Second))
		}
		if t, err := http.ParseTime(header); err == nil {
			if d := t.Sub(now); d > 0 {
				return d
			}
			return 0
		}
	}
	if m := resetsInRe.FindStringSubmatch(detail); m != nil {
		n, err := strconv.ParseFloat(m[1], 64)
		if err == nil && n >= 0 && n < 1e7 {
			unit := time.Second
			if strings.HasPrefix(strings.ToLower(m[2]), "m") {
				unit = time.Minute
			}
			return time.Duration(n * float64(unit))
		}
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
