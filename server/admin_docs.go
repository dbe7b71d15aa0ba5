package server

// The OpenAPI entries of the administration routes (admin_api.go), kept beside them.
func init() {
	for k, v := range adminAPIDocs {
		apiDocs[k] = v
	}
}

var adminAPIDocs = map[string]opDoc{
	"GET /api/v1/admin/users": {tag: "admin", summary: "Accounts whose username or email starts with q, by id, in pages",
		query:   []queryParam{{"q", "a prefix of the username or the email"}, {"limit", "1 to 200 (default 50)"}, {"cursor", "next_cursor of the previous page"}},
		answers: map[int]any{200: adminUserList{}}},
	"PUT /api/v1/admin/users/disabled/:id": {tag: "admin", summary: "Disable (its sessions end at once, its waiting generations are canceled, its running ones stopped) or enable an account",
		body: disabledRequest{}, example: map[string]any{"disabled": true}, answers: map[int]any{200: adminUserJSON{}}},
	"PUT /api/v1/admin/users/approved/:id": {tag: "admin", summary: "Approve an account for the shared Replicate token (approval_required), or take it back",
		body: approvedRequest{}, example: map[string]any{"approved": true}, answers: map[int]any{200: adminUserJSON{}}},
	"PUT /api/v1/admin/users/admin/:id": {tag: "admin", summary: "Make an account an administrator or not (the last enabled one stays: 409 last_admin)",
		body: adminRequest{}, example: map[string]any{"admin": true}, answers: map[int]any{200: adminUserJSON{}}},
	"POST /api/v1/admin/users/password/:id": {tag: "admin", summary: "Set a user's password, or with no password get a one-time one (answered once); every session of the user ends",
		body: resetPasswordRequest{}, answers: map[int]any{200: resetPasswordJSON{}}},
	"GET /api/v1/admin/invitations": {tag: "admin", summary: "Invitations, newest first, with their state", answers: map[int]any{200: invitationList{}}},
	"POST /api/v1/admin/invitations": {tag: "admin", summary: "Make a single-use invitation link; its token is answered only here",
		body: invitationRequest{}, example: invitationRequest{ExpiresInHours: 72, Note: "for Ann"}, answers: map[int]any{201: invitationJSON{}}},
	"DELETE /api/v1/admin/invitations/:id": {tag: "admin", summary: "Revoke an unused invitation", answers: map[int]any{204: noBody{}}},
	"GET /api/v1/admin/queue":              {tag: "admin", summary: "Every user's pending and running generations, in queue order, and whether the queue is paused", answers: map[int]any{200: adminQueueJSON{}}},
	"POST /api/v1/admin/queue/cancel/:id":  {tag: "admin", summary: "Cancel any user's pending or running generation (at Replicate too)", answers: map[int]any{200: generationDoc{}}},
	"POST /api/v1/admin/queue/pause":       {tag: "admin", summary: "Pause all work: workers claim nothing until resumed (running generations finish)", answers: map[int]any{200: adminQueueJSON{}}},
	"POST /api/v1/admin/queue/resume":      {tag: "admin", summary: "Resume all work", answers: map[int]any{200: adminQueueJSON{}}},
	"GET /api/v1/admin/settings":           {tag: "admin", summary: "Every setting's value in force and its source (environment or stored)", answers: map[int]any{200: settingsJSON{}}},
	"PUT /api/v1/admin/settings": {tag: "admin", summary: "Store settings ({key: value, ...}); each value is checked, and one bad value stores nothing",
		body: map[string]any{}, example: map[string]any{"registration": "invite", "approval_required": true}, answers: map[int]any{200: settingsJSON{}}},
	"DELETE /api/v1/admin/settings/:key": {tag: "admin", summary: "Forget a stored setting: the environment's value applies again", answers: map[int]any{200: settingsJSON{}}},
	"GET /api/v1/admin/audit": {tag: "admin", summary: "The audit log, newest first, in pages",
		query: []queryParam{{"actor", "username of who acted"}, {"subject", "username acted upon"}, {"action", "one action, such as user.disabled"},
			{"from", "from this time (RFC 3339 or YYYY-MM-DD)"}, {"to", "before this time"}, {"limit", "1 to 200 (default 50)"}, {"cursor", "next_cursor of the previous page"}},
		answers: map[int]any{200: auditList{}}},
}
