package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"nanobanana/db"
)

// benchReads builds a server with one user owning n completed generations and returns
// the server, the user's session and the generations' ids, newest last.
func benchReads(b *testing.B, n int) (*testServer, session, []string) {
	b.Helper()
	ts := newTestServer(b)
	u := ts.register(b, "reader")
	ctx := context.Background()
	var ids []string
	for i := range n {
		g, err := ts.DB.CreateGeneration(ctx, u.ID, db.Params{Prompt: fmt.Sprint("bench ", i), Resolution: "1K",
			AspectRatio: "1:1", OutputFormat: "jpg", SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage}, db.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, g.ID)
		time.Sleep(time.Millisecond) // distinct created_at, like real traffic
	}
	for {
		jobs, err := ts.DB.ClaimJobs(ctx, "bench", time.Now().Add(time.Minute), 100, 100)
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) == 0 {
			break
		}
		for _, j := range jobs {
			if err := ts.DB.CompleteJob(ctx, j.ID, "bench", j.GenerationID, db.Result{ImageKey: "u/k.jpg",
				ImageType: "image/jpeg", ThumbKey: "u/k_thumb.jpg", Width: 1024, Height: 1024, Bytes: 500000, SHA256: "00"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return ts, u, ids
}

// getLoop runs GETs of path from parallel clients (as wrk's connections would) and
// reports requests per second. Client and server share the machine's cores.
func getLoop(b *testing.B, ts *testServer, token, path string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("GET %s: %d", path, resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkStatusHTTP is an authenticated read of one completed generation over HTTP.
func BenchmarkStatusHTTP(b *testing.B) {
	ts, u, ids := benchReads(b, 1)
	getLoop(b, ts, u.Access, "/api/v1/images/status/"+ids[0])
}

// BenchmarkListHTTP is an authenticated first page of 20 out of 50 completed generations.
func BenchmarkListHTTP(b *testing.B) {
	ts, u, _ := benchReads(b, 50)
	getLoop(b, ts, u.Access, "/api/v1/images/list?limit=20")
}
