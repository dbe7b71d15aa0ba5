package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"nanobanana/db"
)

const userCols = `id, username, email, password_hash, is_admin, disabled, token_version,
	api_key_sealed IS NOT NULL, coalesce(api_key_last4, ''), api_key_verified, created_at, approved`

func scanUser(row Row) (*db.User, error) {
	var u db.User
	var created int64
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.IsAdmin, &u.Disabled, &u.TokenVersion,
		&u.HasAPIKey, &u.APIKeyLast4, &u.APIKeyVerified, &created, &u.Approved)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	u.CreatedAt = fromMS(created)
	return &u, nil
}

// CreateUser inserts an account. The first account ever created is the admin, decided
// inside the same write transaction so two simultaneous first sign-ups cannot both win.
// A taken username or email (case-insensitively) is CodeUsernameTaken or CodeEmailTaken.
func (s *Store) CreateUser(ctx context.Context, username, email, passwordHash string, forceAdmin bool) (*db.User, error) {
	now := ms(s.now())
	return write(ctx, s, func(q Querier) (*db.User, error) {
		var taken string
		err := q.QueryRow(`SELECT CASE WHEN lower(username) = lower(?) THEN 'username' ELSE 'email' END
			FROM users WHERE lower(username) = lower(?) OR lower(email) = lower(?) LIMIT 1`,
			username, username, email).Scan(&taken)
		switch {
		case err == nil && taken == "username":
			return nil, db.Errorf(db.CodeUsernameTaken, "username already registered")
		case err == nil:
			return nil, db.Errorf(db.CodeEmailTaken, "email already registered")
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
		u, err := scanUser(q.QueryRow(`INSERT INTO users (username, email, password_hash, is_admin, created_at, updated_at)
			VALUES (?, ?, ?, CASE WHEN ? = 1 OR NOT EXISTS (SELECT 1 FROM users) THEN 1 ELSE 0 END, ?, ?)
			RETURNING `+userCols, username, email, passwordHash, boolInt(forceAdmin), now, now))
		if s.e.UniqueViolation(err) {
			// Registered by a concurrent request (another process, with PostgreSQL)
			// between the check above and this insert.
			return nil, &db.Error{Code: db.CodeConflict, Reason: "username or email already registered", Err: err}
		}
		return u, err
	})
}

// UserByID returns the account with that id.
func (s *Store) UserByID(ctx context.Context, id int64) (*db.User, error) {
	return read(ctx, s, func(q Querier) (*db.User, error) {
		return scanUser(q.QueryRow(`SELECT `+userCols+` FROM users WHERE id = ?`, id))
	})
}

// UserForSession is UserByID for a token of session family, refused with
// CodeSessionEnded when any token of the family was revoked (the revocation of a family
// marks every token of it). One query: the family's tokens are found by their index.
func (s *Store) UserForSession(ctx context.Context, id int64, family string) (*db.User, error) {
	if family == "" {
		return s.UserByID(ctx, id)
	}
	var ended bool
	u, err := read(ctx, s, func(q Querier) (*db.User, error) {
		return scanUser(scanPlus{q.QueryRow(`SELECT `+userCols+`, EXISTS (SELECT 1 FROM refresh_tokens
			WHERE family = ? AND user_id = ? AND revoked_at IS NOT NULL) FROM users WHERE id = ?`, family, id, id),
			[]any{&ended}})
	})
	if err != nil {
		return nil, err
	}
	if ended {
		return nil, db.Errorf(db.CodeSessionEnded, "this session was ended")
	}
	return u, nil
}

// UserByLogin finds an account by username or email, case-insensitively.
func (s *Store) UserByLogin(ctx context.Context, login string) (*db.User, error) {
	query := `SELECT ` + userCols + ` FROM users WHERE lower(username) = lower(?)`
	if strings.Contains(login, "@") {
		query = `SELECT ` + userCols + ` FROM users WHERE lower(email) = lower(?)`
	}
	return read(ctx, s, func(q Querier) (*db.User, error) { return scanUser(q.QueryRow(query, login)) })
}

// ListUsers returns every account, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]db.User, error) {
	return read(ctx, s, func(q Querier) ([]db.User, error) {
		rows, err := q.Query(`SELECT ` + userCols + ` FROM users ORDER BY id`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []db.User
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, *u)
		}
		return out, rows.Err()
	})
}

// changeUser runs one UPDATE of a user; no such user is ErrNotFound.
func changeUser(q Querier, set string, args ...any) error {
	n, err := q.Exec(`UPDATE users SET `+set+` WHERE id = ?`, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return db.ErrNotFound
	}
	return nil
}

// SetPassword stores a new hash, bumps the token version (killing every access token at
// once) and revokes every refresh family except keepFamily (the caller's own session,
// or "" for none).
func (s *Store) SetPassword(ctx context.Context, userID int64, hash, keepFamily string) error {
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		if err := changeUser(q, `password_hash = ?, token_version = token_version + 1, updated_at = ?`, hash, now, userID); err != nil {
			return struct{}{}, err
		}
		_, err := q.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND family != ? AND revoked_at IS NULL`,
			now, userID, keepFamily)
		return struct{}{}, err
	})
	if err == nil {
		s.notify(userID) // open event streams check their credentials again
	}
	return err
}

// SetDisabled enables or disables an account; disabling also ends all its sessions and
// cancels its pending generations and flags its running ones, each with an event, in
// the same transaction. It returns what it canceled.
func (s *Store) SetDisabled(ctx context.Context, userID int64, disabled bool) ([]db.CancelOutcome, error) {
	now := ms(s.now())
	out, err := writeEvents(ctx, s, func(q EventQuerier) ([]db.CancelOutcome, error) {
		if err := changeUser(q, `disabled = ?, token_version = token_version + 1, updated_at = ?`, boolInt(disabled), now, userID); err != nil {
			return nil, err
		}
		if _, err := q.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, userID); err != nil {
			return nil, err
		}
		if !disabled {
			return nil, nil
		}
		return cancelAll(q, userID, now)
	})
	if err != nil {
		return nil, err
	}
	s.notify(userID)
	return out, nil
}

// SignOutEverywhere bumps the token version and revokes every refresh family of the user.
func (s *Store) SignOutEverywhere(ctx context.Context, userID int64) error {
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		if err := changeUser(q, `token_version = token_version + 1, updated_at = ?`, now, userID); err != nil {
			return struct{}{}, err
		}
		_, err := q.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, userID)
		return struct{}{}, err
	})
	if err == nil {
		s.notify(userID)
	}
	return err
}

// hashToken is how refresh tokens are stored: a leaked database does not hold usable tokens.
// The tokens are 256-bit random values, so a fast hash is enough (no brute force is possible).
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// AddRefreshToken records a new refresh token in a family.
func (s *Store) AddRefreshToken(ctx context.Context, userID int64, family, token string, ttl time.Duration) error {
	now := s.now()
	_, err := write(ctx, s, func(q Querier) (int64, error) {
		return addRefresh(q, userID, family, token, now, ttl)
	})
	return err
}

func addRefresh(q Querier, userID int64, family, token string, now time.Time, ttl time.Duration) (int64, error) {
	return q.Exec(`INSERT INTO refresh_tokens (user_id, family, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		userID, family, hashToken(token), ms(now), ms(now.Add(ttl)))
}

// rotation is what RotateRefreshToken's write found.
type rotation struct {
	userID int64
	family string
	reused bool
}

// RotateRefreshToken spends oldToken and records newToken in the same family, returning
// the user id and family. A token that is unknown, expired or revoked is ErrNotFound; one
// that was already spent is ErrTokenReused, and the whole family is revoked in the same
// transaction, because either it was stolen or a thief already rotated it.
func (s *Store) RotateRefreshToken(ctx context.Context, oldToken, newToken string, ttl time.Duration) (int64, string, error) {
	now := s.now()
	r, err := write(ctx, s, func(q Querier) (rotation, error) {
		var r rotation
		var id, expires int64
		var used, revoked sql.NullInt64
		err := q.QueryRow(`SELECT id, user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = ?`,
			hashToken(oldToken)).Scan(&id, &r.userID, &r.family, &expires, &used, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return r, db.ErrNotFound
		}
		if err != nil {
			return r, err
		}
		if revoked.Valid || expires <= ms(now) {
			return r, db.ErrNotFound
		}
		if used.Valid {
			// The revocation must commit, so this run succeeds and says what it found.
			r.reused = true
			_, err := q.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL`, ms(now), r.family)
			return r, err
		}
		var disabled bool
		if err := q.QueryRow(`SELECT disabled FROM users WHERE id = ?`, r.userID).Scan(&disabled); err != nil {
			return r, err
		}
		if disabled {
			return r, db.ErrNotFound
		}
		if _, err := q.Exec(`UPDATE refresh_tokens SET used_at = ? WHERE id = ?`, ms(now), id); err != nil {
			return r, err
		}
		_, err = addRefresh(q, r.userID, r.family, newToken, now, ttl)
		return r, err
	})
	if err != nil {
		return 0, "", err
	}
	if r.reused {
		s.notify(r.userID)
		return 0, "", db.ErrTokenReused
	}
	return r.userID, r.family, nil
}

// RevokeRefreshFamily ends the session that token belongs to. It answers the family's
// user so the caller can check ownership; an unknown token is ErrNotFound.
func (s *Store) RevokeRefreshFamily(ctx context.Context, token string) (int64, error) {
	now := ms(s.now())
	userID, err := write(ctx, s, func(q Querier) (int64, error) {
		var userID int64
		var family string
		err := q.QueryRow(`SELECT user_id, family FROM refresh_tokens WHERE token_hash = ?`, hashToken(token)).Scan(&userID, &family)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, db.ErrNotFound
		}
		if err != nil {
			return 0, err
		}
		_, err = q.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL`, now, family)
		return userID, err
	})
	if err == nil {
		s.notify(userID)
	}
	return userID, err
}

// RefreshFamily returns the family and user of a live (unspent, unrevoked, unexpired) token.
func (s *Store) RefreshFamily(ctx context.Context, token string) (int64, string, error) {
	now := ms(s.now())
	var userID int64
	var family string
	err := s.e.Read(ctx, func(q Querier) error {
		return q.QueryRow(`SELECT user_id, family FROM refresh_tokens
			WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
			hashToken(token), now).Scan(&userID, &family)
	})
	if errors.Is(err, sql.ErrNoRows) {
		err = db.ErrNotFound
	}
	return userID, family, err
}

// PruneRefreshTokens deletes tokens that expired long enough ago to be of no use, even
// for reuse detection.
func (s *Store) PruneRefreshTokens(ctx context.Context, olderThan time.Duration) (int64, error) {
	before := ms(s.now().Add(-olderThan))
	return write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM refresh_tokens WHERE expires_at < ?`, before)
	})
}

// SetAPIKey stores the user's Replicate key sealed, with its last four characters (shown
// so a person can tell which key is set) and whether Replicate accepted it.
func (s *Store) SetAPIKey(ctx context.Context, sealer *db.Sealer, userID int64, key string, verified bool) error {
	sealed, err := sealer.Seal(userID, key)
	if err != nil {
		return err
	}
	last4 := key
	if len(last4) > 4 {
		last4 = last4[len(last4)-4:]
	}
	now := ms(s.now())
	_, err = write(ctx, s, func(q Querier) (struct{}, error) {
		return struct{}{}, changeUser(q, `api_key_sealed = ?, api_key_last4 = ?, api_key_verified = ?, updated_at = ?`,
			sealed, last4, boolInt(verified), now, userID)
	})
	return err
}

// ClearAPIKey removes the user's key.
func (s *Store) ClearAPIKey(ctx context.Context, userID int64) error {
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`UPDATE users SET api_key_sealed = NULL, api_key_last4 = NULL, api_key_verified = 0, updated_at = ? WHERE id = ?`,
			now, userID)
	})
	return err
}

// APIKey returns the user's Replicate key in plaintext, or "" when none is set.
func (s *Store) APIKey(ctx context.Context, sealer *db.Sealer, userID int64) (string, error) {
	sealed, err := read(ctx, s, func(q Querier) ([]byte, error) {
		var b []byte
		err := q.QueryRow(`SELECT api_key_sealed FROM users WHERE id = ?`, userID).Scan(&b)
		return b, err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", db.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	if sealed == nil {
		return "", nil
	}
	key, err := sealer.Open(userID, sealed)
	if err != nil {
		return "", fmt.Errorf("user %d: %w", userID, err)
	}
	return key, nil
}

// boolInt stores a flag: the schema keeps SQLite's 0/1 integers, in PostgreSQL too.
func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}
