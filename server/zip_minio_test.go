package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/internal/proctest"
	"nanobanana/storage"
	"nanobanana/storage/imaging"
)

// A zip and a recipe download read their images through the Storage interface, so with
// MinIO behind it they stream from S3 as they do from files: a real MinIO server here
// ($MINIO_BIN, the repository's .cache/bin/minio, or PATH; see storage's tests).
func TestZipFromMinIO(t *testing.T) {
	t.Parallel()
	bin := os.Getenv("MINIO_BIN")
	if bin == "" {
		if wd, err := os.Getwd(); err == nil {
			if p := filepath.Join(filepath.Dir(wd), ".cache", "bin", "minio"); fileExists(p) {
				bin = p
			}
		}
	}
	if bin == "" {
		bin, _ = exec.LookPath("minio")
	}
	if bin == "" {
		proctest.Missing(t, "no minio binary: set MINIO_BIN, run .ci/install-minio.sh (builds .cache/bin/minio), or put minio on PATH")
	}
	const user, secret = "nanobanana-test", "nanobanana-test-secret"
	addr, console := proctest.FreeAddr(t), proctest.FreeAddr(t)
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+secret,
		"MINIO_UPDATE=off", "MINIO_BROWSER=off", "MINIO_CALLHOME_ENABLE=off")
	p := proctest.Start(t, cmd)
	t.Cleanup(func() {
		if errors.Is(p.Stop(10*time.Second), proctest.ErrStillRunning) {
			_ = p.Kill()
		}
	})
	// The bucket is made when MinIO answers S3 calls; the wait is bounded only so a
	// broken binary fails instead of hanging.
	var store *storage.MinIO
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := storage.NewMinIO(ctx, storage.MinIOOptions{Endpoint: addr, AccessKey: user, SecretKey: secret, Bucket: "zips"})
		cancel()
		if err == nil {
			store = m
			break
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("minio did not start: %v\n%s", err, p.Logs.String())
		}
	}

	ts := newTestServer(t, func(o *Options) { o.Storage = store })
	u := ts.register(t, "s3zip")
	ctx := context.Background()
	var ids []string
	for i, format := range []string{"png", "jpg"} {
		prompt := []string{"from the bucket, png", "from the bucket, jpg"}[i]
		g, err := ts.DB.CreateGeneration(ctx, u.ID, db.Params{Prompt: prompt, Resolution: "1K", AspectRatio: "1:1",
			OutputFormat: format, SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage}, db.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		ctype := "image/png"
		if format == "png" {
			data = testPNG(t, 8, 8)
		} else {
			data, ctype = testJPEG(t, 8, 8), "image/jpeg"
		}
		key := "u/" + g.ID + "." + format
		if _, err := store.Put(ctx, key, bytes.NewReader(data), ctype); err != nil {
			t.Fatal(err)
		}
		jobs, err := ts.DB.ClaimJobs(ctx, "test", time.Now().Add(time.Minute), 10, 10)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		if err := ts.DB.CompleteJob(ctx, jobs[0].ID, "test", g.ID, db.Result{ImageKey: key, ImageType: ctype,
			Width: 8, Height: 8, Bytes: int64(len(data)), SHA256: "x"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, g.ID)
	}

	r := ts.do(t, call{Method: "POST", Path: "/api/v1/images/zip", Token: u.Access, Body: map[string]any{"ids": ids}})
	if r.Status != http.StatusOK {
		t.Fatalf("zip: %d %s", r.Status, r.Body)
	}
	entries := readZip(t, r.Body)
	if len(entries) != 2 {
		t.Fatalf("entries: %v", keys(entries))
	}
	for name, data := range entries {
		recipe := jpegComment(data)
		if strings.HasSuffix(name, ".png") {
			recipe = pngText(data, imaging.RecipeJSONKeyword)
		}
		var rc recipeJSON
		if err := json.Unmarshal([]byte(recipe), &rc); err != nil || !strings.HasPrefix(rc.Prompt, "from the bucket") {
			t.Errorf("%s's recipe: %q %v", name, recipe, err)
		}
	}
	dl := ts.do(t, call{Method: "GET", Path: "/api/v1/images/file/" + ids[0] + "?download=1", Token: u.Access})
	if dl.Status != 200 || !strings.Contains(pngText(dl.Body, imaging.RecipeJSONKeyword), "from the bucket, png") {
		t.Fatalf("download from MinIO: %d", dl.Status)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
