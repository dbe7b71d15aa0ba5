package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
	"nanobanana/internal/population"
)

// BenchmarkListMillion lists pages from a database of 1,000,000 generations (the shared
// generator, internal/population): one user, heavy, has 100,000; 999 others ~900 each.
// Each case reports its latency's p50 and p99 over b.N first pages of 20. The
// "others-*" case measures another user's status read (GetGeneration) while eight
// goroutines list the heavy user's running generations without pause. The "before/"
// cases run the list's statement as it was before migration 0011 (one text for every
// status, read through generations_user_created), on the same data. The fill takes about
// a minute; run it on its own:
//
//	go test -run '^$' -bench ListMillion -benchtime 2000x ./db/sqlite
func BenchmarkListMillion(b *testing.B) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(b.TempDir(), "million.db"), db.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	pop, err := population.Fill(ctx, d, population.Spec{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("filled 1,000,000 generations in %v", time.Since(start).Round(time.Second))
	heavy, normal := pop.Users[0], pop.Users[500]
	page, _, err := d.ListGenerations(ctx, normal, db.ListFilter{Limit: 1})
	if err != nil || len(page) == 0 {
		b.Fatal("no generation of the normal user", err)
	}
	normalGen := page[0].ID

	// The statement of a filtered list before migration 0011, as it was.
	const before = `SELECT id, status, prompt, resolution, aspect_ratio, output_format,
		safety_filter_level, generation_mode, reference_ids, error,
		coalesce(image_key, ''), coalesce(thumb_key, ''),
		coalesce(width, 0), coalesce(height, 0), coalesce(bytes, 0),
		created_at, started_at, completed_at
		FROM generations WHERE user_id = ? AND status = ? ORDER BY created_at DESC, id DESC LIMIT ?`
	list := func(old bool, user int64, f db.ListFilter) error {
		if !old || f.Status == "" {
			_, _, err := d.ListGenerations(ctx, user, f)
			return err
		}
		return d.e.Read(ctx, func(q sqlstore.Querier) error {
			rows, err := q.Query(before, user, f.Status, 21)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
			}
			return rows.Err()
		})
	}
	for _, old := range []bool{false, true} {
		prefix := map[bool]string{false: "now/", true: "before/"}[old]
		for _, c := range []struct {
			name string
			user int64
			f    db.ListFilter
		}{
			{"heavy/running", heavy, db.ListFilter{Status: db.StatusRunning}},
			{"heavy/pending", heavy, db.ListFilter{Status: db.StatusPending}},
			{"heavy/failed", heavy, db.ListFilter{Status: db.StatusFailed}},
			{"heavy/canceled", heavy, db.ListFilter{Status: db.StatusCanceled}},
			{"heavy/completed", heavy, db.ListFilter{Status: db.StatusCompleted}},
			{"heavy/all", heavy, db.ListFilter{}},
			{"normal/running", normal, db.ListFilter{Status: db.StatusRunning}},
			{"normal/all", normal, db.ListFilter{}},
		} {
			b.Run(prefix+c.name, func(b *testing.B) {
				lat := make([]time.Duration, 0, b.N)
				for range b.N {
					t0 := time.Now()
					if err := list(old, c.user, c.f); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				report(b, lat)
			})
		}
		b.Run(prefix+"others-status-read-under-8-heavy-running-lists", func(b *testing.B) {
			var stop atomic.Bool
			var wg sync.WaitGroup
			var lists atomic.Int64
			for range 8 {
				wg.Go(func() {
					for !stop.Load() {
						if err := list(old, heavy, db.ListFilter{Status: db.StatusRunning}); err != nil {
							b.Error(err)
							return
						}
						lists.Add(1)
					}
				})
			}
			lat := make([]time.Duration, 0, b.N)
			t0 := time.Now()
			for range b.N {
				t := time.Now()
				if _, err := d.GetGeneration(ctx, normal, normalGen); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			elapsed := time.Since(t0)
			stop.Store(true)
			wg.Wait()
			report(b, lat)
			b.ReportMetric(float64(lists.Load())/elapsed.Seconds(), "heavy-lists/s")
		})
	}
}

func report(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
