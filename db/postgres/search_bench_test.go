package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/internal/pgtest"
	"nanobanana/internal/population"
)

// BenchmarkSearchMillion is db/sqlite's on PostgreSQL: search and filtered lists of the
// heavy user and a normal one over 1,000,000 generations (internal/population), p50 and
// p99 of b.N first pages of 20, and the database's size. The fill takes minutes:
//
//	go test -run '^$' -bench SearchMillion -benchtime 100x -timeout 60m ./db/postgres
func BenchmarkSearchMillion(b *testing.B) {
	ctx := context.Background()
	d, err := Open(ctx, pgtest.DSN(b), db.Options{})
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
	if _, err := d.SQL().ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	var size int64
	if err := d.SQL().QueryRowContext(ctx, "SELECT pg_database_size(current_database())").Scan(&size); err == nil {
		b.Logf("database size: %d MB", size>>20)
	}
	heavy, normal := pop.Users[0], pop.Users[500]
	month := time.Now().AddDate(0, -1, 0)
	for _, u := range []struct {
		name string
		id   int64
	}{{"heavy", heavy}, {"normal", normal}} {
		for _, c := range []struct {
			name string
			f    db.ListFilter
		}{
			{"search-common-word", db.ListFilter{Query: "fox"}},
			{"search-two-words", db.ListFilter{Query: "fox fog"}},
			{"search-russian", db.ListFilter{Query: "ёжик луне"}},
			{"search-prefix", db.ListFilter{Query: "light"}},
			{"search-rare-study", db.ListFilter{Query: "study 777"}},
			{"search-no-match", db.ListFilter{Query: "zebra"}},
			{"favorites", db.ListFilter{Favorite: true}},
			{"4K", db.ListFilter{Resolution: "4K"}},
			{"16:9-image-to-image", db.ListFilter{AspectRatio: "16:9", Mode: db.ModeImageToImage}},
			{"last-month-failed", db.ListFilter{From: month, Status: db.StatusFailed}},
			{"search-favorites-4K", db.ListFilter{Query: "fox", Favorite: true, Resolution: "4K"}},
		} {
			b.Run(u.name+"/"+c.name, func(b *testing.B) {
				lat := make([]time.Duration, 0, b.N)
				var n int
				for range b.N {
					t0 := time.Now()
					items, _, err := d.ListGenerations(ctx, u.id, c.f)
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
					n = len(items)
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				b.ReportMetric(float64(n), "items")
			})
		}
	}
}
