package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"nanobanana/db"
)

// Audit actions: admin actions and security events. Each entry has its time, actor,
// subject and client address (clientIP); detail holds particulars that are never
// secrets (no password, key, token or invitation link).
const (
	auditLogin           = "auth.login"
	auditLoginFailed     = "auth.login_failed"
	auditPasswordChanged = "auth.password_changed"
	auditRegistered      = "auth.registered"
	auditKeySaved        = "apikey.saved"
	auditKeyRemoved      = "apikey.removed"
	auditInviteCreated   = "invitation.created"
	auditInviteUsed      = "invitation.used"
	auditInviteRevoked   = "invitation.revoked"
	auditUserDisabled    = "user.disabled"
	auditUserEnabled     = "user.enabled"
	auditUserApproved    = "user.approved"
	auditUserUnapproved  = "user.unapproved"
	auditAdminGranted    = "user.admin_granted"
	auditAdminRemoved    = "user.admin_removed"
	auditPasswordReset   = "user.password_reset"
	auditSettingChanged  = "settings.changed"
	auditSettingReset    = "settings.reset"
	auditQueuePaused     = "queue.paused"
	auditQueueResumed    = "queue.resumed"
	auditGenCanceled     = "queue.canceled"
	auditLimitsSet       = "limits.set"
)

// auditActions lists the actions (the Admin page's filter offers them).
var auditActions = []string{auditLogin, auditLoginFailed, auditPasswordChanged, auditRegistered, auditKeySaved,
	auditKeyRemoved, auditInviteCreated, auditInviteUsed, auditInviteRevoked, auditUserDisabled, auditUserEnabled,
	auditUserApproved, auditUserUnapproved, auditAdminGranted, auditAdminRemoved, auditPasswordReset,
	auditSettingChanged, auditSettingReset, auditQueuePaused, auditQueueResumed, auditGenCanceled, auditLimitsSet}

// audit appends an entry for a request: actor and subject may be nil. A failure to
// write is logged, never answered: the action itself happened.
func (s *Server) audit(r *http.Request, action string, actor, subject *db.User, detail map[string]any) {
	e := db.AuditEntry{At: s.now(), Action: action, Client: s.clientIP(r).String()}
	if actor != nil {
		e.ActorID, e.Actor = actor.ID, actor.Username
	}
	if subject != nil {
		e.SubjectID, e.Subject = subject.ID, subject.Username
	}
	if len(detail) > 0 {
		raw, err := json.Marshal(detail)
		if err == nil {
			e.Detail = raw
		}
	}
	// The entry is written even when the client went away meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.db.AddAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit entry not written", "action", action, "err", err)
	}
}
