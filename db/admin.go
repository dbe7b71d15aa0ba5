package db

import (
	"context"
	"encoding/json"
	"time"
)

// Admin is what the administration needs of the store: sign-up with invitations and
// approval, the user list, the admin flag, invitations, the audit log and the queue of
// every user.
type Admin interface {
	// Register is sign-up: it creates the account of a, consuming a.Invitation (the
	// invitation's token) in the same transaction when it is set. An invitation that
	// is unknown, used, revoked or expired is CodeInvitationInvalid and no account is
	// made; of two sign-ups with one invitation, one wins. The first account ever is
	// the admin and approved, whatever a says.
	Register(ctx context.Context, a NewAccount) (*User, error)
	// SearchUsers lists accounts whose username or email starts with f.Query
	// (case-insensitively), by id, a page at a time.
	SearchUsers(ctx context.Context, f UserFilter) ([]User, string, error)
	// SetAdmin grants or removes the admin flag. Removing it from the last enabled
	// administrator is CodeLastAdmin.
	SetAdmin(ctx context.Context, userID int64, admin bool) error
	// SetApproved approves an account for the shared token (or takes it back).
	SetApproved(ctx context.Context, userID int64, approved bool) error

	// CreateInvitation stores inv (ID and CreatedAt are set) for the token; only the
	// token's hash is kept.
	CreateInvitation(ctx context.Context, inv Invitation, token string) (*Invitation, error)
	// Invitations lists invitations, newest first, at most limit.
	Invitations(ctx context.Context, limit int) ([]Invitation, error)
	// RevokeInvitation ends an unused invitation; a used one is CodeConflict, an
	// unknown one ErrNotFound.
	RevokeInvitation(ctx context.Context, id int64) error

	// AddAudit appends an entry (its ID and, when zero, At are set).
	AddAudit(ctx context.Context, e AuditEntry) error
	// AuditLog returns a page of entries matching f, newest first, and the next page's
	// cursor ("" after the last).
	AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, string, error)
	// PruneAudit deletes entries written before before.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)

	// QueueOfAll lists every user's pending and running generations, oldest first, at
	// most limit.
	QueueOfAll(ctx context.Context, limit int) ([]QueueEntry, error)
}

// NewAccount is a sign-up.
type NewAccount struct {
	Username, Email, PasswordHash string
	// Invitation is the invitation's token ("" for none).
	Invitation string
	// Unapproved: the account may not use the shared token until approved.
	Unapproved bool
	// Admin makes the account an administrator.
	Admin bool
}

// UserFilter selects a page of accounts.
type UserFilter struct {
	Query  string // a prefix of the username or the email; "" for all
	Limit  int    // default 50, at most 200
	Cursor string
}

// Invitation is a single-use link to sign up.
type Invitation struct {
	ID            int64
	Note          string
	CreatedBy     int64
	CreatedByName string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        time.Time
	UsedBy        int64
	UsedByName    string
	RevokedAt     time.Time
}

// State is the invitation's state at now: "used", "revoked", "expired" or "open".
func (i *Invitation) State(now time.Time) string {
	switch {
	case !i.UsedAt.IsZero():
		return "used"
	case !i.RevokedAt.IsZero():
		return "revoked"
	case !now.Before(i.ExpiresAt):
		return "expired"
	}
	return "open"
}

// AuditEntry is one line of the audit log: who (actor) did what (action) to whom
// (subject), when, from which client address. Detail holds the action's particulars
// as a JSON object; never a secret.
type AuditEntry struct {
	ID        int64
	At        time.Time
	Action    string
	ActorID   int64 // 0: none (an anonymous request, the command line)
	Actor     string
	SubjectID int64
	Subject   string
	Client    string
	Detail    json.RawMessage
}

// AuditFilter selects a page of the audit log.
type AuditFilter struct {
	Actor, Subject string // usernames (case-insensitive); "" for any
	Action         string // "" for any
	From, To       time.Time
	Limit          int // default 50, at most 200
	Cursor         string
}

// QueueEntry is a pending or running generation as the administrator's queue shows it.
type QueueEntry struct {
	GenerationID string
	UserID       int64
	Username     string
	Status       string
	Prompt       string
	Resolution   string
	Attempts     int
	CreatedAt    time.Time
	StartedAt    time.Time
}
