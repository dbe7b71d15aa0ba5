package jsonenc

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// Each appender gives byte for byte what encoding/json gives for the same value.
func TestMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\ <b>&amp; \n\r\t\b\f \x01\x1f\x7f é 日本",
		"\u2028\u2029", "bad\xff\xfe end", "🍌", "\xed\xa0\x80 surrogate"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q)\n got %s\nwant %s", s, got, want)
		}
	}
	for _, tm := range []time.Time{time.UnixMilli(1767225600123).UTC(), time.UnixMilli(0).UTC(),
		time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("x", 3600))} {
		want, _ := json.Marshal(tm)
		if got := AppendTime(nil, tm); string(got) != string(want) {
			t.Errorf("AppendTime(%v) = %s; want %s", tm, got, want)
		}
	}
	for _, f := range []float64{0, 0.15, 0.3, -2.5, 1e-7, 1e21, 1e22, 123456789.125, math.SmallestNonzeroFloat64} {
		want, _ := json.Marshal(f)
		if got := AppendFloat(nil, f); string(got) != string(want) {
			t.Errorf("AppendFloat(%v) = %s; want %s", f, got, want)
		}
	}
	if got := AppendFloat(nil, math.NaN()); string(got) != "0" {
		t.Errorf("AppendFloat(NaN) = %s; want 0 (encoding/json refuses it)", got)
	}
}
