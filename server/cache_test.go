package server

import (
	"testing"
	"time"
)

// A verified token is remembered, but never past its own expiry (plus the leeway), and
// a token that differs by one character is checked afresh.
func TestVerifiedTokenCacheEndsAtExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tk := newTokens("a-secret-of-enough-length-for-hs256-use", "HS256", time.Minute, func() time.Time { return now })
	raw, _, err := tk.issue(7, 3, "s1")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // first parse verifies, second comes from the cache
		if u, v, s, _, err := tk.parse(raw); err != nil || u != 7 || v != 3 || s != "s1" {
			t.Fatalf("parse: %d %d %q %v", u, v, s, err)
		}
	}
	if _, _, _, _, err := tk.parse(raw[:len(raw)-1] + "A"); err == nil && raw[len(raw)-1] != 'A' {
		t.Fatal("a token with another signature was accepted")
	}
	now = now.Add(time.Minute + tokenLeeway - time.Second)
	if _, _, _, _, err := tk.parse(raw); err != nil {
		t.Fatalf("inside the leeway: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, _, _, _, err := tk.parse(raw); err == nil {
		t.Fatal("an expired token was accepted from the cache")
	}
}

// A remembered signed URL is only handed out for the expiry bucket it was made in.
func TestSignedURLCacheKeepsOneBucket(t *testing.T) {
	var c signedURLs
	k := signedKey{kind: kindImage, id: "g1", user: 7}
	c.put(k, 900, "/a?exp=900")
	if u, ok := c.get(k, 900); !ok || u != "/a?exp=900" {
		t.Fatalf("same bucket: %q %v", u, ok)
	}
	if _, ok := c.get(signedKey{kind: kindThumb, id: "g1", user: 7}, 900); ok {
		t.Fatal("a thumbnail got the image's URL")
	}
	if _, ok := c.get(signedKey{kind: kindImage, id: "g1", user: 8}, 900); ok {
		t.Fatal("another user got the URL")
	}
	if _, ok := c.get(k, 1800); ok {
		t.Fatal("a URL of the previous bucket was handed out for the next")
	}
	c.put(k, 1800, "/a?exp=1800")
	if _, ok := c.get(k, 900); ok {
		t.Fatal("the old bucket survived the move")
	}
}
