package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
	"nanobanana/internal/jsonenc"
)

// Finding and keeping (issue 13): the list's filters, favorites, boards and prompts.

// listFilters reads the list's search and filters from the query (GET /images/list).
func listFilters(q map[string][]string, f *db.ListFilter) error {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f.Query = get("q")
	if len([]rune(f.Query)) > 200 {
		return invalid("q", "q is at most 200 characters.")
	}
	for _, d := range []struct {
		name string
		to   *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		v := get(d.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if day, err2 := time.Parse(time.DateOnly, v); err2 == nil {
				t, err = day, nil
				if d.name == "to" {
					t = t.AddDate(0, 0, 1) // the whole day
				}
			}
		}
		if err != nil {
			return invalid(d.name, d.name+" must be a date (2026-01-31) or an RFC 3339 time (2026-01-31T18:00:00Z).")
		}
		*d.to = t
	}
	f.Resolution, f.AspectRatio, f.Mode = get("resolution"), get("aspect_ratio"), get("mode")
	if len(f.Resolution) > 20 || len(f.AspectRatio) > 40 {
		return invalid("resolution", "resolution and aspect_ratio are values of the model's lists.")
	}
	switch f.Mode {
	case "", db.ModeTextToImage, db.ModeImageToImage:
	default:
		return invalid("mode", "mode must be text-to-image or image-to-image.")
	}
	switch get("favorite") {
	case "", "false", "0":
	case "true", "1":
		f.Favorite = true
	default:
		return invalid("favorite", "favorite must be true or false.")
	}
	return nil
}

type favoriteRequest struct {
	Favorite bool `json:"favorite"`
}

// setFavorite answers PUT /images/favorite/:id with the generation as it now is.
func (s *Server) setFavorite(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := genID(ps)
	if err != nil {
		return err
	}
	var req favoriteRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	g, err := s.db.SetFavorite(r.Context(), p.ID, id, req.Favorite)
	if err != nil {
		return genError(id, err)
	}
	s.writeGeneration(w, http.StatusOK, g)
	return nil
}

type boardJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Count     int       `json:"count"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type boardList struct {
	Items []boardJSON `json:"items"`
}

type boardRequest struct {
	Name string `json:"name"`
}

// boardPageDoc is a board's page: the board, and its generations as the list's.
type boardPageDoc struct {
	Board      boardJSON       `json:"board"`
	Items      []generationDoc `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

func toBoardJSON(b *db.Board) boardJSON {
	return boardJSON{ID: b.ID, Name: b.Name, Count: b.Count, CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC()}
}

// boardID reads the route's board id; a malformed one names nothing.
func boardID(ps httprouter.Params) (string, error) {
	id := ps.ByName("board_id")
	if !validID(id) {
		return "", notFound("No board with id " + strconv.Quote(id) + ".")
	}
	return id, nil
}

// boardError names the board in a not-found answer.
func boardError(id string, err error) error {
	if db.CodeOf(err).Kind() == db.KindNotFound {
		return notFound("No board with id " + strconv.Quote(id) + ".")
	}
	return err
}

func trimmed(s string) string { return strings.TrimSpace(s) }

// nameField checks a board's or saved prompt's name from the request.
func nameField(name string) error {
	if n := len([]rune(name)); n == 0 || n > 200 {
		return invalid("name", "Give a name of 1 to 200 characters.")
	}
	return nil
}

func (s *Server) listBoards(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	boards, err := s.db.Boards(r.Context(), p.ID)
	if err != nil {
		return err
	}
	out := boardList{Items: make([]boardJSON, 0, len(boards))}
	for i := range boards {
		out.Items = append(out.Items, toBoardJSON(&boards[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createBoard(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	var req boardRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := nameField(trimmed(req.Name)); err != nil {
		return err
	}
	b, err := s.db.CreateBoard(r.Context(), p.ID, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toBoardJSON(b))
	return nil
}

func (s *Server) renameBoard(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := boardID(ps)
	if err != nil {
		return err
	}
	var req boardRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := nameField(trimmed(req.Name)); err != nil {
		return err
	}
	b, err := s.db.RenameBoard(r.Context(), p.ID, id, req.Name)
	if err != nil {
		return boardError(id, err)
	}
	writeJSON(w, http.StatusOK, toBoardJSON(b))
	return nil
}

func (s *Server) deleteBoard(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := boardID(ps)
	if err != nil {
		return err
	}
	if err := s.db.DeleteBoard(r.Context(), p.ID, id); err != nil {
		return boardError(id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// boardPage answers GET /boards/:board_id: the board and a page of its generations.
func (s *Server) boardPage(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := boardID(ps)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := db.ListFilter{Limit: 20, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return invalid("limit", "limit must be a whole number from 1 to 100.")
		}
		f.Limit = n
	}
	b, err := s.db.GetBoard(r.Context(), p.ID, id)
	if err != nil {
		return boardError(id, err)
	}
	items, next, err := s.db.ListBoard(r.Context(), p.ID, id, f)
	switch {
	case db.CodeOf(err) == db.CodeInvalidCursor:
		ae := invalid("cursor", "cursor is not one this server gave out; start again without it.")
		ae.Code = db.CodeInvalidCursor
		return ae
	case err != nil:
		return boardError(id, err)
	}
	writeJSONBytes(w, http.StatusOK, func(buf []byte) []byte {
		buf = append(buf, `{"board":{"id":`...)
		buf = jsonenc.AppendString(buf, b.ID)
		buf = append(buf, `,"name":`...)
		buf = jsonenc.AppendString(buf, b.Name)
		buf = append(buf, `,"count":`...)
		buf = strconv.AppendInt(buf, int64(b.Count), 10)
		buf = append(buf, `,"created_at":`...)
		buf = jsonenc.AppendTime(buf, b.CreatedAt.UTC())
		buf = append(buf, `,"updated_at":`...)
		buf = jsonenc.AppendTime(buf, b.UpdatedAt.UTC())
		buf = append(buf, "},"...)
		list := s.appendList(nil, items, next)
		return append(buf, list[1:]...) // the list's object without its brace
	})
	return nil
}

// boardItem reads the route's board and generation ids.
func boardItem(ps httprouter.Params) (string, string, error) {
	b, err := boardID(ps)
	if err != nil {
		return "", "", err
	}
	g, err := genID(ps)
	return b, g, err
}

func (s *Server) addToBoard(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	b, g, err := boardItem(ps)
	if err != nil {
		return err
	}
	if err := s.db.AddToBoard(r.Context(), p.ID, b, g); err != nil {
		if db.CodeOf(err).Kind() == db.KindNotFound {
			return notFound("No board " + strconv.Quote(b) + " with a generation " + strconv.Quote(g) + " of yours.")
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) removeFromBoard(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	b, g, err := boardItem(ps)
	if err != nil {
		return err
	}
	if err := s.db.RemoveFromBoard(r.Context(), p.ID, b, g); err != nil {
		if db.CodeOf(err).Kind() == db.KindNotFound {
			return notFound("Generation " + strconv.Quote(g) + " is not on board " + strconv.Quote(b) + ".")
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type promptUseJSON struct {
	Prompt   string    `json:"prompt"`
	Count    int       `json:"count"`
	LastUsed time.Time `json:"last_used"`
}

type promptHistoryDoc struct {
	Items []promptUseJSON `json:"items"`
}

type savedPromptJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Prompt    string    `json:"prompt"`
	CreatedAt time.Time `json:"created_at"`
}

type savedPromptList struct {
	Items []savedPromptJSON `json:"items"`
}

type savedPromptRequest struct {
	Name   string `json:"name"`
	Prompt string `json:"prompt"`
}

func (s *Server) promptHistory(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return invalid("limit", "limit must be a whole number from 1 to 100.")
		}
		limit = n
	}
	h, err := s.db.PromptHistory(r.Context(), p.ID, limit)
	if err != nil {
		return err
	}
	out := promptHistoryDoc{Items: make([]promptUseJSON, 0, len(h))}
	for _, u := range h {
		out.Items = append(out.Items, promptUseJSON{Prompt: u.Prompt, Count: u.Count, LastUsed: u.LastUsed.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) savedPrompts(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	saved, err := s.db.SavedPrompts(r.Context(), p.ID)
	if err != nil {
		return err
	}
	out := savedPromptList{Items: make([]savedPromptJSON, 0, len(saved))}
	for _, sp := range saved {
		out.Items = append(out.Items, savedPromptJSON{ID: sp.ID, Name: sp.Name, Prompt: sp.Prompt, CreatedAt: sp.CreatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) savePrompt(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	var req savedPromptRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := nameField(trimmed(req.Name)); err != nil {
		return err
	}
	if trimmed(req.Prompt) == "" || len([]rune(req.Prompt)) > 10000 {
		return invalid("prompt", "Give the prompt to save (1 to 10,000 characters).")
	}
	sp, err := s.db.SavePrompt(r.Context(), p.ID, req.Name, req.Prompt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, savedPromptJSON{ID: sp.ID, Name: sp.Name, Prompt: sp.Prompt, CreatedAt: sp.CreatedAt.UTC()})
	return nil
}

func (s *Server) deleteSavedPrompt(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id := ps.ByName("id")
	if !validID(id) {
		return notFound("No saved prompt with id " + strconv.Quote(id) + ".")
	}
	if err := s.db.DeleteSavedPrompt(r.Context(), p.ID, id); err != nil {
		if db.CodeOf(err).Kind() == db.KindNotFound {
			return notFound("No saved prompt with id " + strconv.Quote(id) + ".")
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
