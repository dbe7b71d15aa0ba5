package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"nanobanana/db"
	"nanobanana/internal/dbtest"
)

// With the database full, generate answers 507 storage_full with a sentence (it was a
// bare 500) and /readyz says not ready (it said ready); once there is room, generate
// works again. The database is made full as a full disk would: SQLite's
// max_page_count set to the file's size.
func TestFullDatabaseAnswers507AndIsNotReady(t *testing.T) {
	t.Parallel()
	dbtest.SQLiteOnly(t) // max_page_count is SQLite's; PostgreSQL's disk_full maps the same way
	p := newPipeline(t)
	u := p.register(t, "alice")
	ctx := context.Background()
	if r := p.do(t, call{Method: "GET", Path: "/readyz"}); r.Status != 200 {
		t.Fatalf("readyz before: %d", r.Status)
	}
	var pages int64
	if err := p.DB.Raw(ctx, `PRAGMA page_count`, nil, &pages); err != nil {
		t.Fatal(err)
	}
	if err := p.DB.Raw(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages), nil, &pages); err != nil {
		t.Fatal(err)
	}
	var r reply
	for i := range 10_000 {
		r = p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: u.Access,
			Body: map[string]any{"prompt": fmt.Sprint("filling ", i, strings.Repeat(" words", 100)), "resolution": "1K"}})
		if r.Status != http.StatusAccepted {
			break
		}
	}
	if r.Status != http.StatusInsufficientStorage || r.Code(t) != db.CodeStorageFull || !strings.Contains(r.Detail(t), "storage is full") {
		t.Fatalf("generate into a full database: %d %s; want 507 storage_full with a sentence", r.Status, r.Body)
	}
	ready := p.do(t, call{Method: "GET", Path: "/readyz"})
	if ready.Status != http.StatusServiceUnavailable || !strings.Contains(ready.Detail(t), "storage is full") {
		t.Fatalf("readyz while writes fail: %d %s", ready.Status, ready.Body)
	}
	if err := p.DB.Raw(ctx, `PRAGMA max_page_count = 1073741823`, nil, &pages); err != nil {
		t.Fatal(err)
	}
	p.generate(t, u.Access, map[string]any{"prompt": "room again", "resolution": "1K"})
}
