// Package population fills a store with many users' generations, as a large deployment
// would hold them, for benchmarks and load runs that ask how the product behaves with a
// million rows (docs/PERFORMANCE.md). It writes rows directly, in multi-row INSERTs
// through the store's Raw, so a million take seconds rather than the hours the API
// would. One generator serves every such benchmark, so their figures are of the same
// data. Nothing here runs in production.
package population

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Store is what Fill writes through: a store's Raw (db/sqlite and db/postgres have it).
type Store interface {
	Raw(ctx context.Context, q string, args []any, dest ...any) error
}

// Spec says what to make. The zero value of a field takes its default.
type Spec struct {
	// Total generations in all (default 1,000,000), of which Heavy (default 100,000)
	// belong to the first user, "heavy"; the rest are spread evenly over Users-1 others
	// ("user00001", ...; default Users 1,000).
	Total, Heavy, Users int
	// Span is how far back the generations go (default a year), newest at End (default
	// now); each user's are evenly spread over it.
	Span time.Duration
	End  time.Time
	// Seed makes the data the same from run to run (default 1).
	Seed uint64
	// PasswordHash is every user's (a bcrypt hash, so they can sign in); default "x",
	// which no password matches.
	PasswordHash string
}

func (s *Spec) defaults() {
	if s.Total <= 0 {
		s.Total = 1_000_000
	}
	if s.Heavy <= 0 {
		s.Heavy = 100_000
	}
	if s.Users <= 0 {
		s.Users = 1000
	}
	if s.Span <= 0 {
		s.Span = 365 * 24 * time.Hour
	}
	if s.End.IsZero() {
		s.End = time.Now()
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.PasswordHash == "" {
		s.PasswordHash = "x"
	}
}

// The statuses of a history: most end completed; some failed or were canceled; a few
// of the newest are still pending or running (the last ones of the heavy user and of
// every 50th other, as a queue would hold them).
const (
	failedPer1000   = 40
	canceledPer1000 = 15
	// a user's newest generations still pending, and running, then done
	pendingNewest = 5
	runningNewest = 3
)

// Result is what was made.
type Result struct {
	Users []int64 // ids, the heavy user first
	// Rows is how many generations each user got, in the order of Users.
	Rows []int
}

// columns written per generation; the rest take their defaults.
const columns = `id, user_id, status, prompt, resolution, aspect_ratio, output_format,
	safety_filter_level, generation_mode, error, image_key, image_type, thumb_key, width,
	height, bytes, sha256, created_at, started_at, completed_at, updated_at, state,
	max_attempts, run_after, job_created_at, favorite`

const perRow = 26

// batch rows per INSERT: 400 x 26 parameters stays under SQLite's and PostgreSQL's limits.
const batch = 400

// farFuture holds the unfinished generations back from any worker of a server started
// on the data (Unix ms, year 2200).
const farFuture = int64(7_258_118_400_000)

// Fill makes the users and their generations. It writes only what it adds; run it on
// an empty store.
func Fill(ctx context.Context, d Store, spec Spec) (Result, error) {
	spec.defaults()
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x5eed))
	var res Result
	for i := range spec.Users {
		name := fmt.Sprintf("user%05d", i)
		if i == 0 {
			name = "heavy"
		}
		var id int64
		if err := d.Raw(ctx, `INSERT INTO users (username, email, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, 0, 0) RETURNING id`, []any{name, name + "@example.com", spec.PasswordHash}, &id); err != nil {
			return res, fmt.Errorf("population: user %s: %w", name, err)
		}
		res.Users = append(res.Users, id)
		n := spec.Heavy
		if i > 0 {
			rest := spec.Total - spec.Heavy
			n = rest / (spec.Users - 1)
			if i <= rest%(spec.Users-1) {
				n++
			}
		}
		res.Rows = append(res.Rows, n)
	}
	// Generations go in by user, oldest first, as a user would have made them.
	args := make([]any, 0, batch*perRow)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		rows := len(args) / perRow
		q := `INSERT INTO generations (` + columns + `) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?"+strings.Repeat(", ?", perRow-1)+"), ", rows), ", ")
		err := d.Raw(ctx, q, args)
		args = args[:0]
		return err
	}
	end := spec.End.UnixMilli()
	span := spec.Span.Milliseconds()
	for ui, uid := range res.Users {
		n := res.Rows[ui]
		for k := range n {
			created := end - span + span*int64(k)/int64(max(n, 1)) + int64(ui%1000)
			status, state := "completed", "done"
			fromNewest := n - 1 - k
			if ui%50 != 0 {
				fromNewest = pendingNewest + runningNewest // none unfinished
			}
			switch {
			case fromNewest < pendingNewest:
				status, state = "pending", "queued"
			case fromNewest < pendingNewest+runningNewest:
				status, state = "running", "queued" // waiting to try again
			default:
				switch r := rng.IntN(1000); {
				case r < failedPer1000:
					status, state = "failed", "failed"
				case r < failedPer1000+canceledPer1000:
					status, state = "canceled", "canceled"
				}
			}
			id := timeID(rng, created)
			var errText, imageKey, imageType, thumbKey, sha any = "", nil, nil, nil, nil
			var width, height, size, started, completed, runAfter any = nil, nil, nil, nil, nil, created
			switch status {
			case "completed":
				imageKey = fmt.Sprintf("u/%d/%s.png", uid, id)
				imageType, thumbKey = "image/png", fmt.Sprintf("u/%d/%s_thumb.jpg", uid, id)
				width, height, size = 1024, 1024, 1_200_000+rng.IntN(800_000)
				sha = id + id
				started, completed = created+2_000, created+40_000
			case "failed":
				errText = "The input or output was flagged as sensitive; change the prompt and try again."
				started, completed = created+2_000, created+20_000
			case "canceled":
				completed = created + 10_000
			case "running":
				started, runAfter = created+2_000, farFuture
			case "pending":
				runAfter = farFuture
			}
			mode := "text-to-image"
			if rng.IntN(10) == 0 {
				mode = "image-to-image"
			}
			fav := 0
			if rng.IntN(100) < favoritePer100 {
				fav = 1
			}
			args = append(args, id, uid, status, prompt(rng, k, uid),
				resolutions[rng.IntN(len(resolutions))], aspects[rng.IntN(len(aspects))],
				"png", "block_only_high", mode, errText,
				imageKey, imageType, thumbKey, width, height, size, sha,
				created, started, completed, created, state, 5, runAfter, created, fav)
			if len(args) == batch*perRow {
				if err := flush(); err != nil {
					return res, fmt.Errorf("population: generations: %w", err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return res, fmt.Errorf("population: generations: %w", err)
	}
	return res, nil
}

// The settings and words of a history (issue 13's search and filters): resolutions and
// aspect ratios drawn evenly, one in ten image-to-image, 3% favorites, and prompts of a
// subject, a place and a style drawn from short lists (English and Russian), so a word
// is in one prompt of 12 to one of 24.
var (
	resolutions = []string{"1K", "2K", "4K"}
	aspects     = []string{"1:1", "16:9", "9:16", "4:3", "3:4"}
	subjects    = []string{"a banana lighthouse", "a red fox", "an old tram", "a paper boat", "a glass whale",
		"a sleepy cat", "a café terrace", "маяк", "ёжик", "рыжая лиса", "старый трамвай", "бумажный кораблик"}
	places = []string{"at dusk", "in the fog", "on the moon", "under rain", "in a forest", "by the sea",
		"в тумане", "на луне", "под дождём", "в лесу", "у моря", "at noon", "in winter", "in a desert",
		"on a rooftop", "in a garden", "at the market", "in a library", "on a bridge", "in a cave",
		"в пустыне", "на крыше", "в саду", "на мосту"}
	styles = []string{"watercolor", "oil painting", "pencil sketch", "photograph", "акварель", "гравюра",
		"pixel art", "isometric render", "crème brûlée palette", "ukiyo-e", "linocut", "neon noir"}
)

const favoritePer100 = 3

// prompt is the k-th prompt of user uid.
func prompt(rng *rand.Rand, k int, uid int64) string {
	return fmt.Sprintf("%s %s, %s, study %d of user %d", subjects[rng.IntN(len(subjects))],
		places[rng.IntN(len(places))], styles[rng.IntN(len(styles))], k, uid)
}

// timeID is a generation id as db.NewTimeID makes one, at a given time.
func timeID(rng *rand.Rand, ms int64) string {
	var b [16]byte
	t := uint64(ms)
	for i := 5; i >= 0; i-- {
		b[i] = byte(t)
		t >>= 8
	}
	binary.LittleEndian.PutUint64(b[6:14], rng.Uint64())
	binary.LittleEndian.PutUint16(b[14:], uint16(rng.Uint32()))
	return hex.EncodeToString(b[:])
}
