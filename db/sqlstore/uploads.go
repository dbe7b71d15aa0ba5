package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"nanobanana/db"
)

const uploadCols = `id, user_id, storage_key, content_type, width, height, bytes, sha256, created_at`

func scanUpload(row Row, u *db.Upload, extra ...any) error {
	var created int64
	dest := append([]any{&u.ID, &u.UserID, &u.Key, &u.ContentType, &u.Width, &u.Height,
		&u.Bytes, &u.SHA256, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	u.CreatedAt = fromMS(created)
	return nil
}

// CreateUploads records stored reference images of one user, all or none, within the
// user's quota of bytes (quota <= 0: none). The caller sets each ID (db.NewID(), usually
// also part of the storage key); a zero CreatedAt means now.
func (s *Store) CreateUploads(ctx context.Context, ups []db.Upload, quota int64) error {
	if len(ups) == 0 {
		return nil
	}
	user := ups[0].UserID
	var total int64
	now := fromMS(ms(s.now()))
	ups = append([]db.Upload(nil), ups...)
	for i := range ups {
		switch {
		case ups[i].ID == "":
			return errors.New("create uploads: empty id")
		case ups[i].UserID != user:
			return errors.New("create uploads: uploads of more than one user")
		}
		if ups[i].CreatedAt.IsZero() {
			ups[i].CreatedAt = now
		}
		total += ups[i].Bytes
	}
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		// The usage row is written first and is the quota's lock: a concurrent upload of
		// the same user waits on it (PostgreSQL) or runs after this write (SQLite's one
		// writer), and then counts these bytes too.
		// (The cast: PostgreSQL would type a bare ?3 <= 0 as a 32-bit integer.)
		n, err := q.Exec(`INSERT INTO upload_usage (user_id, bytes) VALUES (?1, ?2)
			ON CONFLICT (user_id) DO UPDATE SET bytes = upload_usage.bytes + ?2
			WHERE CAST(?3 AS BIGINT) <= 0 OR upload_usage.bytes + ?2 <= CAST(?3 AS BIGINT)`, user, total, quota)
		if err != nil {
			return struct{}{}, err
		}
		if n == 0 || (quota > 0 && total > quota) {
			return struct{}{}, db.Errorf(db.CodeUploadQuota, "the uploads would hold more than the quota of %d bytes", quota)
		}
		for _, u := range ups {
			if _, err := q.Exec(`INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				u.ID, u.UserID, u.Key, u.ContentType, u.Width, u.Height, u.Bytes, u.SHA256, ms(u.CreatedAt)); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	return wrapf(err, "create uploads")
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
		rows, err := q.Query(`SELECT `+uploadCols+` FROM uploads WHERE user_id = ? AND id IN (?`+
			strings.Repeat(", ?", len(ids)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		byID := make(map[string]db.Upload, len(ids))
		for rows.Next() {
			var u db.Upload
			if err := scanUpload(rows, &u); err != nil {
				return nil, err
			}
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

// listUploadQueries are ListUploads' two texts: the first page, and a page after a
// cursor (keyset on created_at, id, as generations are listed).
var listUploadQueries = [2]string{
	`SELECT ` + uploadCols + `, (SELECT count(*) FROM upload_refs r WHERE r.upload_id = uploads.id)
	FROM uploads WHERE user_id = ?1
	ORDER BY created_at DESC, id DESC LIMIT ?2`,
	`SELECT ` + uploadCols + `, (SELECT count(*) FROM upload_refs r WHERE r.upload_id = uploads.id)
	FROM uploads WHERE user_id = ?1 AND (created_at < ?3 OR (created_at = ?3 AND id < ?4))
	ORDER BY created_at DESC, id DESC LIMIT ?2`,
}

// ListUploads returns a page of the user's uploads, newest first, with how many
// generations use each, and the next page's cursor ("" after the last). limit is 1 to
// 100 (default 50).
func (s *Store) ListUploads(ctx context.Context, userID int64, limit int, cursor string) ([]db.Upload, string, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 100)
	q, args := listUploadQueries[0], []any{userID, limit + 1}
	if cursor != "" {
		created, after, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q, args = listUploadQueries[1], append(args, created, after)
	}
	out, err := read(ctx, s, func(x Querier) ([]db.Upload, error) {
		rows, err := x.Query(q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []db.Upload
		for rows.Next() {
			var u db.Upload
			if err := scanUpload(rows, &u, &u.Refs); err != nil {
				return nil, err
			}
			out = append(out, u)
		}
		return out, rows.Err()
	})
	if err != nil {
		return nil, "", wrapf(err, "list uploads")
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(ms(last.CreatedAt), last.ID)
	}
	return out, next, nil
}

// UploadBytes is what the user's uploads hold.
func (s *Store) UploadBytes(ctx context.Context, userID int64) (int64, error) {
	n, err := read(ctx, s, func(q Querier) (int64, error) {
		var n int64
		err := q.QueryRow(`SELECT coalesce(sum(bytes), 0) FROM upload_usage WHERE user_id = ?`, userID).Scan(&n)
		return n, err
	})
	return n, wrapf(err, "upload bytes")
}

// DeleteUpload removes the user's upload unless a pending or running generation uses
// it, and returns it. Generations that are over keep its id in reference_ids; run again,
// they fail saying the reference is gone.
//
// With PostgreSQL, a generation created at the very moment its upload is deleted may
// still name it (the two writes do not see each other); its job then fails with that
// same sentence. SQLite's one writer orders them.
func (s *Store) DeleteUpload(ctx context.Context, userID int64, id string) (*db.Upload, error) {
	u, err := write(ctx, s, func(q Querier) (*db.Upload, error) {
		var u db.Upload
		if err := scanUpload(q.QueryRow(`SELECT `+uploadCols+` FROM uploads WHERE id = ? AND user_id = ?`, id, userID), &u); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, db.ErrNotFound
			}
			return nil, err
		}
		var busy int
		if err := q.QueryRow(`SELECT count(*) FROM upload_refs r JOIN generations g ON g.id = r.generation_id
			WHERE r.upload_id = ? AND g.status IN ('pending', 'running')`, id).Scan(&busy); err != nil {
			return nil, err
		}
		if busy > 0 {
			return nil, db.Errorf(db.CodeUploadInUse, "the upload is used by %d generation(s) still pending or running: cancel them or wait until they finish, then delete it", busy)
		}
		if _, err := q.Exec(`DELETE FROM uploads WHERE id = ?`, id); err != nil {
			return nil, err
		}
		return &u, releaseUsage(q, userID, u.Bytes)
	})
	if errors.Is(err, db.ErrNotFound) {
		return nil, db.ErrNotFound
	}
	if err != nil {
		return nil, wrapf(err, "delete upload")
	}
	return u, nil
}

// releaseUsage takes n bytes off the user's usage.
func releaseUsage(q Querier, userID, n int64) error {
	_, err := q.Exec(`UPDATE upload_usage SET bytes = CASE WHEN bytes > ?2 THEN bytes - ?2 ELSE 0 END
		WHERE user_id = ?1`, userID, n)
	return err
}

// ExpireUploads removes up to limit uploads that no generation uses and that were made
// before before, oldest first, and returns them so the caller removes their files. The
// rows go first: a file left by a crash in between is only disk, while a row without
// its file would be a reference that fails.
func (s *Store) ExpireUploads(ctx context.Context, before time.Time, limit int) ([]db.Upload, error) {
	if limit <= 0 {
		limit = 100
	}
	out, err := write(ctx, s, func(q Querier) ([]db.Upload, error) {
		rows, err := q.Query(`DELETE FROM uploads WHERE id IN (
				SELECT id FROM uploads u WHERE created_at < ?
				AND NOT EXISTS (SELECT 1 FROM upload_refs r WHERE r.upload_id = u.id)
				ORDER BY created_at LIMIT ?)
			RETURNING `+uploadCols, ms(before), limit)
		if err != nil {
			return nil, err
		}
		var out []db.Upload
		for rows.Next() {
			var u db.Upload
			if err := scanUpload(rows, &u); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, u)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		freed := map[int64]int64{}
		for _, u := range out {
			freed[u.UserID] += u.Bytes
		}
		for user, n := range freed {
			if err := releaseUsage(q, user, n); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, wrapf(err, "expire uploads")
	}
	return out, nil
}
