package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// User is an account. PasswordHash never leaves the server.
type User struct {
	ID             int64
	Username       string
	Email          string
	PasswordHash   string
	IsAdmin        bool
	Disabled       bool
	TokenVersion   int64
	HasAPIKey      bool
	APIKeyLast4    string
	APIKeyVerified bool
	CreatedAt      time.Time
}

const userCols = `id, username, email, password_hash, is_admin, disabled, token_version,
	api_key_sealed IS NOT NULL, coalesce(api_key_last4, ''), api_key_verified, created_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var created int64
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.IsAdmin, &u.Disabled, &u.TokenVersion,
		&u.HasAPIKey, &u.APIKeyLast4, &u.APIKeyVerified, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	u.CreatedAt = fromMS(created)
	return &u, nil
}

// CreateUser inserts an account. The first account ever created is the admin, decided
// inside the same write transaction so two simultaneous first sign-ups cannot both win.
// A taken username or email (case-insensitively) is ErrConflict, with which one in the text.
func (d *DB) CreateUser(ctx context.Context, username, email, passwordHash string, forceAdmin bool) (*User, error) {
	var u *User
	err := d.writeTx(ctx, func(tx *wtx) error {
		var taken string
		err := tx.QueryRowContext(ctx, `SELECT CASE WHEN lower(username) = lower(?) THEN 'username' ELSE 'email' END
			FROM users WHERE lower(username) = lower(?) OR lower(email) = lower(?) LIMIT 1`,
			username, username, email).Scan(&taken)
		if err == nil {
			if taken == "username" {
				return Errorf(CodeUsernameTaken, "username already registered")
			}
			return Errorf(CodeEmailTaken, "email already registered")
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := ms(d.now())
		row := tx.QueryRowContext(ctx, `INSERT INTO users (username, email, password_hash, is_admin, created_at, updated_at)
			VALUES (?, ?, ?, CASE WHEN ? = 1 OR NOT EXISTS (SELECT 1 FROM users) THEN 1 ELSE 0 END, ?, ?)
			RETURNING `+userCols, username, email, passwordHash, boolInt(forceAdmin), now, now)
		u, err = scanUser(row)
		if isUniqueViolation(err) {
			// Registered by a concurrent request (another process, with PostgreSQL)
			// between the check above and this insert.
			return &Error{Code: CodeConflict, Reason: "username or email already registered", Err: err}
		}
		return err
	})
	return u, err
}

// UserByID returns the account with that id.
func (d *DB) UserByID(ctx context.Context, id int64) (*User, error) {
	return scanUser(d.queryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
}

// UserByLogin finds an account by username or email, case-insensitively.
func (d *DB) UserByLogin(ctx context.Context, login string) (*User, error) {
	q := "SELECT " + userCols + " FROM users WHERE lower(username) = lower(?)"
	if strings.Contains(login, "@") {
		q = "SELECT " + userCols + " FROM users WHERE lower(email) = lower(?)"
	}
	return scanUser(d.queryRow(ctx, q, login))
}

// ListUsers returns every account, oldest first.
func (d *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := d.query(ctx, "SELECT "+userCols+" FROM users ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// SetPassword stores a new hash, bumps the token version (killing every access token at
// once) and revokes every refresh family except keepFamily (the caller's own session,
// or "" for none).
func (d *DB) SetPassword(ctx context.Context, userID int64, hash, keepFamily string) error {
	return d.writeTx(ctx, func(tx *wtx) error {
		now := ms(d.now())
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, token_version = token_version + 1, updated_at = ? WHERE id = ?`,
			hash, now, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND family != ? AND revoked_at IS NULL`,
			now, userID, keepFamily)
		return err
	})
}

// SetDisabled enables or disables an account; disabling also ends all its sessions.
func (d *DB) SetDisabled(ctx context.Context, userID int64, disabled bool) error {
	return d.writeTx(ctx, func(tx *wtx) error {
		now := ms(d.now())
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ?, token_version = token_version + 1, updated_at = ? WHERE id = ?`,
			disabled, now, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, userID)
		return err
	})
}

// SignOutEverywhere bumps the token version and revokes every refresh family of the user.
func (d *DB) SignOutEverywhere(ctx context.Context, userID int64) error {
	return d.writeTx(ctx, func(tx *wtx) error {
		now := ms(d.now())
		if _, err := tx.ExecContext(ctx, `UPDATE users SET token_version = token_version + 1, updated_at = ? WHERE id = ?`, now, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, userID)
		return err
	})
}

// hashToken is how refresh tokens are stored: a leaked database does not hold usable tokens.
// The tokens are 256-bit random values, so a fast hash is enough (no brute force is possible).
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// AddRefreshToken records a new refresh token in a family.
func (d *DB) AddRefreshToken(ctx context.Context, userID int64, family, token string, ttl time.Duration) error {
	return d.writeTx(ctx, func(tx *wtx) error {
		return addRefresh(ctx, tx, userID, family, token, d.now(), ttl)
	})
}

func addRefresh(ctx context.Context, tx *wtx, userID int64, family, token string, now time.Time, ttl time.Duration) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (user_id, family, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		userID, family, hashToken(token), ms(now), ms(now.Add(ttl)))
	return err
}

// RotateRefreshToken spends oldToken and records newToken in the same family, returning
// the user id and family. A token that is unknown, expired or revoked is ErrNotFound; one
// that was already spent is ErrTokenReused, and the whole family is revoked in the same
// transaction, because either it was stolen or a thief already rotated it.
func (d *DB) RotateRefreshToken(ctx context.Context, oldToken, newToken string, ttl time.Duration) (userID int64, family string, err error) {
	var reused bool
	err = d.writeTx(ctx, func(tx *wtx) error {
		now := d.now()
		var id, expires int64
		var used, revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT id, user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = ?`,
			hashToken(oldToken)).Scan(&id, &userID, &family, &expires, &used, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if revoked.Valid || expires <= ms(now) {
			return ErrNotFound
		}
		if used.Valid {
			reused = true
			_, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL`, ms(now), family)
			return err
		}
		var disabled bool
		if err := tx.QueryRowContext(ctx, `SELECT disabled FROM users WHERE id = ?`, userID).Scan(&disabled); err != nil {
			return err
		}
		if disabled {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE id = ?`, ms(now), id); err != nil {
			return err
		}
		return addRefresh(ctx, tx, userID, family, newToken, now, ttl)
	})
	if err == nil && reused {
		return 0, "", ErrTokenReused
	}
	return userID, family, err
}

// RevokeRefreshFamily ends the session that token belongs to. It answers the family's
// user so the caller can check ownership; an unknown token is ErrNotFound.
func (d *DB) RevokeRefreshFamily(ctx context.Context, token string) (userID int64, err error) {
	err = d.writeTx(ctx, func(tx *wtx) error {
		var family string
		err := tx.QueryRowContext(ctx, `SELECT user_id, family FROM refresh_tokens WHERE token_hash = ?`, hashToken(token)).Scan(&userID, &family)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL`, ms(d.now()), family)
		return err
	})
	return userID, err
}

// RefreshFamily returns the family and user of a live (unspent, unrevoked, unexpired) token.
func (d *DB) RefreshFamily(ctx context.Context, token string) (userID int64, family string, err error) {
	err = d.queryRow(ctx, `SELECT user_id, family FROM refresh_tokens
		WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
		hashToken(token), ms(d.now())).Scan(&userID, &family)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return userID, family, err
}

// PruneRefreshTokens deletes tokens that expired long enough ago to be of no use, even
// for reuse detection.
func (d *DB) PruneRefreshTokens(ctx context.Context, olderThan time.Duration) (int64, error) {
	res, err := d.exec(ctx, `DELETE FROM refresh_tokens WHERE expires_at < ?`, ms(d.now().Add(-olderThan)))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
