package db

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"nanobanana/internal/jsonenc"
)

// The one JSON shape of a generation. The status and list answers and every event
// carry the same object, built by the functions below and nowhere else:
//
//   - AppendStored writes the stored part: every field that depends neither on who
//     reads it nor on when (id, status, prompt, settings, error, times, size). An event
//     keeps exactly these bytes, written in the transaction of the change.
//   - AppendView writes a stored part followed by the fields of a View, the part that
//     depends on the reader and the moment (signed URLs, queue position, price).
//
// A status answer is AppendGeneration, which is AppendStored then AppendView's fields;
// an event at delivery is AppendView over its stored bytes: the same object, byte for
// byte, either way. encoding/json's reflection cost a fifth of a list request's CPU and
// a twentieth of the single writer's work per job, so the bytes are appended by hand;
// TestGenerationJSONMatchesEncodingJSON holds them to encoding/json's output of a
// tagged struct, escaping included.

// View is what a generation's answer adds for its reader at the moment it is read.
type View struct {
	// QueuePosition is shown for a pending generation (at least 1); omitted otherwise.
	QueuePosition int
	// ImageURL and ThumbnailURL are the signed URLs of a completed generation's files
	// ("" is null).
	ImageURL, ThumbnailURL string
	// PriceUSD is what a generation of its resolution costs.
	PriceUSD float64
	// ReferenceURLs are links to the reference images, in the order of
	// reference_image_ids: an upload's signed URL, an https:// reference as it is.
	ReferenceURLs []string
	// QueuePaused is shown for a pending generation: true when its user paused their
	// queue, and then in place of a queue position (it has none while paused).
	QueuePaused bool
}

// AppendStored appends g's stored part as a JSON object.
func AppendStored(b []byte, g *Generation) []byte {
	return append(appendStoredFields(b, g), '}')
}

// AppendGeneration appends g as the API shows it to its reader: the stored part and v.
func AppendGeneration(b []byte, g *Generation, v *View) []byte {
	b = appendStoredFields(b, g)
	return appendViewFields(b, g.Status, v)
}

// AppendView appends a stored part (AppendStored's bytes, of a generation whose status
// is status) completed with v: what AppendGeneration appends for the same generation.
func AppendView(b []byte, stored []byte, status string, v *View) []byte {
	if n := len(stored); n > 0 && stored[n-1] == '}' {
		stored = stored[:n-1]
	}
	b = append(b, stored...)
	return appendViewFields(b, status, v)
}

// appendStoredFields appends '{' and the stored fields, without the closing brace.
func appendStoredFields(b []byte, g *Generation) []byte {
	b = append(b, `{"id":`...)
	b = jsonenc.AppendString(b, g.ID)
	b = append(b, `,"image_id":`...) // the seed's clients read image_id
	b = jsonenc.AppendString(b, g.ID)
	b = append(b, `,"status":`...)
	b = jsonenc.AppendString(b, g.Status)
	b = append(b, `,"prompt":`...)
	b = jsonenc.AppendString(b, g.Prompt)
	b = append(b, `,"resolution":`...)
	b = jsonenc.AppendString(b, g.Resolution)
	b = append(b, `,"aspect_ratio":`...)
	b = jsonenc.AppendString(b, g.AspectRatio)
	b = append(b, `,"output_format":`...)
	b = jsonenc.AppendString(b, g.OutputFormat)
	b = append(b, `,"safety_filter_level":`...)
	b = jsonenc.AppendString(b, g.SafetyFilterLevel)
	b = append(b, `,"generation_mode":`...)
	b = jsonenc.AppendString(b, g.Mode)
	b = append(b, `,"reference_image_ids":[`...)
	for i, id := range g.ReferenceIDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, id)
	}
	b = append(b, `],"batch_id":`...)
	b = appendOptString(b, g.BatchID)
	b = append(b, `,"error":`...)
	if g.Error == "" {
		b = append(b, "null"...)
	} else {
		b = jsonenc.AppendString(b, g.Error)
	}
	b = append(b, `,"created_at":`...)
	b = jsonenc.AppendTime(b, g.CreatedAt.UTC())
	b = append(b, `,"started_at":`...)
	b = appendOptTime(b, g.StartedAt)
	b = append(b, `,"completed_at":`...)
	b = appendOptTime(b, g.CompletedAt)
	// The image's size is known once it is stored, that is once completed.
	if g.Status == StatusCompleted {
		b = append(b, `,"width":`...)
		b = strconv.AppendInt(b, int64(g.Width), 10)
		b = append(b, `,"height":`...)
		b = strconv.AppendInt(b, int64(g.Height), 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, g.Bytes, 10)
	} else {
		b = append(b, `,"width":null,"height":null,"bytes":null`...)
	}
	// The books (db/sqlstore/spending.go): its price, who pays, what it holds of the
	// budget now, and Replicate's metrics of its prediction.
	b = append(b, `,"cost_usd":`...)
	b = jsonenc.AppendFloat(b, USD(g.CostMicros))
	b = append(b, `,"paid_by":`...)
	b = appendOptString(b, g.PaidBy)
	b = append(b, `,"booked_usd":`...)
	b = jsonenc.AppendFloat(b, USD(g.BookedMicros))
	b = append(b, `,"metrics":`...)
	if len(g.Metrics) > 0 && json.Valid(g.Metrics) {
		b = append(b, g.Metrics...)
	} else {
		b = append(b, "null"...)
	}
	// When the current run was queued (a user's queued generations start in this
	// order), the attempt, and why the one before it did not finish.
	b = append(b, `,"queued_at":`...)
	b = appendOptTime(b, g.QueuedAt)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(AttemptOf(g)), 10)
	b = append(b, `,"retry_reason":`...)
	b = appendOptString(b, retryReasonOf(g))
	b = append(b, `,"retry_at":`...)
	if g.Status == StatusRunning && g.JobState == JobQueued {
		b = appendOptTime(b, g.RunAfter)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"error_code":`...)
	if g.Status == StatusFailed {
		b = appendOptString(b, FailureCode(g.LastError))
	} else {
		b = append(b, "null"...)
	}
	if g.Favorite {
		b = append(b, `,"favorite":true`...)
	} else {
		b = append(b, `,"favorite":false`...)
	}
	return b
}

// AttemptOf is the attempt a generation is on: for a pending or running one the attempt
// running now, or the next one while it waits in the queue (1 for a new one); for a
// finished one the attempts it took.
func AttemptOf(g *Generation) int {
	if g.Status != StatusPending && g.Status != StatusRunning {
		return g.Attempts
	}
	if g.JobState == JobQueued || g.JobState == "" {
		return g.Attempts + 1
	}
	return max(g.Attempts, 1)
}

// retryReasonOf is the reason of a pending or running generation's last retry.
func retryReasonOf(g *Generation) string {
	if g.Status != StatusPending && g.Status != StatusRunning {
		return ""
	}
	return RetryReason(g.LastError)
}

// The codes of retry_reason: why the previous attempt of a generation still running
// did not finish. They are words of this catalogue, never the technical cause (which
// may quote Replicate's answers), so a reader's page words them in its language.
const (
	RetryThrottled      = "replicate_throttled"   // Replicate answered 429
	RetryReplicateError = "replicate_error"       // Replicate answered 5xx
	RetryUnreachable    = "replicate_unreachable" // no answer: network, timeout
	RetryModelStart     = "model_start_failed"    // E6716, PA, aborted: the model did not start or was interrupted
	RetryStorageFull    = "storage_full"          // waiting for room to store
	RetryTemporary      = "temporary"             // any other temporary trouble
)

// RetryReason turns a job's last_error (the technical cause the jobs package records:
// a Replicate error's text, a network error, a storage error) into a retry_reason code;
// "" for none.
func RetryReason(lastError string) string {
	e := lastError
	switch {
	case e == "":
		return ""
	case strings.Contains(e, "storage full"):
		return RetryStorageFull
	case strings.Contains(e, "HTTP 429"):
		return RetryThrottled
	case strings.Contains(e, "HTTP 5"):
		return RetryReplicateError
	case strings.Contains(e, "(E6716)"), strings.Contains(e, "(code: PA)"), strings.Contains(e, " aborted"):
		return RetryModelStart
	case strings.HasPrefix(e, "replicate: "), strings.Contains(e, "deadline exceeded"), strings.Contains(e, "timeout"):
		return RetryUnreachable
	}
	return RetryTemporary
}

// FailureSafety is the error_code of a generation the safety filter stopped (Replicate's
// E005): editing the prompt is the way on, not running it again as it is.
const FailureSafety = "safety_filter"

// FailureCode is a failed generation's error_code, from its last_error; "" when the
// failure has no code of its own (its error sentence says what happened).
func FailureCode(lastError string) string {
	if strings.Contains(lastError, "(E005)") {
		return FailureSafety
	}
	return ""
}

// appendViewFields appends v's fields and the closing brace.
func appendViewFields(b []byte, status string, v *View) []byte {
	// A pending generation says whether its user's queue is paused (always, so a client
	// merging updates sees it end); while paused it has no position.
	switch {
	case status == StatusPending && v.QueuePaused:
		b = append(b, `,"queue_paused":true`...)
	case status == StatusPending:
		b = append(b, `,"queue_paused":false,"queue_position":`...)
		b = strconv.AppendInt(b, int64(max(v.QueuePosition, 1)), 10)
	}
	b = append(b, `,"image_url":`...)
	b = appendOptString(b, v.ImageURL)
	b = append(b, `,"thumbnail_url":`...)
	b = appendOptString(b, v.ThumbnailURL)
	b = append(b, `,"price_usd":`...)
	b = jsonenc.AppendFloat(b, v.PriceUSD)
	b = append(b, `,"reference_urls":[`...)
	for i, u := range v.ReferenceURLs {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, u)
	}
	return append(b, "]}"...)
}

func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return jsonenc.AppendString(b, s)
}

func appendOptTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	return jsonenc.AppendTime(b, t.UTC())
}
