package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"nanobanana/internal/pgtest"
	"nanobanana/internal/proctest"
	"nanobanana/storage/imaging"
)

// getBytes fetches url (with a bearer token unless it is empty) and returns status and body.
func getBytes(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}

// ownerInstance is the process part of a job's lease owner, "nb-<instance>-<claim>":
// one jobs service per serve process, a new instance at each start.
var ownerInstance = regexp.MustCompile(`^(nb-[0-9a-f]+-)[0-9]+$`)

// jobOwners reads, straight from PostgreSQL, each job's state and the process
// (instance) that last held it; a finished job keeps the owner that finished it.
func jobOwners(t *testing.T, pg *sql.DB) map[string][2]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := pg.QueryContext(ctx, `SELECT id, state, coalesce(lease_owner, '') FROM generations`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string][2]string{}
	for rows.Next() {
		var id, state, owner string
		if err := rows.Scan(&id, &state, &owner); err != nil {
			t.Fatal(err)
		}
		inst := ""
		if owner != "" {
			sm := ownerInstance.FindStringSubmatch(owner)
			if sm == nil {
				t.Fatalf("lease owner %q is not of the nb-<instance>-<n> form this test reads", owner)
			}
			inst = sm[1]
		}
		m[id] = [2]string{state, inst}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// sseLines streams the lines of GET url (an SSE endpoint) into the returned channel,
// which closes when the stream ends; the stream ends with the test.
func sseLines(t *testing.T, url, token string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %s, Content-Type %q", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return lines
}

// Two serve processes on one PostgreSQL database share one queue: jobs queued through
// either run on both, a process killed with SIGKILL loses none of its jobs (the other
// takes them over once their leases expire) and none is paid twice; tokens, image
// files, signed URLs and live events work across the processes.
func TestPostgresTwoProcessesShareOneQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("two-process PostgreSQL test skipped in -short mode")
	}
	dsn := pgtest.DSN(t)
	pgURL, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(pgURL.Path, "/")
	pg, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() }) // before pgtest drops the database

	api := proctest.StartFakeReplicate(t, "-queue-time", "300ms", "-run-time", "1500ms")
	// One host: the images (STORAGE=fs) live in one DATA_DIR both processes use. Each
	// runs in a working directory of its own, so nothing else is shared by accident.
	dataDir := t.TempDir()
	env := append([]string{
		"DATA_DIR=" + dataDir,
		"SECRET_KEY=two-processes-share-this-secret-key-0123456789",
		"REPLICATE_API_BASE=" + api, "REPLICATE_API_TOKEN=r8_shared_test_token",
		"JOB_LEASE_SECONDS=5", "MAX_WORKERS=6", "MAX_CONCURRENT_GENERATIONS=4",
		"LOG_LEVEL=warn", "DATABASE=postgres",
	}, seedPostgresEnv(t, dsn)...)
	dirA, dirB := t.TempDir(), t.TempDir()
	addrA := proctest.FreeAddr(t)
	a := startServeAt(t, dirA, addrA, env)
	b := startServe(t, dirB, env)
	logs := func() string {
		return "\n--- A:\n" + a.Logs.String() + "\n--- B:\n" + b.Logs.String()
	}

	// Accounts made on A sign in on B, and a token either issues works on the other.
	const users, perUser = 4, 15
	tokA, tokB := make([]string, users), make([]string, users)
	for u := range users {
		name := fmt.Sprintf("shared%d", u)
		code, reg := postJSON(t, a.URL+"/api/v1/auth/register", "", map[string]string{
			"username": name, "email": name + "@example.com", "password": "shared-password"})
		if code != 201 {
			t.Fatalf("register on A: %d %v", code, reg)
		}
		tokA[u] = reg["access_token"].(string)
		code, login := postJSON(t, b.URL+"/api/v1/auth/login", "", map[string]string{"username": name, "password": "shared-password"})
		if code != 200 {
			t.Fatalf("a user registered on A cannot sign in on B: %d %v", code, login)
		}
		tokB[u] = login["access_token"].(string)
		if code, me := getJSON(t, b.URL+"/api/v1/auth/me", tokA[u]); code != 200 || me["username"] != name {
			t.Fatalf("B refuses the token A issued: %d %v", code, me)
		}
	}

	// The queue: each request goes to the other process than the one before, with the
	// token the other process issued.
	var ids []string
	user := map[string]int{}
	for i := range users * perUser {
		u := i % users
		base, tok := a.URL, tokB[u]
		if i%2 == 1 {
			base, tok = b.URL, tokA[u]
		}
		code, g := postJSON(t, base+"/api/v1/images/generate", tok, map[string]string{
			"prompt": fmt.Sprintf("shared queue image %d", i), "resolution": "1K", "aspect_ratio": "1:1"})
		if code != 202 {
			t.Fatalf("generate %d: %d %v", i, code, g)
		}
		id := g["image_id"].(string)
		ids = append(ids, id)
		user[id] = u
	}

	// Both processes run jobs: while only A and B have ever run, the jobs carry the
	// lease owners of two different processes. The deadline only stops a hung test.
	time.Sleep(2 * time.Second)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		seen := map[string]bool{}
		for _, j := range jobOwners(t, pg) {
			if j[1] != "" {
				seen[j[1]] = true
			}
		}
		if len(seen) == 2 {
			break
		}
		if len(seen) > 2 {
			t.Fatalf("jobs name %d owner processes; only A and B run: %v", len(seen), seen)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the jobs never ran on both processes (owners %v)%s", seen, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// kill -9 A while jobs run: nothing of its shutdown runs, its leases stay behind.
	if err := a.Kill(); err != nil {
		t.Fatal(err)
	}
	atKill := jobOwners(t, pg)
	t.Logf("kill -9 A; fake so far: %+v", proctest.FakeStats(t, api))

	// B alone finishes everything, A's jobs included once their leases run out.
	waitAll := func(p *proc, toks []string, what string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			done := 0
			for _, id := range ids {
				code, g := getJSON(t, p.URL+"/api/v1/images/status/"+id, toks[user[id]])
				if code != 200 {
					t.Fatalf("%s: status of %s: %d %v%s", what, id, code, g, logs())
				}
				switch g["status"] {
				case "completed":
					done++
				case "failed", "canceled":
					t.Fatalf("%s: job %s ended %v: %v%s", what, id, g["status"], g["error"], logs())
				}
			}
			if done == len(ids) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: only %d of %d jobs completed%s", what, done, len(ids), logs())
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	waitAll(b, tokA, "B after A's kill")

	// Every job unfinished at the kill was finished by B, one process; the ones A held
	// running at the kill are among them, now under B's name.
	final := jobOwners(t, pg)
	instB, left, heldByA, takenOver := "", 0, 0, 0
	for id, j := range atKill {
		if j[0] == "done" {
			continue
		}
		left++
		f := final[id]
		if f[0] != "done" {
			t.Fatalf("job of %s is %q in the database though its generation completed", id, f[0])
		}
		if instB == "" {
			instB = f[1]
		} else if f[1] != instB {
			t.Fatalf("jobs left at the kill were finished by %s and %s; only B was running", instB, f[1])
		}
	}
	if instB == "" {
		t.Fatal("no job was left when A was killed: the test did not test a takeover")
	}
	for id, j := range atKill {
		if j[0] == "running" && j[1] != instB {
			heldByA++
			if final[id][1] == instB {
				takenOver++
			}
		}
	}
	if heldByA == 0 || takenOver != heldByA {
		t.Fatalf("A held %d running jobs at the kill, B took over %d of them", heldByA, takenOver)
	}
	t.Logf("B finished the %d jobs left at A's kill, the %d A held running among them", left, heldByA)

	// A comes back (PostgreSQL: it reclaims nothing at start) and agrees with B.
	a = startServeAt(t, dirA, addrA, env)
	waitAll(a, tokB, "restarted A")
	waitAll(b, tokA, "B")

	// Image files from both processes: the same bytes, a real image.
	for _, id := range []string{ids[0], ids[1], ids[len(ids)/2], ids[len(ids)-1]} {
		codeA, imgA := getBytes(t, a.URL+"/api/v1/images/file/"+id, tokA[user[id]])
		codeB, imgB := getBytes(t, b.URL+"/api/v1/images/file/"+id, tokB[user[id]])
		if codeA != 200 || codeB != 200 {
			t.Fatalf("file of %s: A %d, B %d", id, codeA, codeB)
		}
		if !bytes.Equal(imgA, imgB) {
			t.Fatalf("file of %s: A and B serve different bytes (%d and %d)", id, len(imgA), len(imgB))
		}
		if info, err := imaging.Inspect(bytes.NewReader(imgA), 100_000_000); err != nil || info.Width != 1024 || info.Height != 1024 {
			t.Fatalf("file of %s is not a 1K 1:1 image: %+v %v", id, info, err)
		}
	}

	// Live events across processes: a stream open on B shows a generation queued
	// through A. Once B has written the stream's first bytes it is subscribed.
	lines := sseLines(t, b.URL+"/api/v1/events", tokA[0])
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("B closed the event stream%s", logs())
			}
			return l
		case <-time.After(2 * time.Minute):
			t.Fatalf("no event from B's stream in minutes%s", logs())
		}
		return ""
	}
	for !strings.HasPrefix(next(), "retry:") {
	}
	code, g := postJSON(t, a.URL+"/api/v1/images/generate", tokB[0], map[string]string{
		"prompt": "seen from the other process", "resolution": "1K", "aspect_ratio": "1:1"})
	if code != 202 {
		t.Fatalf("generate through A: %d %v", code, g)
	}
	sseID := g["image_id"].(string)
	var statuses []string
	var completed map[string]any
	heartbeatFirst := false
	for completed == nil {
		l := next()
		if l == ": ping" && len(statuses) == 0 {
			// Without a cross-process wake-up the stream only re-reads the log on its
			// heartbeat, 15 s after it opened; with one, the event comes at once.
			heartbeatFirst = true
		}
		data, ok := strings.CutPrefix(l, "data: ")
		if !ok {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event data %q: %v", data, err)
		}
		if ev["image_id"] != sseID {
			t.Fatalf("B's stream sent an event of %v; only %s changed", ev["image_id"], sseID)
		}
		st, _ := ev["status"].(string)
		statuses = append(statuses, st)
		switch st {
		case "completed":
			completed = ev
		case "failed", "canceled", "deleted":
			t.Fatalf("the generation ended %s: %v", st, ev)
		}
	}
	if heartbeatFirst {
		t.Error("B's stream showed the generation queued through A only after its heartbeat: no cross-process notification woke it")
	}
	if !slices.Equal(statuses, []string{"pending", "running", "completed"}) {
		t.Errorf("B's stream showed statuses %v; want pending, running, completed", statuses)
	}
	// The URL B signed in the event opens on A as well: one SECRET_KEY signs for both.
	imageURL, _ := completed["image_url"].(string)
	if !strings.HasPrefix(imageURL, "/") {
		t.Fatalf("completed event has image_url %q; want a path on this server", imageURL)
	}
	codeA, imgA := getBytes(t, a.URL+imageURL, "")
	codeB, imgB := getBytes(t, b.URL+imageURL, "")
	if codeA != 200 || codeB != 200 || !bytes.Equal(imgA, imgB) || len(imgA) == 0 {
		t.Fatalf("signed image URL from B's event: A %d (%d bytes), B %d (%d bytes)", codeA, len(imgA), codeB, len(imgB))
	}
	ids = append(ids, sseID)
	user[sseID] = 0

	// Exactly one prediction per job: none lost, none paid twice, kill or not.
	if st := proctest.FakeStats(t, api); st.Created != len(ids) {
		t.Fatalf("Replicate saw %d predictions for %d jobs: a job was paid twice or lost (%+v)", st.Created, len(ids), st)
	}

	// The admin commands with the same settings: migrate finds the database current
	// (while both serve), backup points to PostgreSQL's own tool.
	cli := t.TempDir()
	out, stderr, code := runWithEnv(t, cli, "", env, "migrate")
	if code != 0 || !strings.Contains(out, "up to date") || !strings.Contains(out, dbName) {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, stderr)
	}
	backup := filepath.Join(cli, "x")
	out, stderr, code = runWithEnv(t, cli, "", env, "backup", "--to", backup)
	if code == 0 || !strings.Contains(stderr, "pg_dump") {
		t.Fatalf("backup with PostgreSQL: exit %d; want a refusal naming pg_dump\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(backup); err == nil {
		t.Fatal("backup with PostgreSQL wrote a file")
	}

	// Nothing went wrong that the processes noticed themselves.
	for name, p := range map[string]*proc{"A": a, "B": b} {
		if strings.Contains(p.Logs.String(), "level=ERROR") {
			t.Errorf("%s logged an error:\n%s", name, p.Logs.String())
		}
	}
	a.stop(t)
	b.stop(t)
}
