package sqlstore

import (
	"context"
	"errors"
	"strings"

	"nanobanana/db"
)

// CreateUpload records a stored reference image. The caller sets ID (db.NewID(), usually
// also part of the storage key); a zero CreatedAt means now.
func (s *Store) CreateUpload(ctx context.Context, u db.Upload) error {
	if u.ID == "" {
		return errors.New("create upload: empty id")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = fromMS(ms(s.now()))
	}
	_, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`INSERT INTO uploads (id, user_id, storage_key, content_type,
			width, height, bytes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.UserID, u.Key, u.ContentType, u.Width, u.Height, u.Bytes, u.SHA256, ms(u.CreatedAt))
	})
	return wrapf(err, "create upload")
}

// maxUploadsPerGet bounds GetUploads: one statement text per count is prepared, so the
// texts stay a small fixed set.
const maxUploadsPerGet = 16

// GetUploads returns the user's uploads with the given ids, in the order asked. Any id
// that is missing or another user's makes the whole call ErrNotFound.
func (s *Store) GetUploads(ctx context.Context, userID int64, ids []string) ([]db.Upload, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > maxUploadsPerGet {
		return nil, db.Errorf(db.CodeInvalid, "at most %d reference images", maxUploadsPerGet)
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, userID)
	for _, id := range ids {
		args = append(args, id)
	}
	byID, err := read(ctx, s, func(q Querier) (map[string]db.Upload, error) {
		rows, err := q.Query(`SELECT id, user_id, storage_key, content_type, width, height,
			bytes, sha256, created_at FROM uploads WHERE user_id = ? AND id IN (?`+
			strings.Repeat(", ?", len(ids)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		byID := make(map[string]db.Upload, len(ids))
		for rows.Next() {
			var u db.Upload
			var created int64
			if err := rows.Scan(&u.ID, &u.UserID, &u.Key, &u.ContentType, &u.Width, &u.Height,
				&u.Bytes, &u.SHA256, &created); err != nil {
				return nil, err
			}
			u.CreatedAt = fromMS(created)
			byID[u.ID] = u
		}
		return byID, rows.Err()
	})
	if err != nil {
		return nil, wrapf(err, "get uploads")
	}
	out := make([]db.Upload, 0, len(ids))
	for _, id := range ids {
		u, ok := byID[id]
		if !ok {
			return nil, db.ErrNotFound
		}
		out = append(out, u)
	}
	return out, nil
}
