package server

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// The hand-written encoder must give byte for byte what encoding/json gives for the same
// value, so clients see no difference: escaping, nulls, optional fields, times, floats.
func TestGenerationJSONMatchesEncodingJSON(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	big := int64(1) << 40
	tm := func(t time.Time) *time.Time { return &t }
	created := time.UnixMilli(1767225600123).UTC()
	odd := "quote\" back\\ <b>&amp; \n\r\t\b\f \x01\x1f é 日本 \u2028\u2029 bad\xff\xfe end 🍌"
	cases := []generationJSON{
		{ID: "a", ImageID: "a", Status: "pending", Prompt: "a cat", Resolution: "1K",
			AspectRatio: "16:9", OutputFormat: "png", SafetyFilterLevel: "block_only_high",
			GenerationMode: "text-to-image", ReferenceImageIDs: []string{}, QueuePosition: num(3),
			CreatedAt: created, PriceUSD: 0.15},
		{ID: "b", ImageID: "b", Status: "completed", Prompt: odd, Resolution: "4K",
			ReferenceImageIDs: []string{"x", odd}, Error: str(odd), CreatedAt: time.UnixMilli(1767225600000).UTC(),
			StartedAt: tm(time.UnixMilli(1767225601100).UTC()), CompletedAt: tm(time.UnixMilli(1767225609999).UTC()),
			ImageURL: str("/api/v1/images/file/b?u=1&exp=2&sig=a-b_c"), ThumbnailURL: str("https://x.example/t?a=<1>"),
			Width: num(4096), Height: num(0), Bytes: &big, PriceUSD: 0.3},
		{ReferenceImageIDs: nil, PriceUSD: 0},
		{PriceUSD: 1e-7}, {PriceUSD: 1e22}, {PriceUSD: -2.5}, {PriceUSD: 123456789.125},
	}
	for i, v := range cases {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendGeneration(nil, &v); !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
	next := "MTc2.<&>"
	for _, l := range []listJSON{{Items: cases[:2], NextCursor: &next}, {Items: []generationJSON{}}} {
		want, _ := json.Marshal(l)
		cursor := ""
		if l.NextCursor != nil {
			cursor = *l.NextCursor
		}
		b := appendList(nil, len(l.Items), func(i int) generationJSON { return l.Items[i] }, cursor)
		if !bytes.Equal(b, want) {
			t.Errorf("list:\n got %s\nwant %s", b, want)
		}
	}
}
