package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"nanobanana/db"
)

// Favorites, boards and prompts (issue 13): what a user keeps of their history. Every
// statement names the user, so another user's board or generation is not found,
// exactly like a missing one.

// SetFavorite marks or unmarks the user's generation, with an event of the row as it
// now is (its status as the event's type), so the user's other pages show the mark.
func (s *Store) SetFavorite(ctx context.Context, userID int64, id string, favorite bool) (*db.Generation, error) {
	fav := 0
	if favorite {
		fav = 1
	}
	now := ms(s.now())
	_, err := writeEvents(ctx, s, func(q EventQuerier) (struct{}, error) {
		g, err := updateWithEvent(q, now, `UPDATE generations SET favorite = ?1 WHERE id = ?2 AND user_id = ?3`, fav, id, userID)
		if err == nil && g == nil {
			err = db.ErrNotFound
		}
		return struct{}{}, err
	})
	if err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, db.ErrNotFound
		}
		return nil, wrapf(err, "set favorite")
	}
	s.notify(userID)
	return s.GetGeneration(ctx, userID, id)
}

const boardCols = `id, user_id, name, created_at, updated_at,
	(SELECT count(*) FROM board_items i WHERE i.board_id = boards.id)`

func scanBoard(row Row) (*db.Board, error) {
	var b db.Board
	var created, updated int64
	if err := row.Scan(&b.ID, &b.UserID, &b.Name, &created, &updated, &b.Count); err != nil {
		return nil, err
	}
	b.CreatedAt, b.UpdatedAt = fromMS(created), fromMS(updated)
	return &b, nil
}

// notFound turns a missing row into db.ErrNotFound and wraps anything else.
func notFound(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, db.ErrNotFound), errors.Is(err, sql.ErrNoRows):
		return db.ErrNotFound
	}
	return wrapf(err, "%s", what)
}

// Boards returns the user's boards, newest first.
func (s *Store) Boards(ctx context.Context, userID int64) ([]db.Board, error) {
	out, err := read(ctx, s, func(q Querier) ([]db.Board, error) {
		rows, err := q.Query(`SELECT `+boardCols+` FROM boards WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []db.Board{}
		for rows.Next() {
			b, err := scanBoard(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, *b)
		}
		return out, rows.Err()
	})
	return out, wrapf(err, "boards")
}

// GetBoard returns one of the user's boards.
func (s *Store) GetBoard(ctx context.Context, userID int64, id string) (*db.Board, error) {
	b, err := read(ctx, s, func(q Querier) (*db.Board, error) {
		return scanBoard(q.QueryRow(`SELECT `+boardCols+` FROM boards WHERE id = ? AND user_id = ?`, id, userID))
	})
	return b, notFound(err, "get board")
}

// boardName checks a board's or a saved prompt's name.
func boardName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 200 {
		return "", db.Errorf(db.CodeInvalid, "a name is 1 to 200 characters")
	}
	return name, nil
}

// CreateBoard makes a board named name.
func (s *Store) CreateBoard(ctx context.Context, userID int64, name string) (*db.Board, error) {
	name, err := boardName(name)
	if err != nil {
		return nil, err
	}
	now := ms(s.now())
	b := db.Board{ID: db.NewID(), UserID: userID, Name: name, CreatedAt: fromMS(now), UpdatedAt: fromMS(now)}
	_, err = write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`INSERT INTO boards (id, user_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)`,
			b.ID, userID, name, now)
	})
	if err != nil {
		return nil, wrapf(err, "create board")
	}
	return &b, nil
}

// RenameBoard renames the user's board.
func (s *Store) RenameBoard(ctx context.Context, userID int64, id, name string) (*db.Board, error) {
	name, err := boardName(name)
	if err != nil {
		return nil, err
	}
	now := ms(s.now())
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`UPDATE boards SET name = ?1, updated_at = ?2 WHERE id = ?3 AND user_id = ?4`, name, now, id, userID)
	})
	if err != nil {
		return nil, wrapf(err, "rename board")
	}
	if n == 0 {
		return nil, db.ErrNotFound
	}
	return s.GetBoard(ctx, userID, id)
}

// DeleteBoard removes the board; its generations stay.
func (s *Store) DeleteBoard(ctx context.Context, userID int64, id string) error {
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM boards WHERE id = ? AND user_id = ?`, id, userID)
	})
	if err != nil {
		return wrapf(err, "delete board")
	}
	if n == 0 {
		return db.ErrNotFound
	}
	return nil
}

// AddToBoard puts the user's generation on the user's board; a second time changes
// nothing. The insert reads both from their tables with the user: another user's
// board or generation inserts nothing and is not found.
func (s *Store) AddToBoard(ctx context.Context, userID int64, boardID, genID string) error {
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		var found int
		if err := q.QueryRow(`SELECT count(*) FROM boards b, generations g
			WHERE b.id = ?1 AND b.user_id = ?3 AND g.id = ?2 AND g.user_id = ?3`, boardID, genID, userID).Scan(&found); err != nil {
			return struct{}{}, err
		}
		if found == 0 {
			return struct{}{}, db.ErrNotFound
		}
		if _, err := q.Exec(`INSERT INTO board_items (board_id, generation_id, created_at, added_at)
			SELECT ?1, id, created_at, ?3 FROM generations WHERE id = ?2
			ON CONFLICT (board_id, generation_id) DO NOTHING`, boardID, genID, now); err != nil {
			return struct{}{}, err
		}
		_, err := q.Exec(`UPDATE boards SET updated_at = ?1 WHERE id = ?2`, now, boardID)
		return struct{}{}, err
	})
	return notFound(err, "add to board")
}

// RemoveFromBoard takes the generation off the user's board.
func (s *Store) RemoveFromBoard(ctx context.Context, userID int64, boardID, genID string) error {
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM board_items WHERE board_id = ?1 AND generation_id = ?2
			AND board_id IN (SELECT id FROM boards WHERE id = ?1 AND user_id = ?3)`, boardID, genID, userID)
	})
	if err != nil {
		return wrapf(err, "remove from board")
	}
	if n == 0 {
		return db.ErrNotFound
	}
	return nil
}

// boardListQuery is a board's page: its items in order from board_items_order, each
// generation read by id (its columns are the list's, listCols), with the keyset cursor of the gallery (?2, ?3: the upper
// bound, the largest when there is no cursor).
const boardListQuery = `SELECT ` + listCols + ` FROM (
	SELECT g.*, i.created_at AS item_at, i.generation_id AS item_id
	FROM board_items i JOIN generations g ON g.id = i.generation_id
	WHERE i.board_id = ?1 AND (i.created_at, i.generation_id) < (?2, ?3)
	ORDER BY i.created_at DESC, i.generation_id DESC LIMIT ?4) AS g
	ORDER BY item_at DESC, item_id DESC`

// ListBoard returns a page of the user's board, newest first.
func (s *Store) ListBoard(ctx context.Context, userID int64, boardID string, f db.ListFilter) ([]db.Generation, string, error) {
	if _, err := s.GetBoard(ctx, userID, boardID); err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	upper, upperID := int64(1<<62), ""
	if f.Cursor != "" {
		var err error
		if upper, upperID, err = decodeCursor(f.Cursor); err != nil {
			return nil, "", err
		}
	}
	return s.listPage(ctx, userID, boardListQuery, []any{boardID, upper, upperID, limit + 1}, limit)
}

// historyWindow is how many of a user's newest generations the prompt history groups:
// the grouping reads each of them, so a history of 100,000 would cost half a second;
// the counts are of these.
const historyWindow = 5000

// PromptHistory returns the user's prompts, grouped by text, last used first, among
// the user's newest historyWindow generations (read from generations_user_created).
func (s *Store) PromptHistory(ctx context.Context, userID int64, limit int) ([]db.PromptUse, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	out, err := read(ctx, s, func(q Querier) ([]db.PromptUse, error) {
		rows, err := q.Query(`SELECT prompt, count(*), max(created_at) AS last FROM (
				SELECT prompt, created_at FROM generations WHERE user_id = ?1
				ORDER BY created_at DESC, id DESC LIMIT ?3) recent
			GROUP BY prompt ORDER BY last DESC, prompt LIMIT ?2`, userID, limit, historyWindow)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []db.PromptUse{}
		for rows.Next() {
			var p db.PromptUse
			var last int64
			if err := rows.Scan(&p.Prompt, &p.Count, &last); err != nil {
				return nil, err
			}
			p.LastUsed = fromMS(last)
			out = append(out, p)
		}
		return out, rows.Err()
	})
	return out, wrapf(err, "prompt history")
}

// SavedPrompts returns the user's saved prompts, newest first.
func (s *Store) SavedPrompts(ctx context.Context, userID int64) ([]db.SavedPrompt, error) {
	out, err := read(ctx, s, func(q Querier) ([]db.SavedPrompt, error) {
		rows, err := q.Query(`SELECT id, name, prompt, created_at FROM saved_prompts
			WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []db.SavedPrompt{}
		for rows.Next() {
			var p db.SavedPrompt
			var created int64
			if err := rows.Scan(&p.ID, &p.Name, &p.Prompt, &created); err != nil {
				return nil, err
			}
			p.CreatedAt = fromMS(created)
			out = append(out, p)
		}
		return out, rows.Err()
	})
	return out, wrapf(err, "saved prompts")
}

// SavePrompt saves prompt under name.
func (s *Store) SavePrompt(ctx context.Context, userID int64, name, prompt string) (*db.SavedPrompt, error) {
	name, err := boardName(name)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(prompt) == "" {
		return nil, db.Errorf(db.CodeInvalid, "the prompt is empty")
	}
	now := ms(s.now())
	p := db.SavedPrompt{ID: db.NewID(), Name: name, Prompt: prompt, CreatedAt: fromMS(now)}
	_, err = write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`INSERT INTO saved_prompts (id, user_id, name, prompt, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, userID, name, prompt, now)
	})
	if err != nil {
		return nil, wrapf(err, "save prompt")
	}
	return &p, nil
}

// DeleteSavedPrompt removes one of the user's saved prompts.
func (s *Store) DeleteSavedPrompt(ctx context.Context, userID int64, id string) error {
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM saved_prompts WHERE id = ? AND user_id = ?`, id, userID)
	})
	if err != nil {
		return wrapf(err, "delete saved prompt")
	}
	if n == 0 {
		return db.ErrNotFound
	}
	return nil
}
