package server

import (
	"slices"
	"testing"
	"time"

	"nanobanana/db"
)

// A zip link names its user, its kind and its ids under a signature, and lasts
// zipLinkTTL: a later clock, another key, a changed byte or a cut token refuse it.
func TestZipTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key, _ := deriveSignKey("zip-token-test-secret")
	s := &Server{signKey: key, now: func() time.Time { return now }}
	ids := []string{db.NewID(), db.NewID()}
	tok := s.zipToken(42, now.Add(zipLinkTTL), zipOfIDs, ids)
	uid, exp, kind, got, err := s.parseZipToken(tok)
	if err != nil || uid != 42 || !exp.Equal(now.Add(zipLinkTTL)) || kind != zipOfIDs || !slices.Equal(got, ids) {
		t.Fatalf("parsed %d %v %d %v %v", uid, exp, kind, got, err)
	}
	board := s.zipToken(42, now.Add(zipLinkTTL), zipOfBoard, ids[:1])
	if _, _, kind, got, err := s.parseZipToken(board); err != nil || kind != zipOfBoard || !slices.Equal(got, ids[:1]) {
		t.Fatalf("board token: %d %v %v", kind, got, err)
	}
	other, _ := deriveSignKey("another secret")
	bad := map[string]string{
		"cut short":      tok[:len(tok)-4],
		"empty":          "",
		"not base64":     "!!!!",
		"another key":    (&Server{signKey: other, now: s.now}).zipToken(42, now.Add(zipLinkTTL), zipOfIDs, ids),
		"a board of two": s.zipToken(42, now.Add(zipLinkTTL), zipOfBoard, ids),
		"no ids":         s.zipToken(42, now.Add(zipLinkTTL), zipOfIDs, nil),
		"expired":        s.zipToken(42, now, zipOfIDs, ids),
		"no user":        s.zipToken(0, now.Add(zipLinkTTL), zipOfIDs, ids),
	}
	flipped := []byte(tok)
	flipped[3] ^= 1
	bad["a changed byte"] = string(flipped)
	for name, raw := range bad {
		if _, _, _, _, err := s.parseZipToken(raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The same token, a minute after its expiry.
	now = now.Add(zipLinkTTL + time.Minute)
	if _, _, _, _, err := s.parseZipToken(tok); err == nil {
		t.Error("an expired link was accepted")
	}
}
