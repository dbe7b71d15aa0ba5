package sqlstore

import (
	"context"
	"fmt"
	"math"
	"strings"

	"nanobanana/db"
)

// The filtered list (issue 13): search over prompts, and filters for status, dates,
// resolution, aspect ratio, mode and favorites, combined, newest first with the keyset
// cursor of the plain list. A request with no filter but the status runs the status
// texts above (listQueries); one with any other runs one of a few texts more, so the
// statements prepared on each connection stay a fixed set whatever the combination:
//
//   - One filter drives: the one whose index reads the page in order. A search drives
//     when there is one (the engine's text index: SQLite FTS5, PostgreSQL GIN); else
//     favorites (their partial index), else resolution, aspect ratio (an index each, by
//     user and value, newest first), image-to-image (a partial index; text-to-image is
//     most of a history, found among the newest rows), else the dates (generations_user_created,
//     whose range they bound). Its condition is written plainly, so the planner uses
//     its index.
//   - Every other filter is a condition with a parameter that may be NULL,
//     "(CAST(?N AS TEXT) IS NULL OR col = ?N)" (the cast names the type PostgreSQL
//     cannot infer from IS NULL): checked on the rows the driver reads, and true when
//     unused. The dates and the cursor are always bound (0 and the largest time when
//     unused), so they bound the driver's index range in every text.
//
// Parameters, the same in every text: ?1 user, ?2 status, ?3 from (ms), ?4 and ?5 the
// upper bound of (created_at, id) (the cursor or the end date, whichever is lower),
// ?6 resolution, ?7 aspect ratio, ?8 mode, ?9 favorites only (0/1), ?10 the limit,
// ?11 the search (its text only).
const (
	driveSearch = iota
	driveFavorite
	driveResolution
	driveAspect
	driveMode
	driveDates
	// driveSearchFew is the search when it matches few of the user's rows (searchFew):
	// they are read by rowid from the matches and sorted, rather than found by walking
	// the user's history (+user_id, +created_at: not through its index), which for a
	// search matching nothing would read the whole history.
	driveSearchFew
	driveKinds
)

// searchFew is the most matches of a search read by rowid and sorted; above it the
// user's history is walked newest first, where a page of matches comes soon. A history
// of at most shortHistory generations is walked whatever the matches: the walk is
// short, and counting the matches would read the text index twice.
const (
	searchFew    = 1000
	shortHistory = 5000
	historySize  = `SELECT count(*) FROM (SELECT 1 FROM generations WHERE user_id = ?1 LIMIT ?2) h`
)

// filterQueries are the filtered list's texts, by driver; text is the engine's search
// condition on ?11 (Dialect.TextSearch).
func filterQueries(text func(job string, n int) string) (q [driveKinds]string) {
	for d := range driveKinds {
		cond := []string{`user_id = ?1`}
		if d == driveSearchFew {
			cond = []string{`+user_id = ?1`}
		}
		switch d {
		case driveSearch:
			// The walk: the user's rows newest first; the matches only checked.
			cond = append(cond, text("+job_id", 11))
		case driveSearchFew:
			// The matches by job_id, then sorted.
			cond = append(cond, text("job_id", 11))
		}
		// The lower date bound narrows generations_user_created's range; beside another
		// index SQLite would rather use both bounds there than the other's equality, so
		// elsewhere it is only checked (+: not for an index).
		from := `+created_at >= ?3`
		if d == driveDates || d == driveSearch {
			from = `created_at >= ?3`
		}
		cond = append(cond, `(CAST(?2 AS TEXT) IS NULL OR status = ?2)`, from, `(created_at, id) < (?4, ?5)`)
		for _, f := range []struct {
			drive int
			col   string
			n     int
		}{{driveResolution, "resolution", 6}, {driveAspect, "aspect_ratio", 7}, {driveMode, "generation_mode", 8}} {
			if d == driveMode && f.drive == driveMode {
				// generations_user_i2i holds image-to-image only: the text names its
				// condition, so the planner may use it.
				cond = append(cond, `generation_mode = ?8 AND generation_mode = 'image-to-image'`)
			} else if d == f.drive {
				cond = append(cond, fmt.Sprintf(`%s = ?%d`, f.col, f.n))
			} else {
				cond = append(cond, fmt.Sprintf(`(CAST(?%d AS TEXT) IS NULL OR %s = ?%d)`, f.n, f.col, f.n))
			}
		}
		if d == driveFavorite {
			cond = append(cond, `favorite = 1 AND ?9 = 1`)
		} else {
			cond = append(cond, `(?9 = 0 OR favorite = 1)`)
		}
		q[d] = `SELECT ` + listCols + ` FROM generations WHERE ` + strings.Join(cond, ` AND `) +
			` ORDER BY created_at DESC, id DESC LIMIT ?10`
	}
	return q
}

// filterArgs picks the filtered list's text for f among texts and binds its arguments
// (the search's in d's form). few says a search matches at most searchFew rows.
func filterArgs(d Dialect, texts *[driveKinds]string, userID int64, f db.ListFilter, few bool) (query string, args []any, limit int, err error) {
	limit = f.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	null := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	switch f.Status {
	case "", db.StatusPending, db.StatusRunning, db.StatusCompleted, db.StatusFailed, db.StatusCanceled:
	default:
		return "", nil, 0, db.Errorf(db.CodeInvalid, "status %q is not a generation status", f.Status)
	}
	from := int64(0)
	if !f.From.IsZero() {
		from = max(ms(f.From), 0)
	}
	upper, upperID := int64(math.MaxInt64), ""
	if !f.To.IsZero() {
		upper = ms(f.To)
	}
	if f.Cursor != "" {
		created, after, err := decodeCursor(f.Cursor)
		if err != nil {
			return "", nil, 0, err
		}
		if created < upper {
			upper, upperID = created, after
		}
	}
	fav := 0
	if f.Favorite {
		fav = 1
	}
	args = []any{userID, null(f.Status), from, upper, upperID, null(f.Resolution),
		null(f.AspectRatio), null(f.Mode), fav, limit + 1}
	// A search of no words (punctuation only) searches for nothing: it is left out.
	if words := db.SearchWords(f.Query); len(words) > 0 {
		if few {
			return texts[driveSearchFew], append(args, d.TextQuery(userID, words)), limit, nil
		}
		return texts[driveSearch], append(args, d.TextQuery(userID, words)), limit, nil
	}
	switch {
	case f.Favorite:
		return texts[driveFavorite], args, limit, nil
	case f.Resolution != "":
		return texts[driveResolution], args, limit, nil
	case f.AspectRatio != "":
		return texts[driveAspect], args, limit, nil
	case f.Mode == db.ModeImageToImage:
		return texts[driveMode], args, limit, nil
	}
	return texts[driveDates], args, limit, nil
}

// filterTexts are the engine's filtered list texts, made once.
func (s *Store) filterTexts() *[driveKinds]string {
	s.filterOnce.Do(func() {
		q := filterQueries(s.e.TextSearch)
		s.filtered = &q
	})
	return s.filtered
}

// FilterQueries returns every text the filtered list may run on d (and the search's
// count), for tests that count them.
func FilterQueries(d Dialect) []string {
	q := filterQueries(d.TextSearch)
	return append(q[:], d.TextCount(), historySize)
}

// FilteredListQuery is ListQuery for a filtered list (f.Filtered()) on d; few picks the
// text of a search matching few rows.
func FilteredListQuery(d Dialect, userID int64, f db.ListFilter, few bool) (string, []any, error) {
	texts := filterQueries(d.TextSearch)
	q, args, _, err := filterArgs(d, &texts, userID, f, few)
	return q, args, err
}

// searchMatchesFew reports whether the user's search f matches at most searchFew rows,
// counted up to one past it in the text index, in a history longer than shortHistory.
func (s *Store) searchMatchesFew(ctx context.Context, userID int64, f db.ListFilter) (bool, error) {
	words := db.SearchWords(f.Query)
	if len(words) == 0 {
		return false, nil
	}
	return read(ctx, s, func(q Querier) (bool, error) {
		var n int
		if err := q.QueryRow(historySize, userID, shortHistory+1).Scan(&n); err != nil || n <= shortHistory {
			return false, err
		}
		err := q.QueryRow(s.e.TextCount(), s.e.TextQuery(userID, words), searchFew+1).Scan(&n)
		return n <= searchFew, err
	})
}
