package db

import (
	"strconv"
	"time"
	"unicode/utf8"
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
	b = appendJSONString(b, g.ID)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, g.Status)
	b = append(b, `,"prompt":`...)
	b = appendJSONString(b, g.Prompt)
	b = append(b, `,"resolution":`...)
	b = appendJSONString(b, g.Resolution)
	b = append(b, `,"aspect_ratio":`...)
	b = appendJSONString(b, g.AspectRatio)
	b = append(b, `,"output_format":`...)
	b = appendJSONString(b, g.OutputFormat)
	b = append(b, `,"safety_filter_level":`...)
	b = appendJSONString(b, g.SafetyFilterLevel)
	b = append(b, `,"generation_mode":`...)
	b = appendJSONString(b, g.Mode)
	if g.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, g.Error)
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
	b = appendJSONTime(b, g.CreatedAt)
	if !g.StartedAt.IsZero() {
		b = append(b, `,"started_at":`...)
		b = appendJSONTime(b, g.StartedAt)
	}
	if !g.CompletedAt.IsZero() {
		b = append(b, `,"completed_at":`...)
		b = appendJSONTime(b, g.CompletedAt)
	}
	return append(b, '}')
}

// appendJSONTime is time.Time's MarshalJSON (RFC 3339 with as many fraction digits as
// needed). Years outside 0-9999, which MarshalJSON refuses, cannot come from the
// database's millisecond timestamps.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString quotes s as encoding/json does: HTML-safe (<, > and & escaped),
// invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
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
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
