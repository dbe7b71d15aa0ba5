package db

import (
	"encoding/json"
	"strconv"
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
	return b
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
	return append(b, '}')
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
