package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"nanobanana/db"
)

const accessTokenCols = `id, user_id, name, prefix, scopes, created_at, coalesce(expires_at, 0), coalesce(last_used_at, 0)`

func scanAccessToken(row Row) (*db.AccessToken, error) {
	var t db.AccessToken
	var scopes string
	var created, expires, used int64
	err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &scopes, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return &t, nil
}

// msOrNull is a time as a nullable column: the zero time is NULL.
func msOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

// CreateAccessToken stores a personal access token; only the secret's hash is kept.
func (s *Store) CreateAccessToken(ctx context.Context, t db.AccessToken, secret string) (*db.AccessToken, error) {
	now := s.now()
	return write(ctx, s, func(q Querier) (*db.AccessToken, error) {
		return scanAccessToken(q.QueryRow(`INSERT INTO access_tokens
			(user_id, name, prefix, token_hash, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			RETURNING `+accessTokenCols,
			t.UserID, t.Name, t.Prefix, hashToken(secret), strings.Join(t.Scopes, " "), ms(now), msOrNull(t.ExpiresAt)))
	})
}

// AccessTokens lists the user's tokens, newest first, expired ones included (the
// list shows them as expired until they are revoked).
func (s *Store) AccessTokens(ctx context.Context, userID int64) ([]db.AccessToken, error) {
	return read(ctx, s, func(q Querier) ([]db.AccessToken, error) {
		rows, err := q.Query(`SELECT `+accessTokenCols+` FROM access_tokens WHERE user_id = ? ORDER BY id DESC`, userID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []db.AccessToken{}
		for rows.Next() {
			t, err := scanAccessToken(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, *t)
		}
		return out, rows.Err()
	})
}

// DeleteAccessToken revokes a token by deleting its row.
func (s *Store) DeleteAccessToken(ctx context.Context, userID, id int64) error {
	n, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM access_tokens WHERE id = ? AND user_id = ?`, id, userID)
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return db.ErrNotFound
	}
	return nil
}

type tokenAndUser struct {
	t *db.AccessToken
	u *db.User
}

// UserForAccessToken reads the token by its hash and its user, in one read.
func (s *Store) UserForAccessToken(ctx context.Context, secret string) (*db.User, *db.AccessToken, error) {
	now := ms(s.now())
	r, err := read(ctx, s, func(q Querier) (tokenAndUser, error) {
		t, err := scanAccessToken(q.QueryRow(`SELECT `+accessTokenCols+` FROM access_tokens
			WHERE token_hash = ? AND (expires_at IS NULL OR expires_at > ?)`, hashToken(secret), now))
		if err != nil {
			return tokenAndUser{}, err
		}
		u, err := scanUser(q.QueryRow(`SELECT `+userCols+` FROM users WHERE id = ?`, t.UserID))
		return tokenAndUser{t, u}, err
	})
	if err != nil {
		return nil, nil, err
	}
	return r.u, r.t, nil
}

// TouchAccessToken records a use, unless a recent one is recorded already.
func (s *Store) TouchAccessToken(ctx context.Context, id int64, at, notBefore time.Time) error {
	_, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`UPDATE access_tokens SET last_used_at = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, ms(at), id, ms(notBefore))
	})
	return err
}
