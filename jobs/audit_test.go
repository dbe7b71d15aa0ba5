package jobs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/replicate/replicatetest"
)

// The periodic sweep prunes the audit log by its retention: AUDIT_RETENTION_DAYS, or
// the stored audit_retention_days setting when an administrator changed it.
func TestSweepPrunesTheAuditLogByItsRetention(t *testing.T) {
	e := newEnv(t, replicatetest.Config{})
	ctx := context.Background()
	now := time.Now()
	for _, age := range []int{1, 10, 40, 100} { // days
		if err := e.db.AddAudit(ctx, db.AuditEntry{At: now.Add(-time.Duration(age) * 24 * time.Hour), Action: "auth.login"}); err != nil {
			t.Fatal(err)
		}
	}
	left := func() int {
		t.Helper()
		entries, _, err := e.db.AuditLog(ctx, db.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	s := e.service(func(o *Options) { o.AuditRetention = 90 * 24 * time.Hour })
	if err := s.pruneAudit(ctx, now); err != nil || left() != 3 {
		t.Fatalf("environment's 90 days: %d left, %v; want 3", left(), err)
	}
	if err := e.db.PutSetting(ctx, "audit_retention_days", json.RawMessage(`7`), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.pruneAudit(ctx, now); err != nil || left() != 1 {
		t.Fatalf("stored 7 days: %d left, %v; want 1", left(), err)
	}
}
