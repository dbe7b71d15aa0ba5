package sqlite

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"zombiezen.com/go/sqlite/sqlitex"

	"nanobanana/db"
	"nanobanana/db/sqlstore"
	"nanobanana/db/storetest"
)

// oldDatabase makes a database at path with the migrations named applied (as a release
// before them would have left it) and returns a connection to it, closed when t ends
// (or before, by the caller).
func oldDatabase(t *testing.T, path string, migrations ...string) *conn {
	t.Helper()
	c, err := openConn(path, pragmas)
	if err != nil {
		t.Fatal(err)
	}
	raw := newConn(c)
	t.Cleanup(func() { raw.close() })
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, v := range migrations {
		body, err := migrationFS.ReadFile("migrations/" + v + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		if err := sqlitex.ExecuteScript(c, string(body), nil); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, v); err != nil {
			t.Fatal(err)
		}
	}
	return raw
}

// TestEventIDsSurviveMigration0003 holds the events rebuild to the SSE rule that ids
// never go back: a database whose events were all pruned under AUTOINCREMENT must hand
// out ids above the last one any client could have seen.
func TestEventIDsSurviveMigration0003(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw := oldDatabase(t, path, "0001_accounts", "0002_generations")
	for range 5 {
		if _, err := raw.Exec(`INSERT INTO events (user_id, generation_id, type, data, created_at) VALUES (1, 'g', 'pending', '{}', 0)`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec(`DELETE FROM events`); err != nil {
		t.Fatal(err)
	}
	raw.close()

	d, err := Open(ctx, path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var u int64
	if err := d.Raw(ctx, `INSERT INTO users (username, email, password_hash, created_at, updated_at)
		VALUES ('alice', 'alice@example.com', 'x', 0, 0) RETURNING id`, nil, &u); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateGeneration(ctx, u, db.Params{Prompt: "after the rebuild", Mode: db.ModeTextToImage}, db.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	evs, err := d.EventsSince(ctx, u, 0, 10)
	if err != nil || len(evs) != 1 || evs[0].ID <= 5 {
		t.Fatalf("first event after the migration: %+v %v (want an id above 5)", evs, err)
	}
}

// TestQueueSurvivesOneRowMigration: see storetest.QueueSurvivesOneRowMigration.
func TestQueueSurvivesOneRowMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	raw := oldDatabase(t, path, "0001_accounts", "0002_generations", "0003_leaner_writes",
		"0004_login_failures", "0005_events_without_user_index", "0006_submit_owner")
	storetest.QueueSurvivesOneRowMigration(t,
		func(q string, args ...any) {
			t.Helper()
			if _, err := raw.Exec(q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		},
		func() storetest.Store {
			raw.close()
			d, err := Open(context.Background(), path, db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		})
}

// The fixture testdata/pre-split.db was written by the release before db was split into
// engines (all 8 migrations of then applied). Opened by this code it applies only the
// later migrations, and everything in it reads back through the Store.
func TestPreSplitDatabaseMigratesInPlace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pre-split.db")
	copyFile(t, "testdata/pre-split.db", path)

	type migration struct {
		version string
		at      int64
	}
	applied := func(c *conn) []migration {
		t.Helper()
		rows, err := c.Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []migration
		for rows.Next() {
			var m migration
			if err := rows.Scan(&m.version, &m.at); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	c, err := openConn(path, pragmas)
	if err != nil {
		t.Fatal(err)
	}
	raw := newConn(c)
	before := applied(raw)
	raw.close()
	names, _ := migrationFS.ReadDir("migrations")
	if len(before) != 8 || len(names) < 8 {
		t.Fatalf("the fixture records %d migrations and this code has %d; want 8 and at least 8", len(before), len(names))
	}

	d, err := Open(ctx, path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if again, err := d.Migrate(ctx); err != nil || len(again) != 0 {
		t.Fatalf("migrate applied %v (%v); want nothing", again, err)
	}
	var after []migration
	if err := d.e.Read(ctx, func(q sqlstore.Querier) error { after = applied(q.(*conn)); return nil }); err != nil {
		t.Fatal(err)
	}
	// Only the migrations written since the fixture are applied, once.
	if len(after) != len(names) {
		t.Fatalf("schema_migrations after Open: %v; before: %v; want the %d of this code", after, before, len(names))
	}
	for i := range before {
		if after[i] != before[i] {
			t.Errorf("migration %s: recorded %v after Open, %v before (applied again?)", before[i].version, after[i], before[i])
		}
	}

	// alice, her sealed key, her session.
	u, err := d.UserByLogin(ctx, "alice")
	if err != nil || u.ID != 1 || !u.IsAdmin || u.Disabled || !u.HasAPIKey || u.APIKeyLast4 != "1234" || !u.APIKeyVerified {
		t.Fatalf("alice: %+v %v", u, err)
	}
	sealer, err := db.NewSealer("0123456789abcdef0123456789abcdef-fixture")
	if err != nil {
		t.Fatal(err)
	}
	if key, err := d.APIKey(ctx, sealer, u.ID); err != nil || len(key) < 4 || key[len(key)-4:] != "1234" {
		t.Fatalf("alice's key: %q %v", key, err)
	}
	if uid, fam, err := d.RefreshFamily(ctx, "tok1"); err != nil || uid != u.ID || fam != "fam1" {
		t.Fatalf("alice's session: %d %q %v", uid, fam, err)
	}
	// Her upload, and her three generations.
	const upload = "0123456789abcdef0123456789abcdef"
	if ups, err := d.GetUploads(ctx, u.ID, []string{upload}); err != nil || len(ups) != 1 || ups[0].Key != "uploads/1/x.png" ||
		ups[0].Width != 10 || ups[0].Bytes != 100 {
		t.Fatalf("the upload: %+v %v", ups, err)
	}
	// 0009 found that the pending generation uses it, and counted its bytes.
	if ups, _, err := d.ListUploads(ctx, u.ID, 0, ""); err != nil || len(ups) != 1 || ups[0].Refs != 1 {
		t.Fatalf("the upload's references: %+v %v", ups, err)
	}
	if n, err := d.UploadBytes(ctx, u.ID); err != nil || n != 100 {
		t.Fatalf("alice's upload bytes: %d %v", n, err)
	}
	if _, err := d.DeleteUpload(ctx, u.ID, upload); db.CodeOf(err) != db.CodeUploadInUse {
		t.Fatalf("delete the upload of a pending generation: %v", err)
	}
	list, next, err := d.ListGenerations(ctx, u.ID, db.ListFilter{})
	if err != nil || len(list) != 3 || next != "" {
		t.Fatalf("generations: %+v %q %v", list, next, err)
	}
	byStatus := map[string]*db.Generation{}
	for i := range list {
		g, err := d.GetGeneration(ctx, u.ID, list[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		byStatus[g.Status] = g
	}
	done, canceled, pending := byStatus[db.StatusCompleted], byStatus[db.StatusCanceled], byStatus[db.StatusPending]
	if done == nil || canceled == nil || pending == nil {
		t.Fatalf("statuses: %v; want one completed, one canceled, one pending", byStatus)
	}
	if done.PredictionID != "pred_fixture_1" || done.ImageKey != "images/1/a.png" || done.Width != 1024 || done.Bytes != 1234 || done.CompletedAt.IsZero() {
		t.Errorf("the completed generation: %+v", done)
	}
	if j, err := d.JobForPrediction(ctx, "pred_fixture_1"); err != nil || j.GenerationID != done.ID || j.State != db.JobDone {
		t.Errorf("the completed generation's job: %+v %v", j, err)
	}
	if canceled.CompletedAt.IsZero() || canceled.QueuePosition != 0 {
		t.Errorf("the canceled generation: %+v", canceled)
	}
	if pending.QueuePosition != 1 || pending.Mode != db.ModeImageToImage || len(pending.ReferenceIDs) != 1 || pending.ReferenceIDs[0] != upload {
		t.Errorf("the pending generation: %+v", pending)
	}
	if counts, err := d.QueueCounts(ctx); err != nil || len(counts) != 1 || counts[u.ID] != [2]int{1, 0} {
		t.Errorf("queue counts: %v %v", counts, err)
	}
	// Its events, in order.
	evs, err := d.EventsSince(ctx, u.ID, 0, 100)
	if err != nil || len(evs) != 6 {
		t.Fatalf("events: %+v %v", evs, err)
	}
	for i, want := range []string{"pending", "pending", "pending", "running", "completed", "canceled"} {
		if evs[i].Type != want || evs[i].ID != int64(i+1) {
			t.Errorf("event %d: %d %s; want %d %s", i, evs[i].ID, evs[i].Type, i+1, want)
		}
		// Written by the old code in the old shape, read back in the one shape.
		var data map[string]any
		if err := json.Unmarshal(evs[i].Data, &data); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if _, ok := data["error"]; !ok || data["image_id"] != data["id"] || data["status"] != want {
			t.Errorf("event %d is not in the stored shape: %s", i, evs[i].Data)
		}
	}
	// bob's failed sign-in is still counted.
	var fails int
	if err := d.Raw(ctx, `SELECT fails FROM login_failures WHERE key = 'acct:bob'`, nil, &fails); err != nil || fails != 1 {
		t.Errorf("bob's failed sign-in: %d failures, %v", fails, err)
	}
	// And the queue carries on: the pending generation is claimed, new ones follow.
	jobs, err := d.ClaimJobs(ctx, "w", time.Now().Add(time.Minute), 3, 5)
	if err != nil || len(jobs) != 1 || jobs[0].GenerationID != pending.ID || jobs[0].Generation == nil {
		t.Fatalf("claim: %+v %v", jobs, err)
	}
	g, err := d.CreateGeneration(ctx, u.ID, db.Params{Prompt: "after the split", Mode: db.ModeTextToImage}, db.CreateOptions{})
	if err != nil || g.QueuePosition != 1 {
		t.Fatalf("a new generation: %+v %v", g, err)
	}
	if more, err := d.EventsSince(ctx, u.ID, 6, 100); err != nil || len(more) != 2 || more[0].ID <= 6 {
		t.Fatalf("events after the fixture's: %+v %v", more, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
