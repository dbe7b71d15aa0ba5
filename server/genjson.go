package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"nanobanana/internal/jsonenc"
)

// The status and list answers are the hottest JSON of the API, and encoding/json spent
// a fifth of a list request's CPU walking generationJSON by reflection. These append
// the same bytes by hand into a pooled buffer. TestGenerationJSONMatchesEncodingJSON
// holds them to encoding/json's output, escaping included, so generationJSON (and its
// tags) stays the one definition of the shape.

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// writeJSONBytes answers with body built by fill, like writeJSON.
func writeJSONBytes(w http.ResponseWriter, status int, fill func([]byte) []byte) {
	bp := jsonBufs.Get().(*[]byte)
	b := fill((*bp)[:0])
	b = append(b, '\n') // as json.Encoder ends its output
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= 1<<20 { // an outsized buffer is left to the collector
		*bp = b[:0]
		jsonBufs.Put(bp)
	}
}

// appendList encodes listJSON with n items given by item; next "" is a null cursor.
func appendList(b []byte, n int, item func(i int) generationJSON, next string) []byte {
	b = append(b, `{"items":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		v := item(i)
		b = appendGeneration(b, &v)
	}
	b = append(b, `],"next_cursor":`...)
	if next == "" {
		return append(b, "null}"...)
	}
	b = jsonenc.AppendString(b, next)
	return append(b, '}')
}

func appendGeneration(b []byte, v *generationJSON) []byte {
	b = append(b, `{"id":`...)
	b = jsonenc.AppendString(b, v.ID)
	b = append(b, `,"image_id":`...)
	b = jsonenc.AppendString(b, v.ImageID)
	b = append(b, `,"status":`...)
	b = jsonenc.AppendString(b, v.Status)
	b = append(b, `,"prompt":`...)
	b = jsonenc.AppendString(b, v.Prompt)
	b = append(b, `,"resolution":`...)
	b = jsonenc.AppendString(b, v.Resolution)
	b = append(b, `,"aspect_ratio":`...)
	b = jsonenc.AppendString(b, v.AspectRatio)
	b = append(b, `,"output_format":`...)
	b = jsonenc.AppendString(b, v.OutputFormat)
	b = append(b, `,"safety_filter_level":`...)
	b = jsonenc.AppendString(b, v.SafetyFilterLevel)
	b = append(b, `,"generation_mode":`...)
	b = jsonenc.AppendString(b, v.GenerationMode)
	b = append(b, `,"reference_image_ids":`...)
	if v.ReferenceImageIDs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, id := range v.ReferenceImageIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, id)
		}
		b = append(b, ']')
	}
	b = append(b, `,"error":`...)
	b = appendOptString(b, v.Error)
	if v.QueuePosition != nil {
		b = append(b, `,"queue_position":`...)
		b = strconv.AppendInt(b, int64(*v.QueuePosition), 10)
	}
	b = append(b, `,"created_at":`...)
	b = jsonenc.AppendTime(b, v.CreatedAt)
	b = append(b, `,"started_at":`...)
	b = appendOptTime(b, v.StartedAt)
	b = append(b, `,"completed_at":`...)
	b = appendOptTime(b, v.CompletedAt)
	b = append(b, `,"image_url":`...)
	b = appendOptString(b, v.ImageURL)
	b = append(b, `,"thumbnail_url":`...)
	b = appendOptString(b, v.ThumbnailURL)
	b = append(b, `,"width":`...)
	b = appendOptInt(b, v.Width)
	b = append(b, `,"height":`...)
	b = appendOptInt(b, v.Height)
	b = append(b, `,"bytes":`...)
	if v.Bytes == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *v.Bytes, 10)
	}
	b = append(b, `,"price_usd":`...)
	b = jsonenc.AppendFloat(b, v.PriceUSD)
	return append(b, '}')
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsonenc.AppendString(b, *s)
}

func appendOptInt(b []byte, n *int) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*n), 10)
}

func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return jsonenc.AppendTime(b, *t)
}
