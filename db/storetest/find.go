package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/internal/population"
)

// Search and filters (issue 13), the same rows on both engines.

// findFixture makes alice's and bob's generations with varied prompts and settings,
// one a millisecond apart, and returns alice's, oldest first.
func findFixture(t *testing.T, d Store, alice, bob int64, advance func(time.Duration)) []*db.Generation {
	t.Helper()
	ctx := context.Background()
	prompts := []string{
		"A red Lighthouse at dusk",
		"Café au lait on a table, crème brûlée",
		"Ёжик в тумане, акварель",
		"Кот-учёный у лукоморья",
		"sci-fi city, neon lights",
		"a lighthouse keeper's cat",
		"ЖЁЛТЫЙ ДОМ у моря",
		"plain study of fruit",
	}
	res := []string{"1K", "2K", "4K"}
	aspects := []string{"1:1", "16:9", "3:4", "9:16"}
	var mine []*db.Generation
	for i := range 48 {
		advance(time.Millisecond)
		p := params(prompts[i%len(prompts)])
		p.Resolution, p.AspectRatio = res[i%3], aspects[i%4]
		if i%5 == 0 {
			p.Mode = db.ModeImageToImage
		}
		for _, u := range []int64{alice, bob} {
			g, err := d.CreateGeneration(ctx, u, p, db.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 1 {
				if err := d.Raw(ctx, `UPDATE generations SET status = 'failed', state = 'failed' WHERE id = ?`, []any{g.ID}); err != nil {
					t.Fatal(err)
				}
				g.Status = db.StatusFailed
			}
			if i%4 == 0 {
				if _, err := d.SetFavorite(ctx, u, g.ID, true); err != nil {
					t.Fatal(err)
				}
				g.Favorite = true
			}
			if u == alice {
				mine = append(mine, g)
			}
		}
	}
	return mine
}

// listAll pages through the user's list with f (3 a page unless f says) and returns
// the ids.
func listAll(t *testing.T, d Store, user int64, f db.ListFilter) []string {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 3
	}
	var got []string
	for range 1000 {
		items, next, err := d.ListGenerations(context.Background(), user, f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		for _, g := range items {
			got = append(got, g.ID)
		}
		if next == "" {
			return got
		}
		f.Cursor = next
	}
	t.Fatalf("list %+v: no end after 1000 pages", f)
	return nil
}

// want is alice's generations that keep says, newest first.
func want(mine []*db.Generation, keep func(g *db.Generation) bool) []string {
	var out []string
	for i := len(mine) - 1; i >= 0; i-- {
		if keep(mine[i]) {
			out = append(out, mine[i].ID)
		}
	}
	return out
}

var _ = register("SearchFindsTheSameRowsOnEveryEngine", func(t *testing.T, open Opener) {
	now, advance := fixedClock(time.Unix(1_700_000_000, 0))
	d := open(t, db.Options{Now: now})
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")
	mine := findFixture(t, d, alice, bob, advance)
	has := func(words ...string) func(g *db.Generation) bool {
		return func(g *db.Generation) bool {
			return slices.Contains(words, g.Prompt)
		}
	}
	for _, c := range []struct {
		q    string
		keep func(g *db.Generation) bool
	}{
		// a word, case aside, and a word's start
		{"lighthouse", has("A red Lighthouse at dusk", "a lighthouse keeper's cat")},
		{"LIGHT", has("A red Lighthouse at dusk", "sci-fi city, neon lights", "a lighthouse keeper's cat")},
		// every word must be there
		{"red lighthouse", has("A red Lighthouse at dusk")},
		// only the last word is a word's start: the others are whole words
		{"lighthouse ca", has("a lighthouse keeper's cat")},
		{"light cat", has()},
		{"lighthouse Lighthouse", has("A red Lighthouse at dusk", "a lighthouse keeper's cat")},
		// Latin accents aside, both ways
		{"cafe creme", has("Café au lait on a table, crème brûlée")},
		{"brûlée", has("Café au lait on a table, crème brûlée")},
		// Russian, case aside; ё is its own letter (as SQLite's tokenizer has it)
		{"ёжик", has("Ёжик в тумане, акварель")},
		{"ЁЖИК туман", has("Ёжик в тумане, акварель")},
		{"жёлтый", has("ЖЁЛТЫЙ ДОМ у моря")},
		{"учён", has("Кот-учёный у лукоморья")},
		{"кот", has("Кот-учёный у лукоморья")},
		// punctuation separates words
		{"sci fi", has("sci-fi city, neon lights")},
		{"keeper", has("a lighthouse keeper's cat")},
		{"nothing-here", has()},
		// the owner's token the engines keep beside the words is not a word of a prompt
		{fmt.Sprintf("u%d", alice), has()},
		{fmt.Sprintf("u%d", bob), has()},
	} {
		got := listAll(t, d, alice, db.ListFilter{Query: c.q})
		if w := want(mine, c.keep); !slices.Equal(got, w) {
			t.Errorf("search %q: %d rows %v; want %d %v", c.q, len(got), got, len(w), w)
		}
	}
})

var _ = register("FiltersCombineAndPageNewestFirst", func(t *testing.T, open Opener) {
	now, advance := fixedClock(time.Unix(1_700_000_000, 0))
	d := open(t, db.Options{Now: now})
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")
	mine := findFixture(t, d, alice, bob, advance)
	mid := mine[20].CreatedAt
	end := mine[40].CreatedAt
	for _, c := range []struct {
		name string
		f    db.ListFilter
		keep func(g *db.Generation) bool
	}{
		{"favorites", db.ListFilter{Favorite: true}, func(g *db.Generation) bool { return g.Favorite }},
		{"4K", db.ListFilter{Resolution: "4K"}, func(g *db.Generation) bool { return g.Resolution == "4K" }},
		{"16:9", db.ListFilter{AspectRatio: "16:9"}, func(g *db.Generation) bool { return g.AspectRatio == "16:9" }},
		{"image-to-image", db.ListFilter{Mode: db.ModeImageToImage}, func(g *db.Generation) bool { return g.Mode == db.ModeImageToImage }},
		{"dates", db.ListFilter{From: mid, To: end}, func(g *db.Generation) bool {
			return !g.CreatedAt.Before(mid) && g.CreatedAt.Before(end)
		}},
		{"failed 2K", db.ListFilter{Status: db.StatusFailed, Resolution: "2K"}, func(g *db.Generation) bool {
			return g.Status == db.StatusFailed && g.Resolution == "2K"
		}},
		{"favorite 1:1 since mid", db.ListFilter{Favorite: true, AspectRatio: "1:1", From: mid}, func(g *db.Generation) bool {
			return g.Favorite && g.AspectRatio == "1:1" && !g.CreatedAt.Before(mid)
		}},
		{"search, favorite, text-to-image, pending", db.ListFilter{Query: "lighthouse", Favorite: true, Mode: db.ModeTextToImage, Status: db.StatusPending},
			func(g *db.Generation) bool {
				return (g.Prompt == "A red Lighthouse at dusk" || g.Prompt == "a lighthouse keeper's cat") &&
					g.Favorite && g.Mode == db.ModeTextToImage && g.Status == db.StatusPending
			}},
		{"search 4K until end", db.ListFilter{Query: "кот", Resolution: "4K", To: end}, func(g *db.Generation) bool {
			return g.Prompt == "Кот-учёный у лукоморья" && g.Resolution == "4K" && g.CreatedAt.Before(end)
		}},
	} {
		got := listAll(t, d, alice, c.f)
		w := want(mine, c.keep)
		if len(w) == 0 {
			t.Fatalf("%s: the fixture has no such row", c.name)
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s: %d rows %v; want %d %v", c.name, len(got), got, len(w), w)
		}
	}
})

var _ = register("FavoritesAreMarkedOnlyByTheirOwner", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")
	g := create(t, d, alice, "a star")
	if _, err := d.SetFavorite(ctx, bob, g.ID, true); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob marks alice's generation: %v; want not found", err)
	}
	got, err := d.SetFavorite(ctx, alice, g.ID, true)
	if err != nil || !got.Favorite {
		t.Fatalf("mark: %+v %v", got, err)
	}
	if again, _ := d.GetGeneration(ctx, alice, g.ID); !again.Favorite {
		t.Fatal("read back: not a favorite")
	}
	events, err := d.EventsSince(ctx, alice, 0, 100)
	if err != nil || len(events) == 0 || !containsString(string(events[len(events)-1].Data), `"favorite":true`) {
		t.Fatalf("the mark's event: %v", err)
	}
	if got, err := d.SetFavorite(ctx, alice, g.ID, false); err != nil || got.Favorite {
		t.Fatalf("unmark: %+v %v", got, err)
	}
	if items, _, _ := d.ListGenerations(ctx, alice, db.ListFilter{Favorite: true}); len(items) != 0 {
		t.Fatalf("favorites after unmark: %d", len(items))
	}
})

func containsString(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

var _ = register("BoardsHoldTheirOwnersGenerations", func(t *testing.T, open Opener) {
	now, advance := fixedClock(time.Unix(1_700_000_000, 0))
	d := open(t, db.Options{Now: now})
	ctx := context.Background()
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")
	var gens []*db.Generation
	for i := range 7 {
		advance(time.Millisecond)
		gens = append(gens, create(t, d, alice, fmt.Sprint("g", i)))
	}
	bobs := create(t, d, bob, "bob's")
	b1, err := d.CreateBoard(ctx, alice, "  Lighthouses ")
	if err != nil || b1.Name != "Lighthouses" {
		t.Fatalf("create: %+v %v", b1, err)
	}
	advance(time.Millisecond)
	b2, err := d.CreateBoard(ctx, alice, "Кошки")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateBoard(ctx, alice, " "); db.CodeOf(err) != db.CodeInvalid {
		t.Fatalf("an empty name: %v", err)
	}
	for _, g := range gens {
		if err := d.AddToBoard(ctx, alice, b1.ID, g.ID); err != nil {
			t.Fatal(err)
		}
	}
	// again: nothing changes; one generation on two boards
	if err := d.AddToBoard(ctx, alice, b1.ID, gens[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := d.AddToBoard(ctx, alice, b2.ID, gens[0].ID); err != nil {
		t.Fatal(err)
	}
	// another user's board or generation is not found, both ways
	for _, c := range []struct {
		user         int64
		board, genID string
	}{{bob, b1.ID, bobs.ID}, {alice, b1.ID, bobs.ID}, {bob, b1.ID, gens[1].ID}} {
		if err := d.AddToBoard(ctx, c.user, c.board, c.genID); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("add %+v: %v; want not found", c, err)
		}
	}
	if _, err := d.GetBoard(ctx, bob, b1.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("bob reads alice's board: %v", err)
	}
	if _, _, err := d.ListBoard(ctx, bob, b1.ID, db.ListFilter{}); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("bob lists alice's board: %v", err)
	}
	if _, err := d.RenameBoard(ctx, bob, b1.ID, "mine"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("bob renames alice's board: %v", err)
	}
	if err := d.DeleteBoard(ctx, bob, b1.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("bob deletes alice's board: %v", err)
	}
	if err := d.RemoveFromBoard(ctx, bob, b1.ID, gens[0].ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("bob takes from alice's board: %v", err)
	}
	boards, err := d.Boards(ctx, alice)
	if err != nil || len(boards) != 2 || boards[0].ID != b2.ID || boards[0].Count != 1 || boards[1].Count != 7 {
		t.Fatalf("alice's boards: %+v %v", boards, err)
	}
	if bb, _ := d.Boards(ctx, bob); len(bb) != 0 {
		t.Fatalf("bob's boards: %+v", bb)
	}
	// the board's pages: newest first, 3 at a time
	var got []string
	cursor := ""
	for {
		items, next, err := d.ListBoard(ctx, alice, b1.ID, db.ListFilter{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range items {
			got = append(got, g.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	var w []string
	for i := len(gens) - 1; i >= 0; i-- {
		w = append(w, gens[i].ID)
	}
	if !slices.Equal(got, w) {
		t.Fatalf("board pages: %v; want %v", got, w)
	}
	if err := d.RemoveFromBoard(ctx, alice, b1.ID, gens[3].ID); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveFromBoard(ctx, alice, b1.ID, gens[3].ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	// a deleted generation leaves its boards
	if _, err := d.DeleteGeneration(ctx, alice, gens[0].ID); err != nil {
		t.Fatal(err)
	}
	if r, err := d.RenameBoard(ctx, alice, b1.ID, "Маяки"); err != nil || r.Name != "Маяки" || r.Count != 5 {
		t.Fatalf("rename: %+v %v", r, err)
	}
	if b, _ := d.GetBoard(ctx, alice, b2.ID); b.Count != 0 {
		t.Fatalf("board 2 after its generation's deletion: %d", b.Count)
	}
	if err := d.DeleteBoard(ctx, alice, b1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetGeneration(ctx, alice, gens[1].ID); err != nil {
		t.Fatalf("a deleted board's generation: %v", err)
	}
	if n := count(t, d, `SELECT count(*) FROM board_items WHERE board_id = ?`, b1.ID); n != 0 {
		t.Fatalf("the deleted board keeps %d items", n)
	}
})

var _ = register("PromptHistoryCountsAndSavedPrompts", func(t *testing.T, open Opener) {
	now, advance := fixedClock(time.Unix(1_700_000_000, 0))
	d := open(t, db.Options{Now: now})
	ctx := context.Background()
	alice, bob := addUser(t, d, "alice"), addUser(t, d, "bob")
	for _, p := range []string{"cat", "dog", "cat", "маяк", "cat", "dog"} {
		advance(time.Second)
		create(t, d, alice, p)
	}
	create(t, d, bob, "bob only")
	h, err := d.PromptHistory(ctx, alice, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(h[0].Prompt, h[0].Count, " ", h[1].Prompt, h[1].Count, " ", h[2].Prompt, h[2].Count, " ", len(h))
	if got != "dog2 cat3 маяк1 3" {
		t.Fatalf("history: %s", got)
	}
	if want := time.Unix(1_700_000_006, 0).UTC(); !h[0].LastUsed.Equal(want) {
		t.Fatalf("last use: %v; want %v", h[0].LastUsed, want)
	}
	p, err := d.SavePrompt(ctx, alice, "Cats", "a cat at dusk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SavePrompt(ctx, alice, "", "x"); db.CodeOf(err) != db.CodeInvalid {
		t.Fatalf("no name: %v", err)
	}
	if s, _ := d.SavedPrompts(ctx, bob); len(s) != 0 {
		t.Fatalf("bob sees %d saved prompts", len(s))
	}
	if err := d.DeleteSavedPrompt(ctx, bob, p.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("bob deletes alice's saved prompt: %v", err)
	}
	s, err := d.SavedPrompts(ctx, alice)
	if err != nil || len(s) != 1 || s[0].Name != "Cats" || s[0].Prompt != "a cat at dusk" {
		t.Fatalf("saved: %+v %v", s, err)
	}
	if err := d.DeleteSavedPrompt(ctx, alice, p.ID); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.SavedPrompts(ctx, alice); len(s) != 0 {
		t.Fatalf("after delete: %d", len(s))
	}
})

// A retried generation (a new job id, the FTS5 rowid) is still found once; a deleted one
// is not found any more.
var _ = register("SearchFollowsRetryAndDelete", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	alice := addUser(t, d, "alice")
	g := create(t, d, alice, "a glass whale")
	other := create(t, d, alice, "a glass harbour")
	if _, err := d.CancelGeneration(ctx, alice, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RetryGeneration(ctx, alice, g.ID, 3, nil); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, d, alice, db.ListFilter{Query: "whale"}); !slices.Equal(got, []string{g.ID}) {
		t.Fatalf("after a retry: %v; want [%s]", got, g.ID)
	}
	if _, err := d.DeleteGeneration(ctx, alice, g.ID); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, d, alice, db.ListFilter{Query: "glass"}); !slices.Equal(got, []string{other.ID}) {
		t.Fatalf("after a delete: %v; want [%s]", got, other.ID)
	}
})

// In a history of more than 5,000 generations, a search matching at most 1,000 reads
// them by rowid and sorts them, and one matching more walks the user's history: both
// ways give the same rows, in the same order, page by page. The oracle is the user's
// whole list filtered here.
var _ = register("SearchPagesAlikeOverManyMatches", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	pop, err := population.Fill(ctx, d, population.Spec{Total: 5400, Heavy: 5200, Users: 3, Span: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	heavy := pop.Users[0]
	var all []db.Generation
	f := db.ListFilter{Limit: 100}
	for {
		items, next, err := d.ListGenerations(ctx, heavy, f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if len(all) != 5200 {
		t.Fatalf("heavy has %d generations; want 5200", len(all))
	}
	for _, c := range []struct {
		q    string
		fav  bool
		want func(words []string) bool
	}{
		// every prompt holds "study": more than 1,000 matches
		{"study", false, func(w []string) bool { return slices.Contains(w, "study") }},
		{"study", true, func(w []string) bool { return slices.Contains(w, "study") }},
		// "of user N" and a number starting with 7: few
		{"study 7", false, func(w []string) bool {
			return slices.Contains(w, "study") && slices.ContainsFunc(w, func(x string) bool { return x[0] == '7' })
		}},
		{"zebra", false, func(w []string) bool { return false }},
	} {
		var want []string
		for _, g := range all {
			words := db.SearchWords(strings.ToLower(g.Prompt))
			if c.want(words) && (!c.fav || g.Favorite) {
				want = append(want, g.ID)
			}
		}
		got := listAll(t, d, heavy, db.ListFilter{Query: c.q, Favorite: c.fav, Limit: 60})
		if !slices.Equal(got, want) {
			t.Errorf("search %q favorite %v: %d rows; want %d", c.q, c.fav, len(got), len(want))
		}
	}
})
