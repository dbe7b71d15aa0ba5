package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"nanobanana/db"
)

const shareCols = `token, user_id, generation_id, board_id, created_at, coalesce(expires_at, 0)`

func scanShare(row Row) (*db.Share, error) {
	var sh db.Share
	var gen, board sql.NullString
	var created, expires int64
	err := row.Scan(&sh.Token, &sh.UserID, &gen, &board, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	sh.GenerationID, sh.BoardID = gen.String, board.String
	sh.CreatedAt, sh.ExpiresAt = fromMS(created), fromMS(expires)
	return &sh, nil
}

// CreateShare stores a link to one of the user's generations or boards; the insert
// selects it by id and owner, so another user's inserts nothing.
func (s *Store) CreateShare(ctx context.Context, sh db.Share) (*db.Share, error) {
	now := s.now()
	return write(ctx, s, func(q Querier) (*db.Share, error) {
		if sh.BoardID != "" {
			return scanShare(q.QueryRow(`INSERT INTO shares (token, user_id, board_id, created_at, expires_at)
				SELECT ?, user_id, id, ?, ? FROM boards WHERE id = ? AND user_id = ?
				RETURNING `+shareCols,
				sh.Token, ms(now), msOrNull(sh.ExpiresAt), sh.BoardID, sh.UserID))
		}
		return scanShare(q.QueryRow(`INSERT INTO shares (token, user_id, generation_id, created_at, expires_at)
			SELECT ?, user_id, id, ?, ? FROM generations WHERE id = ? AND user_id = ?
			RETURNING `+shareCols,
			sh.Token, ms(now), msOrNull(sh.ExpiresAt), sh.GenerationID, sh.UserID))
	})
}

// Shares lists the user's links, newest first.
func (s *Store) Shares(ctx context.Context, userID int64) ([]db.Share, error) {
	return read(ctx, s, func(q Querier) ([]db.Share, error) {
		rows, err := q.Query(`SELECT `+shareCols+` FROM shares WHERE user_id = ? ORDER BY created_at DESC, token`, userID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []db.Share{}
		for rows.Next() {
			sh, err := scanShare(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, *sh)
		}
		return out, rows.Err()
	})
}

// DeleteShare revokes a link by deleting its row.
func (s *Store) DeleteShare(ctx context.Context, userID int64, token string) error {
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM shares WHERE token = ? AND user_id = ?`, token, userID)
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return db.ErrNotFound
	}
	return nil
}

// liveShare is the live link of token: unexpired, its owner enabled.
func liveShare(q Querier, token string, now int64) (*db.Share, error) {
	return scanShare(q.QueryRow(`SELECT `+shareCols+` FROM shares
		WHERE token = ? AND (expires_at IS NULL OR expires_at > ?)
		AND EXISTS (SELECT 1 FROM users u WHERE u.id = shares.user_id AND u.disabled = 0)`, token, now))
}

// LiveShare reads a live link. The owner's account is checked in the same query: a
// disabled account's links stop.
func (s *Store) LiveShare(ctx context.Context, token string) (*db.Share, error) {
	now := ms(s.now())
	return read(ctx, s, func(q Querier) (*db.Share, error) { return liveShare(q, token, now) })
}

type shareAndGeneration struct {
	sh *db.Share
	g  *db.Generation
}

// SharedGeneration reads a live link and a generation it shows, in one read.
func (s *Store) SharedGeneration(ctx context.Context, token, genID string) (*db.Share, *db.Generation, error) {
	now := ms(s.now())
	r, err := read(ctx, s, func(q Querier) (shareAndGeneration, error) {
		sh, err := liveShare(q, token, now)
		if err != nil {
			return shareAndGeneration{}, err
		}
		var g *db.Generation
		switch {
		case sh.GenerationID != "":
			if genID != "" && genID != sh.GenerationID {
				return shareAndGeneration{}, db.ErrNotFound
			}
			g, err = scanGeneration(q.QueryRow(`SELECT `+genCols+` FROM generations WHERE id = ? AND user_id = ?`,
				sh.GenerationID, sh.UserID))
		default:
			g, err = scanGeneration(q.QueryRow(`SELECT `+genCols+` FROM generations
				WHERE id = ? AND user_id = ? AND EXISTS (SELECT 1 FROM board_items i WHERE i.board_id = ? AND i.generation_id = generations.id)`,
				genID, sh.UserID, sh.BoardID))
		}
		return shareAndGeneration{sh, g}, err
	})
	if err != nil {
		return nil, nil, err
	}
	return r.sh, r.g, nil
}
