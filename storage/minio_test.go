package storage_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"nanobanana/internal/proctest"
	"nanobanana/storage"
	"nanobanana/storage/storagetest"
)

const (
	minioUser     = "nanobanana-test"
	minioPassword = "nanobanana-test-secret"
)

// minioBinary finds a MinIO server: $MINIO_BIN, then the repository's
// .cache/bin/minio (built by .ci/install-minio.sh), then PATH.
func minioBinary() string {
	if p := os.Getenv("MINIO_BIN"); p != "" {
		return p
	}
	if dir, err := os.Getwd(); err == nil {
		for ; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, ".cache", "bin", "minio")
				if _, err := os.Stat(p); err == nil {
					return p
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	return ""
}

// startMinIO runs a real MinIO server on loopback for the duration of t and
// returns its address.
func startMinIO(t *testing.T) string {
	t.Helper()
	bin := minioBinary()
	if bin == "" {
		proctest.Missing(t, "no minio binary: set MINIO_BIN, run .ci/install-minio.sh (builds .cache/bin/minio), or put minio on PATH")
	}
	for attempt := 0; ; attempt++ {
		addr, ok := tryStartMinIO(t, bin)
		if ok {
			return addr
		}
		if attempt == 2 {
			t.Fatal("minio did not start")
		}
	}
}

func tryStartMinIO(t *testing.T, bin string) (string, bool) {
	addr, console := proctest.FreeAddr(t), proctest.FreeAddr(t)
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser,
		"MINIO_ROOT_PASSWORD="+minioPassword,
		// The machine has no internet; keep the server from trying.
		"MINIO_UPDATE=off",
		"MINIO_BROWSER=off",
		"MINIO_CALLHOME_ENABLE=off",
	)
	p := proctest.Start(t, cmd)
	out := p.Logs
	stop := func() {
		if errors.Is(p.Stop(10*time.Second), proctest.ErrStillRunning) {
			_ = p.Kill()
		}
	}

	// Waiting is bounded only so a broken binary fails the test instead
	// of hanging it; the bound is far above a normal start.
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if p.Exited() {
			// Most likely the port was taken between FreeAddr and the
			// server binding it; the caller retries.
			t.Logf("minio exited early:\n%s", out.String())
			return "", false
		}
		// "live" (and even "ready") only say the process answers; S3 calls
		// can fail with "Server not initialized" a little longer, so wait
		// for a real one to succeed.
		if healthy(client, addr, "live") && s3Answers(addr) {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("minio not live after 60s:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("minio output:\n%s", out.String())
		}
	})
	return addr, true
}

func healthy(c *http.Client, addr, probe string) bool {
	resp, err := c.Get("http://" + addr + "/minio/health/" + probe)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func s3Answers(addr string) bool {
	c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(minioUser, minioPassword, "")})
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.ListBuckets(ctx)
	return err == nil
}

func randomBucket() string {
	var b [6]byte
	rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

func TestMinIOConformance(t *testing.T) {
	addr := startMinIO(t)
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		m, err := storage.NewMinIO(context.Background(), storage.MinIOOptions{
			Endpoint:  addr,
			AccessKey: minioUser,
			SecretKey: minioPassword,
			Bucket:    randomBucket(),
			// The smallest part size S3 allows, so the suite's large
			// and failing uploads really go up in several parts.
			PartSize: 5 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})

	t.Run("BucketCreatedOnceThenReused", func(t *testing.T) {
		ctx := context.Background()
		opts := storage.MinIOOptions{Endpoint: addr, AccessKey: minioUser, SecretKey: minioPassword, Bucket: randomBucket()}
		m1, err := storage.NewMinIO(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m1.Put(ctx, "kept.png", strings.NewReader("kept"), ""); err != nil {
			t.Fatal(err)
		}
		m2, err := storage.NewMinIO(ctx, opts)
		if err != nil {
			t.Fatalf("NewMinIO on an existing bucket: %v", err)
		}
		info, err := m2.Stat(ctx, "kept.png")
		if err != nil {
			t.Fatalf("object lost on reconnect: %v", err)
		}
		if info.ContentType != "image/png" {
			t.Errorf("empty content type stored as %q, want it derived from the extension", info.ContentType)
		}
	})

	t.Run("ContentTypeStoredAsGiven", func(t *testing.T) {
		ctx := context.Background()
		m, err := storage.NewMinIO(ctx, storage.MinIOOptions{Endpoint: addr, AccessKey: minioUser, SecretKey: minioPassword, Bucket: randomBucket()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Put(ctx, "no-ext", strings.NewReader("x"), "image/webp"); err != nil {
			t.Fatal(err)
		}
		if info, err := m.Stat(ctx, "no-ext"); err != nil || info.ContentType != "image/webp" {
			t.Errorf("Stat = %+v, %v; want type image/webp", info, err)
		}
	})

	t.Run("FailedMultipartIsAborted", func(t *testing.T) {
		ctx := context.Background()
		bucket := randomBucket()
		m, err := storage.NewMinIO(ctx, storage.MinIOOptions{Endpoint: addr, AccessKey: minioUser, SecretKey: minioPassword, Bucket: bucket, PartSize: 5 << 20})
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		r := &failAfter{n: 11 << 20, err: boom}
		if _, err := m.Put(ctx, "half.png", r, "image/png"); !errors.Is(err, boom) {
			t.Fatalf("Put error = %v, want %v", err, boom)
		}
		// Parts already sent must not linger as an incomplete upload
		// that keeps using disk.
		for u := range m.Client().ListIncompleteUploads(ctx, bucket, "", true) {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			t.Errorf("incomplete upload left behind: %s %s", u.Key, u.UploadID)
		}
	})

	t.Run("WrongCredentials", func(t *testing.T) {
		_, err := storage.NewMinIO(context.Background(), storage.MinIOOptions{Endpoint: addr, AccessKey: minioUser, SecretKey: "wrong-secret", Bucket: randomBucket()})
		if err == nil {
			t.Fatal("NewMinIO with a wrong secret succeeded")
		}
		var er minio.ErrorResponse
		if !errors.As(err, &er) || er.StatusCode != http.StatusForbidden {
			t.Errorf("error = %v, want the server's 403 kept in the chain", err)
		}
	})
}

type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

func TestNewMinIORequiresEndpointAndBucket(t *testing.T) {
	for _, o := range []storage.MinIOOptions{{Bucket: "b"}, {Endpoint: "127.0.0.1:1"}} {
		if _, err := storage.NewMinIO(context.Background(), o); err == nil {
			t.Errorf("NewMinIO(%+v) succeeded", o)
		}
	}
}
