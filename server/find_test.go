package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"nanobanana/db"
)

// ids lists the generation ids of a list answer.
func ids(t *testing.T, r reply) []string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	var out []string
	for _, it := range r.JSON(t)["items"].([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

// The list's search and filters, favorites, boards and prompts over HTTP, and another
// user's board, generation and saved prompt answering 404 on every route.
func TestFindAndKeepOverHTTP(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()
	alice, bob := ts.register(t, "alice"), ts.register(t, "bob")
	mk := func(user int64, prompt, res string) string {
		time.Sleep(2 * time.Millisecond) // one per millisecond: newest first is their order
		g, err := ts.DB.CreateGeneration(ctx, user, db.Params{Prompt: prompt, Resolution: res, AspectRatio: "1:1",
			OutputFormat: "png", SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage}, db.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	cat := mk(alice.ID, "Кот на крыше, акварель", "1K")
	cafe := mk(alice.ID, "Café terrace at night", "4K")
	fox := mk(alice.ID, "a red fox in the snow", "4K")
	bobs := mk(bob.ID, "a fox of bob's", "4K")
	get := func(tok, path string) reply { return ts.do(t, call{Method: "GET", Path: path, Token: tok}) }

	// search and filters
	for q, want := range map[string][]string{
		"?q=" + url.QueryEscape("кот"):   {cat},
		"?q=cafe":                        {cafe},
		"?q=FOX":                         {fox},
		"?resolution=4K":                 {fox, cafe},
		"?resolution=4K&q=terr":          {cafe},
		"?from=2000-01-01&to=2000-01-02": nil,
		"?status=pending&aspect_ratio=1:1&mode=text-to-image": {fox, cafe, cat},
	} {
		if got := ids(t, get(alice.Access, "/api/v1/images/list"+q)); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("list%s: %v; want %v", q, got, want)
		}
	}
	for _, q := range []string{"?from=yesterday", "?mode=sketch", "?favorite=maybe"} {
		if r := get(alice.Access, "/api/v1/images/list"+q); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("list%s: %d %s; want 422", q, r.Status, r.Body)
		}
	}

	// favorites
	r := ts.do(t, call{Method: "PUT", Path: "/api/v1/images/favorite/" + cafe, Token: alice.Access, Body: map[string]bool{"favorite": true}})
	if r.Status != http.StatusOK || r.JSON(t)["favorite"] != true {
		t.Fatalf("favorite: %d %s", r.Status, r.Body)
	}
	if got := ids(t, get(alice.Access, "/api/v1/images/list?favorite=true")); strings.Join(got, ",") != cafe {
		t.Fatalf("favorites: %v", got)
	}

	// boards
	r = ts.do(t, call{Method: "POST", Path: "/api/v1/boards", Token: alice.Access, Body: map[string]string{"name": "Night"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create board: %d %s", r.Status, r.Body)
	}
	board := r.JSON(t)["id"].(string)
	for _, g := range []string{cafe, fox} {
		if r := ts.do(t, call{Method: "PUT", Path: "/api/v1/boards/" + board + "/images/" + g, Token: alice.Access}); r.Status != http.StatusNoContent {
			t.Fatalf("add: %d %s", r.Status, r.Body)
		}
	}
	if r := ts.do(t, call{Method: "PUT", Path: "/api/v1/boards/" + board + "/images/" + bobs, Token: alice.Access}); r.Status != http.StatusNotFound {
		t.Fatalf("add bob's generation to alice's board: %d", r.Status)
	}
	page := get(alice.Access, "/api/v1/boards/"+board+"?limit=1")
	if page.Status != http.StatusOK || page.JSON(t)["board"].(map[string]any)["count"].(float64) != 2 || page.JSON(t)["next_cursor"] == nil {
		t.Fatalf("board page: %d %s", page.Status, page.Body)
	}
	next := get(alice.Access, "/api/v1/boards/"+board+"?limit=1&cursor="+page.JSON(t)["next_cursor"].(string))
	if got := ids(t, next); len(got) != 1 || got[0] != cafe {
		t.Fatalf("board page 2: %v", got)
	}
	if r := ts.do(t, call{Method: "PATCH", Path: "/api/v1/boards/" + board, Token: alice.Access, Body: map[string]string{"name": "Ночь"}}); r.Status != http.StatusOK || r.JSON(t)["name"] != "Ночь" {
		t.Fatalf("rename: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/boards", Token: alice.Access, Body: map[string]string{"name": " "}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a blank name: %d", r.Status)
	}
	if b := get(alice.Access, "/api/v1/boards").JSON(t)["items"].([]any); len(b) != 1 {
		t.Fatalf("boards: %v", b)
	}

	// prompts
	r = ts.do(t, call{Method: "POST", Path: "/api/v1/prompts/saved", Token: alice.Access, Body: map[string]string{"name": "Fox", "prompt": "a red fox"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("save prompt: %d %s", r.Status, r.Body)
	}
	saved := r.JSON(t)["id"].(string)
	h := get(alice.Access, "/api/v1/prompts/history").JSON(t)["items"].([]any)
	if len(h) != 3 || h[0].(map[string]any)["prompt"] != "a red fox in the snow" || h[0].(map[string]any)["count"].(float64) != 1 {
		t.Fatalf("history: %v", h)
	}
	if s := get(alice.Access, "/api/v1/prompts/saved").JSON(t)["items"].([]any); len(s) != 1 {
		t.Fatalf("saved: %v", s)
	}

	// bob: every one of alice's resources is not found, and he sees none of them
	for _, c := range []call{
		{Method: "PUT", Path: "/api/v1/images/favorite/" + cafe, Body: map[string]bool{"favorite": false}},
		{Method: "GET", Path: "/api/v1/boards/" + board},
		{Method: "PATCH", Path: "/api/v1/boards/" + board, Body: map[string]string{"name": "mine"}},
		{Method: "PUT", Path: "/api/v1/boards/" + board + "/images/" + bobs},
		{Method: "DELETE", Path: "/api/v1/boards/" + board + "/images/" + fox},
		{Method: "DELETE", Path: "/api/v1/boards/" + board},
		{Method: "DELETE", Path: "/api/v1/prompts/saved/" + saved},
	} {
		c.Token = bob.Access
		if r := ts.do(t, c); r.Status != http.StatusNotFound {
			t.Errorf("bob: %s %s: %d %s; want 404", c.Method, c.Path, r.Status, r.Body)
		}
	}
	if b := get(bob.Access, "/api/v1/boards").JSON(t)["items"].([]any); len(b) != 0 {
		t.Errorf("bob's boards: %v", b)
	}
	if got := ids(t, get(bob.Access, "/api/v1/images/list?q=cafe")); len(got) != 0 {
		t.Errorf("bob finds alice's: %v", got)
	}
	if h := get(bob.Access, "/api/v1/prompts/history").JSON(t)["items"].([]any); len(h) != 1 {
		t.Errorf("bob's history: %v", h)
	}

	// alice takes one off, deletes the saved prompt and the board
	for _, c := range []call{
		{Method: "DELETE", Path: "/api/v1/boards/" + board + "/images/" + fox},
		{Method: "DELETE", Path: "/api/v1/prompts/saved/" + saved},
		{Method: "DELETE", Path: "/api/v1/boards/" + board},
	} {
		c.Token = alice.Access
		if r := ts.do(t, c); r.Status != http.StatusNoContent {
			t.Errorf("%s %s: %d %s", c.Method, c.Path, r.Status, r.Body)
		}
	}
	if r := get(alice.Access, "/api/v1/boards/"+board); r.Status != http.StatusNotFound {
		t.Errorf("deleted board: %d", r.Status)
	}
}
