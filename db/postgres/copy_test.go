package postgres

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/db/sqlite"
	"nanobanana/internal/pgtest"
)

// sqliteTables reads a db/sqlite database's tables for CopyFrom: its ReadTable answers
// the concrete *sqlite.TableRows, which CopyFrom takes as a TableRows.
type sqliteTables struct{ d *sqlite.DB }

func (s sqliteTables) ReadTable(ctx context.Context, table string) (TableRows, error) {
	rows, err := s.d.ReadTable(ctx, table)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// A SQLite deployment moved to PostgreSQL keeps everything a user or a job relies on:
// accounts and their sealed keys, sessions, generations, references, the queue (a job
// the old process held resumes its prediction), and event ids.
func TestCopyFromSQLiteKeepsEverything(t *testing.T) {
	ctx := context.Background()
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "old.db"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sealer, _ := db.NewSealer("copy-test-secret-copy-test-secret-0123")
	alice, err := src.CreateUser(ctx, "alice", "alice@example.com", "hash-a", false)
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := src.CreateUser(ctx, "bob", "bob@example.com", "hash-b", false)
	if err := src.SetAPIKey(ctx, sealer, bob.ID, "r8_bobs_key_5678", true); err != nil {
		t.Fatal(err)
	}
	if err := src.AddRefreshToken(ctx, alice.ID, "fam", "refresh-token-alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	up := db.Upload{ID: db.NewID(), UserID: bob.ID, Key: "uploads/x.png", ContentType: "image/png", Width: 2, Height: 3, Bytes: 40, SHA256: "ab"}
	if err := src.CreateUploads(ctx, []db.Upload{up}, 0); err != nil {
		t.Fatal(err)
	}
	done, _ := src.CreateGeneration(ctx, alice.ID, params("finished"), db.CreateOptions{})
	running, _ := src.CreateGeneration(ctx, alice.ID, params("was running"), db.CreateOptions{})
	var jobs []db.Job
	for range 2 { // a claim takes one job per user
		js, err := src.ClaimJobs(ctx, "old-process", time.Now().Add(time.Hour), 3, 2)
		if err != nil || len(js) != 1 {
			t.Fatalf("claim: %v %v", js, err)
		}
		jobs = append(jobs, js...)
	}
	p := params("queued with a reference")
	p.Mode, p.ReferenceIDs = db.ModeImageToImage, []string{up.ID}
	queued, _ := src.CreateGeneration(ctx, bob.ID, p, db.CreateOptions{})
	var runJob db.Job
	for _, j := range jobs {
		switch j.GenerationID {
		case done.ID:
			if err := src.CompleteJob(ctx, j.ID, "old-process", done.ID, db.Result{ImageKey: "img/k.png", ImageType: "image/png",
				ThumbKey: "img/t.jpg", Width: 1024, Height: 1024, Bytes: 1234, SHA256: "cafe"}); err != nil {
				t.Fatal(err)
			}
		case running.ID:
			runJob = j
			if err := src.SetPrediction(ctx, j.ID, "old-process", running.ID, "pred-running"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if runJob.ID == 0 {
		t.Fatal("the running generation was not claimed")
	}
	if _, err := src.LoginAttempt(ctx, "acct:bob", "", db.LoginPolicy{AccountFree: 5, AccountBase: time.Second,
		AccountMax: time.Minute, AccountMemory: time.Hour, AddrLimit: 30, AddrWindow: time.Hour}, time.Now()); err != nil {
		t.Fatal(err)
	}
	srcEvents, _ := src.EventsSince(ctx, alice.ID, 0, 100)
	// The administration's rows: an unapproved account, an invitation, an audit entry.
	if err := src.SetApproved(ctx, bob.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateInvitation(ctx, db.Invitation{CreatedBy: alice.ID, Note: "for dan", ExpiresAt: time.Now().Add(time.Hour)}, "invitation-token-dan"); err != nil {
		t.Fatal(err)
	}
	if err := src.AddAudit(ctx, db.AuditEntry{Action: "user.unapproved", ActorID: alice.ID, Actor: "alice", SubjectID: bob.ID, Subject: "bob", Client: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}

	// What users keep: a favorite on a board, a saved prompt, a share link, a personal
	// access token and an idempotency key.
	if _, err := src.SetFavorite(ctx, alice.ID, done.ID, true); err != nil {
		t.Fatal(err)
	}
	board, err := src.CreateBoard(ctx, alice.ID, "keepers")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.AddToBoard(ctx, alice.ID, board.ID, done.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := src.SavePrompt(ctx, alice.ID, "fox", "a red fox"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateShare(ctx, db.Share{Token: "share-token-alice", UserID: alice.ID, GenerationID: done.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateAccessToken(ctx, db.AccessToken{UserID: alice.ID, Name: "script", Prefix: "nbp_abcd", Scopes: []string{"read"}}, "nbp_secret"); err != nil {
		t.Fatal(err)
	}
	keyed, err := src.CreateGeneration(ctx, alice.ID, params("with a key"), db.CreateOptions{IdempotencyKey: "key-1", RequestHash: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	srcEvents, _ = src.EventsSince(ctx, alice.ID, 0, 100) // the favorite and the new one wrote events

	dst := openPG(t, pgtest.DSN(t), db.Options{})
	counts, err := dst.CopyFrom(ctx, sqliteTables{src})
	if err != nil {
		t.Fatal(err)
	}
	if counts["users"] != 2 || counts["generations"] != 4 || counts["jobs"] != 4 || counts["uploads"] != 1 ||
		counts["refresh_tokens"] != 1 || counts["events"] != int64(len(srcEvents)+1) {
		t.Fatalf("copied %v", counts)
	}

	if u, err := dst.UserByLogin(ctx, "ALICE"); err != nil || u.ID != alice.ID || !u.IsAdmin || u.PasswordHash != "hash-a" {
		t.Fatalf("alice after the copy: %+v %v", u, err)
	}
	if key, err := dst.APIKey(ctx, sealer, bob.ID); err != nil || key != "r8_bobs_key_5678" {
		t.Fatalf("bob's sealed key after the copy: %q %v", key, err)
	}
	if uid, _, err := dst.RotateRefreshToken(ctx, "refresh-token-alice", "next", time.Hour); err != nil || uid != alice.ID {
		t.Fatalf("alice's session after the copy: %d %v", uid, err)
	}
	g, err := dst.GetGeneration(ctx, alice.ID, done.ID)
	if err != nil || g.Status != db.StatusCompleted || g.ImageKey != "img/k.png" || g.Width != 1024 || !g.CreatedAt.Equal(done.CreatedAt) {
		t.Fatalf("completed generation: %+v %v", g, err)
	}
	// Position 2: beside alice's requeued job, which the estimate counts as ahead.
	if q, err := dst.GetGeneration(ctx, bob.ID, queued.ID); err != nil || q.QueuePosition != 2 ||
		len(q.ReferenceIDs) != 1 || q.ReferenceIDs[0] != up.ID {
		t.Fatalf("queued generation: %+v %v", q, err)
	}
	if ups, err := dst.GetUploads(ctx, bob.ID, []string{up.ID}); err != nil || ups[0].Key != up.Key {
		t.Fatalf("upload: %v %v", ups, err)
	}
	// Its reference and its bytes came along: the quota and the expiry see them.
	if ups, _, err := dst.ListUploads(ctx, bob.ID, 0, ""); err != nil || len(ups) != 1 || ups[0].Refs != 1 {
		t.Fatalf("the upload's references after the copy: %+v %v", ups, err)
	}
	if n, err := dst.UploadBytes(ctx, bob.ID); err != nil || n != 40 || counts["upload_refs"] != 1 || counts["upload_usage"] != 1 {
		t.Fatalf("bob's upload bytes after the copy: %d %v (counts %v)", n, err, counts)
	}
	// The job the old process held is queued again, still bound to its prediction.
	j, err := dst.JobForGeneration(ctx, running.ID)
	if err != nil || j.State != db.JobQueued || j.PredictionID != "pred-running" || j.Phase != db.PhaseSubmitted || j.LeaseOwner != "" {
		t.Fatalf("running job after the copy: %+v %v", j, err)
	}
	counts2, _ := dst.QueueCounts(ctx)
	if counts2[alice.ID] != [2]int{2, 0} || counts2[bob.ID] != [2]int{1, 0} {
		t.Fatalf("queue counts after the copy: %v", counts2)
	}
	claimed, err := dst.ClaimJobs(ctx, "new-process", time.Now().Add(time.Minute), 3, 5)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("the new process claims %v (%v); want both queued jobs", claimed, err)
	}
	// Events keep their ids, and new ones come after them.
	dstEvents, _ := dst.EventsSince(ctx, alice.ID, 0, 100)
	if len(dstEvents) < len(srcEvents) || dstEvents[0].ID != srcEvents[0].ID || string(dstEvents[0].Data) != string(srcEvents[0].Data) {
		t.Fatalf("events: %d copied from %d", len(dstEvents), len(srcEvents))
	}
	last := dstEvents[len(dstEvents)-1].ID
	if _, err := dst.CreateGeneration(ctx, alice.ID, params("after the copy"), db.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if after, _ := dst.EventsSince(ctx, alice.ID, last, 10); len(after) != 1 {
		t.Fatalf("a new event after the copy's last id %d: %v", last, after)
	}
	// Approval, invitations and the audit log came along, and their ids go on after them.
	if b, _ := dst.UserByID(ctx, bob.ID); b == nil || b.Approved || counts["invitations"] != 1 || counts["audit_log"] != 1 {
		t.Fatalf("administration after the copy: %+v, counts %v", b, counts)
	}
	if _, err := dst.Register(ctx, db.NewAccount{Username: "dan", Email: "dan@example.com", PasswordHash: "h", Invitation: "invitation-token-dan"}); err != nil {
		t.Fatalf("the copied invitation: %v", err)
	}
	if inv, err := dst.CreateInvitation(ctx, db.Invitation{ExpiresAt: time.Now().Add(time.Hour)}, "another"); err != nil || inv.ID <= 1 {
		t.Fatalf("a new invitation after the copy: %+v %v", inv, err)
	}
	if err := dst.AddAudit(ctx, db.AuditEntry{Action: "auth.login"}); err != nil {
		t.Fatalf("a new audit entry after the copy: %v", err)
	}
	if entries, _, err := dst.AuditLog(ctx, db.AuditFilter{}); err != nil || len(entries) != 2 || entries[1].Subject != "bob" {
		t.Fatalf("audit log after the copy: %+v %v", entries, err)
	}
	// The favorite, the board, the saved prompt, the share, the token and the key came along.
	if items, _, err := dst.ListBoard(ctx, alice.ID, board.ID, db.ListFilter{}); err != nil || len(items) != 1 || items[0].ID != done.ID || !items[0].Favorite {
		t.Fatalf("alice's board after the copy: %+v %v", items, err)
	}
	if sp, err := dst.SavedPrompts(ctx, alice.ID); err != nil || len(sp) != 1 || sp[0].Prompt != "a red fox" {
		t.Fatalf("saved prompts after the copy: %+v %v", sp, err)
	}
	if sh, err := dst.LiveShare(ctx, "share-token-alice"); err != nil || sh.GenerationID != done.ID {
		t.Fatalf("share link after the copy: %+v %v", sh, err)
	}
	if toks, err := dst.AccessTokens(ctx, alice.ID); err != nil || len(toks) != 1 || toks[0].Name != "script" {
		t.Fatalf("access tokens after the copy: %+v %v", toks, err)
	}
	if again, err := dst.CreateGeneration(ctx, alice.ID, params("with a key"), db.CreateOptions{IdempotencyKey: "key-1", RequestHash: "h1"}); err != nil || again.ID != keyed.ID || !again.Replayed {
		t.Fatalf("the idempotency key after the copy: %+v %v", again, err)
	}
	// New accounts get new ids; new jobs come behind the copied ones.
	carol, err := dst.CreateUser(ctx, "carol", "carol@example.com", "h", false)
	if err != nil || carol.ID <= bob.ID || carol.IsAdmin {
		t.Fatalf("carol: %+v %v", carol, err)
	}

	// A second copy into a database with accounts is refused and changes nothing.
	if _, err := dst.CopyFrom(ctx, sqliteTables{src}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("copy into a non-empty database: %v", err)
	}
	if users, err := dst.ListUsers(ctx); err != nil || len(users) != 4 {
		t.Fatalf("accounts after the refused copy: %d %v", len(users), err)
	}
}
