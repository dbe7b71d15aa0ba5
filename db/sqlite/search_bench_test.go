package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/internal/population"
)

// BenchmarkSearchMillion measures search and filtered lists (issue 13) on 1,000,000
// generations (internal/population: 1,000 users, heavy with 100,000, the rest ~900),
// p50 and p99 over b.N first pages of 20, for the heavy user and a normal one, and
// reports the database's size. NANOBANANA_BENCH_DB names a file to keep the filled
// database in (filled when missing, reused when present). The fill takes minutes:
//
//	NANOBANANA_BENCH_DB=/tmp/million.db go test -run '^$' -bench SearchMillion -benchtime 200x -timeout 60m ./db/sqlite
func BenchmarkSearchMillion(b *testing.B) {
	ctx := context.Background()
	path := os.Getenv("NANOBANANA_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "million.db")
	}
	_, statErr := os.Stat(path)
	d, err := Open(ctx, path, db.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var heavy, normal int64
	if statErr != nil {
		start := time.Now()
		pop, err := population.Fill(ctx, d, population.Spec{})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("filled 1,000,000 generations in %v", time.Since(start).Round(time.Second))
		heavy, normal = pop.Users[0], pop.Users[500]
	} else {
		if err := d.Raw(ctx, `SELECT id FROM users WHERE username = 'heavy'`, nil, &heavy); err != nil {
			b.Fatal(err)
		}
		if err := d.Raw(ctx, `SELECT id FROM users WHERE username = 'user00500'`, nil, &normal); err != nil {
			b.Fatal(err)
		}
	}
	if fi, err := os.Stat(path); err == nil {
		b.Logf("database file: %d MB (WAL aside)", fi.Size()>>20)
	}
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
				report(b, lat)
				b.ReportMetric(float64(n), "items")
			})
		}
		b.Run(u.name+"/prompt-history", func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for range b.N {
				t0 := time.Now()
				if _, err := d.PromptHistory(ctx, u.id, 50); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			report(b, lat)
		})
	}
}
