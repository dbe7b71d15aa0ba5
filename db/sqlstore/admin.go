package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"nanobanana/db"
)

// Register creates an account, consuming its invitation in the same transaction: the
// invitation's UPDATE decides between two sign-ups with one link.
func (s *Store) Register(ctx context.Context, a db.NewAccount) (*db.User, error) {
	now := ms(s.now())
	return write(ctx, s, func(q Querier) (*db.User, error) {
		var invID int64
		if a.Invitation != "" {
			err := q.QueryRow(`SELECT id FROM invitations WHERE token_hash = ? AND used_at IS NULL
				AND revoked_at IS NULL AND expires_at > ?`, hashToken(a.Invitation), now).Scan(&invID)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, db.Errorf(db.CodeInvitationInvalid, "this invitation is unknown, used, revoked or expired")
			}
			if err != nil {
				return nil, err
			}
		}
		var taken string
		err := q.QueryRow(`SELECT CASE WHEN lower(username) = lower(?) THEN 'username' ELSE 'email' END
			FROM users WHERE lower(username) = lower(?) OR lower(email) = lower(?) LIMIT 1`,
			a.Username, a.Username, a.Email).Scan(&taken)
		switch {
		case err == nil && taken == "username":
			return nil, db.Errorf(db.CodeUsernameTaken, "username already registered")
		case err == nil:
			return nil, db.Errorf(db.CodeEmailTaken, "email already registered")
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
		// The first account is the admin and approved, in the same statement.
		u, err := scanUser(q.QueryRow(`INSERT INTO users (username, email, password_hash, is_admin, approved, created_at, updated_at)
			VALUES (?, ?, ?, CASE WHEN ? = 1 OR NOT EXISTS (SELECT 1 FROM users) THEN 1 ELSE 0 END,
				CASE WHEN ? = 1 OR NOT EXISTS (SELECT 1 FROM users) THEN 1 ELSE 0 END, ?, ?)
			RETURNING `+userCols, a.Username, a.Email, a.PasswordHash, boolInt(a.Admin), boolInt(!a.Unapproved), now, now))
		if s.e.UniqueViolation(err) {
			return nil, &db.Error{Code: db.CodeConflict, Reason: "username or email already registered", Err: err}
		}
		if err != nil {
			return nil, err
		}
		if invID != 0 {
			n, err := q.Exec(`UPDATE invitations SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL`, now, u.ID, invID)
			if err != nil {
				return nil, err
			}
			if n == 0 {
				return nil, db.Errorf(db.CodeInvitationInvalid, "this invitation was just used")
			}
		}
		return u, nil
	})
}

// pageCursor reads an id cursor ("" is the start).
func pageCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(c, 10, 64)
	if err != nil || id <= 0 {
		return 0, db.ErrInvalidCursor
	}
	return id, nil
}

func pageLimit(n, def, most int) int {
	if n <= 0 {
		return def
	}
	return min(n, most)
}

// likePrefix escapes a prefix for LIKE ... ESCAPE '\'.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(strings.ToLower(p)) + "%"
}

// SearchUsers pages through accounts by id, those whose username or email starts with
// the query.
func (s *Store) SearchUsers(ctx context.Context, f db.UserFilter) ([]db.User, string, error) {
	after, err := pageCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := pageLimit(f.Limit, 50, 200)
	users, err := read(ctx, s, func(q Querier) ([]db.User, error) {
		rows, err := q.Query(`SELECT `+userCols+` FROM users WHERE id > ?
			AND (? = '' OR lower(username) LIKE ? ESCAPE '\' OR lower(email) LIKE ? ESCAPE '\')
			ORDER BY id LIMIT ?`, after, f.Query, likePrefix(f.Query), likePrefix(f.Query), limit+1)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []db.User{}
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, *u)
		}
		return out, rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(users) > limit {
		users = users[:limit]
		next = strconv.FormatInt(users[limit-1].ID, 10)
	}
	return users, next, nil
}

// SetAdmin grants or removes the admin flag; the last enabled administrator keeps it.
func (s *Store) SetAdmin(ctx context.Context, userID int64, admin bool) error {
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		if !admin {
			var others int
			if err := q.QueryRow(`SELECT count(*) FROM users WHERE is_admin = 1 AND disabled = 0 AND id <> ?`, userID).Scan(&others); err != nil {
				return struct{}{}, err
			}
			if others == 0 {
				return struct{}{}, db.Errorf(db.CodeLastAdmin, "this is the last enabled administrator; make another one first")
			}
		}
		return struct{}{}, changeUser(q, `is_admin = ?, updated_at = ?`, boolInt(admin), now, userID)
	})
	return err
}

// SetApproved approves an account for the shared token, or takes the approval back.
func (s *Store) SetApproved(ctx context.Context, userID int64, approved bool) error {
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		return struct{}{}, changeUser(q, `approved = ?, updated_at = ?`, boolInt(approved), now, userID)
	})
	return err
}

const invitationCols = `i.id, i.note, coalesce(i.created_by, 0), coalesce(c.username, ''), i.created_at, i.expires_at,
	coalesce(i.used_at, 0), coalesce(i.used_by, 0), coalesce(u.username, ''), coalesce(i.revoked_at, 0)`

const invitationFrom = ` FROM invitations i LEFT JOIN users c ON c.id = i.created_by LEFT JOIN users u ON u.id = i.used_by`

func scanInvitation(row Row) (*db.Invitation, error) {
	var i db.Invitation
	var created, expires, used, revoked int64
	err := row.Scan(&i.ID, &i.Note, &i.CreatedBy, &i.CreatedByName, &created, &expires, &used, &i.UsedBy, &i.UsedByName, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	i.CreatedAt, i.ExpiresAt, i.UsedAt, i.RevokedAt = fromMS(created), fromMS(expires), fromMS(used), fromMS(revoked)
	return &i, nil
}

// CreateInvitation stores an invitation; only its token's hash is kept.
func (s *Store) CreateInvitation(ctx context.Context, inv db.Invitation, token string) (*db.Invitation, error) {
	now := ms(s.now())
	return write(ctx, s, func(q Querier) (*db.Invitation, error) {
		var id int64
		var by any
		if inv.CreatedBy != 0 {
			by = inv.CreatedBy
		}
		if err := q.QueryRow(`INSERT INTO invitations (token_hash, note, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, hashToken(token), inv.Note, by, now, ms(inv.ExpiresAt)).Scan(&id); err != nil {
			return nil, err
		}
		return scanInvitation(q.QueryRow(`SELECT `+invitationCols+invitationFrom+` WHERE i.id = ?`, id))
	})
}

// Invitations lists invitations, newest first.
func (s *Store) Invitations(ctx context.Context, limit int) ([]db.Invitation, error) {
	limit = pageLimit(limit, 100, 500)
	return read(ctx, s, func(q Querier) ([]db.Invitation, error) {
		rows, err := q.Query(`SELECT `+invitationCols+invitationFrom+` ORDER BY i.id DESC LIMIT ?`, limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []db.Invitation{}
		for rows.Next() {
			i, err := scanInvitation(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, *i)
		}
		return out, rows.Err()
	})
}

// RevokeInvitation ends an invitation that was not used.
func (s *Store) RevokeInvitation(ctx context.Context, id int64) error {
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		var used sql.NullInt64
		err := q.QueryRow(`SELECT used_at FROM invitations WHERE id = ?`, id).Scan(&used)
		if errors.Is(err, sql.ErrNoRows) {
			return struct{}{}, db.ErrNotFound
		}
		if err != nil {
			return struct{}{}, err
		}
		if used.Valid {
			return struct{}{}, db.Errorf(db.CodeConflict, "this invitation was used already")
		}
		_, err = q.Exec(`UPDATE invitations SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, now, id)
		return struct{}{}, err
	})
	return err
}

// AddAudit appends an audit entry.
func (s *Store) AddAudit(ctx context.Context, e db.AuditEntry) error {
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	detail := string(e.Detail)
	if detail == "" || detail == "null" {
		detail = "{}"
	}
	nullID := func(id int64) any {
		if id == 0 {
			return nil
		}
		return id
	}
	_, err := write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`INSERT INTO audit_log (at, action, actor_id, actor, subject_id, subject, client, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ms(at), e.Action, nullID(e.ActorID), e.Actor, nullID(e.SubjectID), e.Subject, e.Client, detail)
	})
	return err
}

// AuditLog pages through the audit log, newest first. One statement text for every
// filter: an empty filter value matches everything.
func (s *Store) AuditLog(ctx context.Context, f db.AuditFilter) ([]db.AuditEntry, string, error) {
	before, err := pageCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := pageLimit(f.Limit, 50, 200)
	if before == 0 {
		before = math.MaxInt64
	}
	from, to := int64(0), int64(math.MaxInt64)
	if !f.From.IsZero() {
		from = ms(f.From)
	}
	if !f.To.IsZero() {
		to = ms(f.To)
	}
	entries, err := read(ctx, s, func(q Querier) ([]db.AuditEntry, error) {
		rows, err := q.Query(`SELECT id, at, action, coalesce(actor_id, 0), actor, coalesce(subject_id, 0), subject, client, detail
			FROM audit_log WHERE id < ?
			AND (? = '' OR lower(actor) = lower(?)) AND (? = '' OR lower(subject) = lower(?))
			AND (? = '' OR action = ?) AND at >= ? AND at < ?
			ORDER BY id DESC LIMIT ?`, before, f.Actor, f.Actor, f.Subject, f.Subject, f.Action, f.Action,
			from, to, limit+1)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []db.AuditEntry{}
		for rows.Next() {
			var e db.AuditEntry
			var at int64
			var detail string
			if err := rows.Scan(&e.ID, &at, &e.Action, &e.ActorID, &e.Actor, &e.SubjectID, &e.Subject, &e.Client, &detail); err != nil {
				return nil, err
			}
			e.At, e.Detail = fromMS(at), json.RawMessage(detail)
			out = append(out, e)
		}
		return out, rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(entries) > limit {
		entries = entries[:limit]
		next = strconv.FormatInt(entries[limit-1].ID, 10)
	}
	return entries, next, nil
}

// PruneAudit deletes entries written before before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	return write(ctx, s, func(q Querier) (int64, error) {
		return q.Exec(`DELETE FROM audit_log WHERE at < ?`, ms(before))
	})
}

// QueueOfAll lists every user's pending and running generations, in queue order.
func (s *Store) QueueOfAll(ctx context.Context, limit int) ([]db.QueueEntry, error) {
	limit = pageLimit(limit, 200, 1000)
	return read(ctx, s, func(q Querier) ([]db.QueueEntry, error) {
		rows, err := q.Query(`SELECT g.id, g.user_id, u.username, g.status, g.prompt, g.resolution, g.attempts,
			g.created_at, coalesce(g.started_at, 0)
			FROM generations g JOIN users u ON u.id = g.user_id
			WHERE g.state IN ('queued', 'running') AND g.status IN ('pending', 'running') ORDER BY g.job_id LIMIT ?`, limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []db.QueueEntry{}
		for rows.Next() {
			var e db.QueueEntry
			var created, started int64
			if err := rows.Scan(&e.GenerationID, &e.UserID, &e.Username, &e.Status, &e.Prompt, &e.Resolution, &e.Attempts,
				&created, &started); err != nil {
				return nil, err
			}
			e.CreatedAt, e.StartedAt = fromMS(created), fromMS(started)
			out = append(out, e)
		}
		return out, rows.Err()
	})
}
