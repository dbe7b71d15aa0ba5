package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"nanobanana/internal/pgtest"
	"nanobanana/internal/proctest"
)

// Two serve processes on one PostgreSQL database hold one user's spending limit
// together: with budget for exactly ten images, 50 generates sent at once, half to
// each process, queue exactly ten; the other 40 answer 429 spending_limit, and the
// books hold exactly the ten reservations. A setting stored in the database reaches
// both processes at once (LISTEN/NOTIFY): the price both show changes together.
func TestPostgresTwoProcessesShareSpendingLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("two-process PostgreSQL test skipped in -short mode")
	}
	dsn := pgtest.DSN(t)
	pg, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })

	api := proctest.StartFakeReplicate(t, "-queue-time", "200ms", "-run-time", "500ms")
	env := append([]string{
		"DATA_DIR=" + t.TempDir(),
		"SECRET_KEY=two-processes-share-this-secret-key-0123456789",
		"REPLICATE_API_BASE=" + api, "REPLICATE_API_TOKEN=r8_shared_test_token",
		"MAX_WORKERS=2", "LOG_LEVEL=warn", "DATABASE=postgres", "LIMIT_DAY_USD=1.50",
	}, seedPostgresEnv(t, dsn)...)
	a := startServe(t, t.TempDir(), env)
	b := startServe(t, t.TempDir(), env)

	code, reg := postJSON(t, a.URL+"/api/v1/auth/register", "", map[string]string{
		"username": "spender", "email": "spender@example.com", "password": "spender-password"})
	if code != 201 {
		t.Fatalf("register: %d %v", code, reg)
	}
	tok := reg["access_token"].(string)
	userID := int64(reg["user"].(map[string]any)["id"].(float64))

	var mu sync.Mutex
	answers := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		wg.Go(func() {
			<-start
			code, body := postJSON(t, base+"/api/v1/images/generate", tok, map[string]string{
				"prompt": fmt.Sprintf("two processes, one budget %d", i), "resolution": "1K"})
			mu.Lock()
			answers[code]++
			mu.Unlock()
			if code == 429 && body["code"] != "spending_limit" {
				t.Errorf("429 with code %v", body["code"])
			}
		})
	}
	close(start)
	wg.Wait()
	if answers[202] != 10 || answers[429] != 40 {
		t.Fatalf("answers %v; want 10 accepted (202) and 40 refused (429)\n--- A:\n%s\n--- B:\n%s", answers, a.Logs.String(), b.Logs.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var micros, images int64
	if err := pg.QueryRowContext(ctx, `SELECT coalesce(sum(micros), 0), coalesce(sum(images), 0) FROM spending WHERE user_id = $1`,
		userID).Scan(&micros, &images); err != nil {
		t.Fatal(err)
	}
	if micros != 1_500_000 || images != 10 {
		t.Errorf("books: %d micros, %d images; want 1500000 and 10", micros, images)
	}

	// A price stored in the database (as the admin settings do) reaches both processes.
	if _, err := pg.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('prices', '{"1K":0.2,"2K":0.25,"4K":0.5}', 0)`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*proc{a, b} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, meta := getJSON(t, p.URL+"/api/v1/meta", "")
			if v, _ := meta["prices_usd"].(map[string]any)["2K"].(float64); strconv.FormatFloat(v, 'f', -1, 64) == "0.25" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never showed the stored price: %v", p.URL, meta["prices_usd"])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
