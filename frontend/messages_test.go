package frontend

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"nanobanana/db"
)

// Every code of the error catalogue (db/errors.go) has the page's own sentence in English
// and in Russian in app/messages.js, so a code added without its texts fails here. The
// file keeps one line per code; the browser test TestBrowserMessagesByCode renders them.
func TestMessageForEveryCode(t *testing.T) {
	src, err := os.ReadFile("app/messages.js")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(src), "export const byCode = {")
	end := strings.Index(string(src), "\n};")
	if start < 0 || end < start {
		t.Fatal("app/messages.js has no byCode table")
	}
	line := regexp.MustCompile(`(?m)^  ([a-z_]+): \{ en: (.+?), ru: (.+?)((, (settings|detail): true)*) \},$`)
	texts := map[string][2]string{}
	for _, m := range line.FindAllStringSubmatch(string(src[start:end]), -1) {
		if _, dup := texts[m[1]]; dup {
			t.Errorf("code %s has two lines", m[1])
		}
		texts[m[1]] = [2]string{m[2], m[3]}
	}
	if len(texts) < 10 {
		t.Fatalf("read only %d codes from app/messages.js: its format changed", len(texts))
	}
	cyrillic := func(s string) bool {
		return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) })
	}
	// Words of the server's or a script's, not a person's: routes, settings' variables.
	forbidden := regexp.MustCompile(`/api/|[A-Z]{3,}_[A-Z]{3,}|\b(PUT|POST|GET|DELETE)\b`)
	for _, c := range db.Codes() {
		tx, ok := texts[string(c)]
		if !ok {
			t.Errorf("code %s has no line in app/messages.js (English and Russian)", c)
			continue
		}
		en, ru := tx[0], tx[1]
		if len(en) < 20 || cyrillic(en) {
			t.Errorf("code %s: the English text %s is missing or not English", c, en)
		}
		if !cyrillic(ru) {
			t.Errorf("code %s: the Russian text %s has no Russian in it", c, ru)
		}
		if forbidden.MatchString(en) || forbidden.MatchString(ru) {
			t.Errorf("code %s: a text names a route or a variable: %s / %s", c, en, ru)
		}
	}
}
