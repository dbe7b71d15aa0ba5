package server

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"nanobanana/db"
)

// One user with budget for exactly ten images (1.50 at 0.15) sends 50 generates at once
// over real HTTP: exactly ten are queued, the other 40 answer 429 spending_limit with
// Retry-After, and the books hold exactly the ten reservations. (Run with
// NANOBANANA_TEST_DB=postgres for PostgreSQL; e2e_postgres_test.go has two processes.)
func TestSpendingLimitRaceOverHTTP(t *testing.T) {
	pl := newPipeline(t)
	admin := pl.register(t, "admin")
	u := pl.register(t, "spender")
	r := pl.do(t, call{Method: "PUT", Path: "/api/v1/admin/limits/" + strconv.FormatInt(u.ID, 10), Token: admin.Access,
		Body: map[string]any{"day_usd": 1.5}})
	if r.Status != http.StatusOK {
		t.Fatalf("set limits: %d %s", r.Status, r.Body)
	}
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		wg.Go(func() {
			<-start
			r := pl.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: u.Access,
				Body: map[string]any{"prompt": "race " + strconv.Itoa(i), "resolution": "1K"}})
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
			if r.Status == http.StatusTooManyRequests {
				if r.Code(t) != db.CodeSpendingLimit || r.Header.Get("Retry-After") == "" {
					t.Errorf("refusal: %s %v", r.Body, r.Header)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if statuses[http.StatusAccepted] != 10 || statuses[http.StatusTooManyRequests] != 40 {
		t.Fatalf("answers: %v; want 10 accepted and 40 refused", statuses)
	}
	var micros int64
	var images int
	if err := pl.DB.Raw(context.Background(), `SELECT coalesce(sum(micros), 0), coalesce(sum(images), 0) FROM spending WHERE user_id = ?`,
		[]any{u.ID}, &micros, &images); err != nil {
		t.Fatal(err)
	}
	var held int64
	if err := pl.DB.Raw(context.Background(), `SELECT coalesce(sum(booked_micros + reserved_micros), 0) FROM generations WHERE user_id = ?`,
		[]any{u.ID}, &held); err != nil {
		t.Fatal(err)
	}
	if micros != 1_500_000 || images != 10 || held != 1_500_000 {
		t.Errorf("books: %d micros, %d images, generations hold %d; want 1500000, 10, 1500000", micros, images, held)
	}
}

// Over a limit, the answer names the limit and when it resets, Retry-After counts the
// seconds until then, in English and Russian; the usage answer shows what is left.
func TestSpendingLimitAnswer(t *testing.T) {
	pl := newPipeline(t)
	admin := pl.register(t, "admin")
	u := pl.register(t, "limited")
	other := pl.register(t, "other")
	path := "/api/v1/admin/limits/" + strconv.FormatInt(u.ID, 10)
	if r := pl.do(t, call{Method: "PUT", Path: path, Token: admin.Access, Body: map[string]any{"day_images": 1, "month_usd": 10}}); r.Status != http.StatusOK {
		t.Fatalf("set limits: %d %s", r.Status, r.Body)
	}
	use := pl.do(t, call{Method: "GET", Path: "/api/v1/users/usage", Token: u.Access}).JSON(t)
	left := use["left"].(map[string]any)
	if left["day_images"] != 1.0 || left["month_usd"] != 10.0 || left["day_usd"] != 10.0 || left["month_images"] != nil || use["limits_source"] != "override" {
		t.Errorf("usage before: %v", use)
	}
	g := pl.generate(t, u.Access, map[string]any{"prompt": "one", "resolution": "4K"})
	if g["cost_usd"] != 0.3 || g["paid_by"] != "shared" || g["booked_usd"] != 0.3 {
		t.Errorf("the generation's books: cost %v, paid by %v, booked %v", g["cost_usd"], g["paid_by"], g["booked_usd"])
	}
	r := pl.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: u.Access, Body: map[string]any{"prompt": "two"}})
	if r.Status != http.StatusTooManyRequests || r.Code(t) != db.CodeSpendingLimit {
		t.Fatalf("over the limit: %d %s", r.Status, r.Body)
	}
	wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
	until := time.Until(db.NextDay(time.Now()))
	if err != nil || wait <= 0 || time.Duration(wait)*time.Second > until+2*time.Second || time.Duration(wait)*time.Second < until-time.Minute {
		t.Errorf("Retry-After %q, want about %v", r.Header.Get("Retry-After"), until)
	}
	if d := r.Detail(t); !strings.Contains(d, "1 image today") || !strings.Contains(d, "midnight UTC") {
		t.Errorf("sentence: %q", d)
	}
	ru := pl.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: u.Access, Body: map[string]any{"prompt": "two"},
		Header: http.Header{"Accept-Language": {"ru"}}})
	if !strings.Contains(ru.Detail(t), "лимит расходов") {
		t.Errorf("Russian sentence: %q", ru.Detail(t))
	}
	use = pl.do(t, call{Method: "GET", Path: "/api/v1/users/usage", Token: u.Access}).JSON(t)
	left = use["left"].(map[string]any)
	if left["day_images"] != 0.0 || left["month_usd"] != 9.7 {
		t.Errorf("usage after: %v", use)
	}
	// Another user's usage shows none of it, and the other user's own limit is theirs.
	ou := pl.do(t, call{Method: "GET", Path: "/api/v1/users/usage", Token: other.Access}).JSON(t)
	if ou["spent"].(map[string]any)["day_images"] != 0.0 || ou["limits_source"] != "default" {
		t.Errorf("another user's usage: %v", ou)
	}
	// The user's own limit, set by themselves, applies on top.
	r = pl.do(t, call{Method: "PUT", Path: "/api/v1/users/limits", Token: other.Access, Body: map[string]any{"day_usd": 0.1}})
	if r.Status != http.StatusOK {
		t.Fatalf("self limits: %d %s", r.Status, r.Body)
	}
	r = pl.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: other.Access, Body: map[string]any{"prompt": "mine"}})
	if r.Status != http.StatusTooManyRequests || !strings.Contains(r.Detail(t), "you set yourself") {
		t.Errorf("past a self limit: %d %s", r.Status, r.Body)
	}
	if r := pl.do(t, call{Method: "PUT", Path: "/api/v1/users/limits", Token: other.Access, Body: map[string]any{"day_usd": -1}}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("a negative limit: %d", r.Status)
	}
	// Back to the defaults (none): generating works again.
	if r := pl.do(t, call{Method: "DELETE", Path: path, Token: admin.Access}); r.Status != http.StatusOK || r.JSON(t)["override"] != nil {
		t.Fatalf("clear limits: %d %s", r.Status, r.Body)
	}
	pl.generate(t, u.Access, map[string]any{"prompt": "three"})
	// The admin sees the books per day, and as CSV.
	use2 := pl.do(t, call{Method: "GET", Path: "/api/v1/admin/usage", Token: admin.Access}).JSON(t)
	total := use2["total"].(map[string]any)
	if total["images"] != 2.0 || total["usd"] != 0.45 || len(use2["days"].([]any)) != 30 {
		t.Errorf("admin usage: %v", use2)
	}
	c := pl.do(t, call{Method: "GET", Path: "/api/v1/admin/usage.csv?user_id=" + strconv.FormatInt(u.ID, 10), Token: admin.Access})
	recs, err := csv.NewReader(strings.NewReader(string(c.Body))).ReadAll()
	if err != nil || c.Status != http.StatusOK || len(recs) != 2 || recs[1][2] != "limited" || recs[1][4] != "0.45" || recs[1][5] != "2" {
		t.Errorf("usage CSV: %d %q %v", c.Status, recs, err)
	}
	if r := pl.do(t, call{Method: "GET", Path: "/api/v1/admin/usage?from=2026-02-01&to=2026-01-01", Token: admin.Access}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("a reversed range: %d", r.Status)
	}
	if r := pl.do(t, call{Method: "GET", Path: "/api/v1/admin/limits/999999", Token: admin.Access}); r.Status != http.StatusNotFound {
		t.Errorf("limits of no user: %d", r.Status)
	}
}

// A retry of a failed generation reserves again and is refused past the limit.
func TestSpendingRetryReserves(t *testing.T) {
	pl := newPipeline(t)
	admin := pl.register(t, "admin")
	u := pl.register(t, "retrier")
	g := pl.generate(t, u.Access, map[string]any{"prompt": "fails [[fail]]"})
	id := g["id"].(string)
	done := pl.waitStatus(t, u.Access, id, "failed")
	if done["booked_usd"] != 0.15 {
		t.Errorf("a failed prediction's booking: %v", done["booked_usd"])
	}
	if r := pl.do(t, call{Method: "PUT", Path: "/api/v1/admin/limits/" + strconv.FormatInt(u.ID, 10), Token: admin.Access,
		Body: map[string]any{"day_images": 1}}); r.Status != http.StatusOK {
		t.Fatal(r.Status)
	}
	r := pl.do(t, call{Method: "POST", Path: "/api/v1/images/retry/" + id, Token: u.Access})
	if r.Status != http.StatusTooManyRequests || r.Code(t) != db.CodeSpendingLimit {
		t.Errorf("retry past the limit: %d %s", r.Status, r.Body)
	}
}
