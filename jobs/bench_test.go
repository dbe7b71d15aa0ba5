package jobs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/replicate"
	"nanobanana/replicate/replicatetest"
)

// BenchmarkQueueOverhead runs b.N generations against a fake that answers at once (no
// queue or run time): enqueue, claim, the submitting and prediction commits, the create
// over HTTP and the completing transaction; the image step is replaced by a no-op so
// this is the queue's own cost. BenchmarkPipeline includes the image step.
func BenchmarkQueueOverhead(b *testing.B) { benchPipeline(b, false) }

// BenchmarkPipeline is BenchmarkQueueOverhead with the real download, storage and
// thumbnail of a 1K JPEG, which dominate the cost per job.
func BenchmarkPipeline(b *testing.B) { benchPipeline(b, true) }

func benchPipeline(b *testing.B, images bool) {
	e := newEnv(b, replicatetest.Config{QueueTime: -1, RunTime: -1})
	u := e.user("alice")
	var users []int64
	for i := range 4 {
		users = append(users, e.user(fmt.Sprint("user", i)))
	}
	users = append(users, u)
	s := e.service(func(o *Options) { o.MaxWorkers = 8; o.PollMin = time.Millisecond })
	if !images {
		s.storeOutput = func(ctx context.Context, r *run, g *db.Generation, _ string, _ *replicate.Prediction) error {
			return s.o.DB.CompleteJob(ctx, r.job.ID, r.owner, g.ID, db.Result{ImageKey: "k", ImageType: "image/jpeg",
				ThumbKey: "t", Width: 1, Height: 1, Bytes: 1, SHA256: "x"})
		}
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(ctx)
	b.ResetTimer()
	start := time.Now()
	ids := make([]struct {
		u  int64
		id string
	}, b.N)
	for i := range b.N {
		uid := users[i%len(users)]
		g, err := s.Enqueue(ctx, uid, params(fmt.Sprint("bench ", i)))
		if err != nil {
			b.Fatal(err)
		}
		ids[i].u, ids[i].id = uid, g.ID
	}
	for _, x := range ids {
		for {
			g, err := e.db.GetGeneration(ctx, x.u, x.id)
			if err != nil {
				b.Fatal(err)
			}
			if g.Terminal() {
				if g.Status != db.StatusCompleted {
					b.Fatalf("%s: %s", g.Status, g.Error)
				}
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}

// BenchmarkEnqueueToClaim measures, with idle workers, the time from Enqueue returning to
// a worker claiming the job (the Notify path, not the poll fallback). Reported as the
// median and 99th percentile in microseconds.
func BenchmarkEnqueueToClaim(b *testing.B) {
	e := newEnv(b, replicatetest.Config{QueueTime: -1, RunTime: -1})
	u := e.user("alice")
	claimed := make(chan time.Time, 1)
	s := e.service(func(o *Options) { o.PollInterval = time.Minute })
	s.onClaim = func(db.Job) { claimed <- time.Now() }
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(ctx)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		g, err := s.Enqueue(ctx, u, params(fmt.Sprint("latency ", i)))
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		at := <-claimed
		lat = append(lat, at.Sub(t0))
		b.StopTimer()
		e.waitDone(u, g.ID) // idle workers again before the next one
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkCreateGeneration measures the durable enqueue transaction (the generation's
// row with its job, queue position, event) from several goroutines, as HTTP handlers
// would call it, with the queue growing as it runs.
func BenchmarkCreateGeneration(b *testing.B) {
	e := newEnv(b, replicatetest.Config{})
	var users []int64
	for i := range 16 {
		users = append(users, e.user(fmt.Sprint("user", i)))
	}
	ctx := context.Background()
	var n sync.Mutex
	i := 0
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Lock()
			uid := users[i%len(users)]
			i++
			n.Unlock()
			if _, err := e.db.CreateGeneration(ctx, uid, params("enqueue"), db.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
}
