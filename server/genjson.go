package server

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
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
	b = appendJSONString(b, next)
	return append(b, '}')
}

func appendGeneration(b []byte, v *generationJSON) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, v.ID)
	b = append(b, `,"image_id":`...)
	b = appendJSONString(b, v.ImageID)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, v.Status)
	b = append(b, `,"prompt":`...)
	b = appendJSONString(b, v.Prompt)
	b = append(b, `,"resolution":`...)
	b = appendJSONString(b, v.Resolution)
	b = append(b, `,"aspect_ratio":`...)
	b = appendJSONString(b, v.AspectRatio)
	b = append(b, `,"output_format":`...)
	b = appendJSONString(b, v.OutputFormat)
	b = append(b, `,"safety_filter_level":`...)
	b = appendJSONString(b, v.SafetyFilterLevel)
	b = append(b, `,"generation_mode":`...)
	b = appendJSONString(b, v.GenerationMode)
	b = append(b, `,"reference_image_ids":`...)
	if v.ReferenceImageIDs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, id := range v.ReferenceImageIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, id)
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
	b = appendJSONTime(b, v.CreatedAt)
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
	b = appendJSONFloat(b, v.PriceUSD)
	return append(b, '}')
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
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
	return appendJSONTime(b, *t)
}

// appendJSONTime is time.Time's MarshalJSON (RFC 3339 with as many fraction digits as
// needed) without its allocation. Years outside 0-9999, which MarshalJSON refuses,
// cannot come from the database's millisecond timestamps.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONFloat formats like encoding/json: plain decimal within [1e-6, 1e21), which
// every price is; the rare others go through encoding/json itself.
func appendJSONFloat(b []byte, f float64) []byte {
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	out, err := json.Marshal(f)
	if err != nil { // NaN or infinity: encoding/json would have failed the whole answer
		return append(b, '0')
	}
	return append(b, out...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does by default: <, > and & as \u escapes
// (HTML-safe), U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
