package db

import (
	"strconv"

	"nanobanana/internal/jsonenc"
)

// Every state change writes an event whose data is EventData as JSON, and
// encoding/json's reflection cost about 8 µs per event on the single writer goroutine
// (a twentieth of its work per job in BenchmarkQueueOverhead). appendEventData appends
// the same bytes by hand; TestEventDataJSONMatchesEncodingJSON holds it to
// encoding/json's output of eventData, escaping included, so EventData (and its tags)
// stays the one definition of the shape.

// appendEventData appends json.Marshal(eventData(g)).
func appendEventData(b []byte, g *Generation) []byte {
	b = append(b, `{"id":`...)
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
	b = append(b, ']')
	if g.Error != "" {
		b = append(b, `,"error":`...)
		b = jsonenc.AppendString(b, g.Error)
	}
	if g.Width != 0 {
		b = append(b, `,"width":`...)
		b = strconv.AppendInt(b, int64(g.Width), 10)
	}
	if g.Height != 0 {
		b = append(b, `,"height":`...)
		b = strconv.AppendInt(b, int64(g.Height), 10)
	}
	if g.Bytes != 0 {
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, g.Bytes, 10)
	}
	b = append(b, `,"created_at":`...)
	b = jsonenc.AppendTime(b, g.CreatedAt)
	if !g.StartedAt.IsZero() {
		b = append(b, `,"started_at":`...)
		b = jsonenc.AppendTime(b, g.StartedAt)
	}
	if !g.CompletedAt.IsZero() {
		b = append(b, `,"completed_at":`...)
		b = jsonenc.AppendTime(b, g.CompletedAt)
	}
	return append(b, '}')
}
