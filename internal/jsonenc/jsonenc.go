// Package jsonenc appends JSON values to byte slices exactly as encoding/json would
// encode them, without its reflection and allocations: the hot answers (a generation,
// a page of them, an event) are written by hand with these. Tests hold the output to
// encoding/json's byte for byte.
package jsonenc

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendTime appends time.Time's MarshalJSON (RFC 3339 with as many fraction digits as
// needed) without its allocation. Years outside 0-9999, which MarshalJSON refuses,
// cannot come from the database's millisecond timestamps.
func AppendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// AppendFloat formats like encoding/json: plain decimal within [1e-6, 1e21), which
// every price is; the rare others go through encoding/json itself.
func AppendFloat(b []byte, f float64) []byte {
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

// AppendString quotes s as encoding/json does by default: <, > and & as \u escapes
// (HTML-safe), U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func AppendString(b []byte, s string) []byte {
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
