package db

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Upload is a reference image a user stored for image-to-image generations.
type Upload struct {
	ID          string // NewID(); set by CreateUpload when empty
	UserID      int64
	Key         string // storage key
	ContentType string
	Width       int
	Height      int
	Bytes       int64
	SHA256      string
	CreatedAt   time.Time
}

// CreateUpload records a stored reference image. The caller sets ID (NewID(), usually
// also part of the storage key); a zero CreatedAt means now.
func (d *DB) CreateUpload(ctx context.Context, u Upload) error {
	if u.ID == "" {
		return fmt.Errorf("create upload: empty id")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = fromMS(ms(d.now()))
	}
	err := d.writeTx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO uploads (id, user_id, storage_key, content_type,
			width, height, bytes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.UserID, u.Key, u.ContentType, u.Width, u.Height, u.Bytes, u.SHA256, ms(u.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	return nil
}

// GetUploads returns the user's uploads with the given ids, in the order asked. Any id
// that is missing or another user's makes the whole call ErrNotFound.
func (d *DB) GetUploads(ctx context.Context, userID int64, ids []string) ([]Upload, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, userID)
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := d.query(ctx, `SELECT id, user_id, storage_key, content_type, width, height,
		bytes, sha256, created_at FROM uploads WHERE user_id = ? AND id IN (?`+
		strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("get uploads: %w", err)
	}
	defer rows.Close()
	byID := make(map[string]Upload, len(ids))
	for rows.Next() {
		var u Upload
		var created int64
		if err := rows.Scan(&u.ID, &u.UserID, &u.Key, &u.ContentType, &u.Width, &u.Height,
			&u.Bytes, &u.SHA256, &created); err != nil {
			return nil, fmt.Errorf("get uploads: %w", err)
		}
		u.CreatedAt = fromMS(created)
		byID[u.ID] = u
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get uploads: %w", err)
	}
	out := make([]Upload, 0, len(ids))
	for _, id := range ids {
		u, ok := byID[id]
		if !ok {
			return nil, ErrNotFound
		}
		out = append(out, u)
	}
	return out, nil
}
