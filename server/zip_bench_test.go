package server

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"nanobanana/config"
	"nanobanana/db"
	"nanobanana/storage"
)

// BenchmarkZipStreaming writes zips of 10, 100 and 1,000 images (each a 1 MB PNG of
// noise, so nothing compresses, read from a real file store and written with its
// recipe) to a sink, and reports, while each zip is written, the peak heap in use and
// the peak live heap (sampled every millisecond), and the process's peak RSS. Streamed, the peak stays flat
// as the count grows: what a zip holds is one file's buffers and its central directory
// (about 100 bytes an entry).
//
//	go test ./server -run '^$' -bench ZipStreaming -benchtime 3x
func BenchmarkZipStreaming(b *testing.B) {
	fs, err := storage.NewFS(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	// One stored image serves every entry: the memory measured is the zip's, not the
	// disk's, and 1,000 distinct 1 MB files would take a GB of a shared machine's disk.
	const key = "u/1/bench.png"
	if _, err := fs.Put(context.Background(), key, bytes.NewReader(noiseImagePNG(b, 600, 600)), "image/png"); err != nil {
		b.Fatal(err)
	}
	info, _ := fs.Stat(context.Background(), key)
	s := &Server{store: fs, cfg: config.Defaults()}
	for _, n := range []int{10, 100, 1000} {
		gens := make([]*db.Generation, n)
		for i := range gens {
			gens[i] = &db.Generation{ID: db.NewTimeID(), UserID: 1, Status: db.StatusCompleted,
				Params:   db.Params{Prompt: "bench image number " + strconv.Itoa(i), Resolution: "1K", AspectRatio: "1:1", OutputFormat: "png", SafetyFilterLevel: "block_only_high", Mode: db.ModeTextToImage},
				ImageKey: key, ImageType: "image/png", CreatedAt: time.Now(), CompletedAt: time.Now()}
		}
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			var inuse, live uint64
			var written int64
			for b.Loop() {
				runtime.GC()
				resetPeakRSS()
				stop := sampleHeap(&inuse, &live)
				cw := &countWriter{}
				if err := s.writeZip(context.Background(), cw, selectionSource(gens)); err != nil {
					b.Fatal(err)
				}
				stop()
				written = cw.n
			}
			b.ReportMetric(float64(inuse)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(live)/(1<<20), "peak-live-MB")
			b.ReportMetric(float64(peakRSS())/(1<<10), "peak-RSS-MB")
			b.ReportMetric(float64(written)/(1<<20), "zip-MB")
			b.SetBytes(int64(n) * info.Size)
		})
	}
}

// sampleHeap records, until stop is called, the largest heap in use (live objects and
// garbage not yet collected) and the largest live heap the collector found (what the
// zip really holds: garbage only sets when the next collection runs).
func sampleHeap(inuse, live *uint64) (stop func()) {
	var done atomic.Bool
	finished := make(chan struct{})
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	go func() {
		defer close(finished)
		for {
			metrics.Read(samples)
			*inuse = max(*inuse, samples[0].Value.Uint64())
			*live = max(*live, samples[1].Value.Uint64())
			if done.Load() {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return func() { done.Store(true); <-finished }
}

// resetPeakRSS resets the kernel's high-water mark of this process's RSS (Linux).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is the process's peak RSS in kB since the last reset (0 where unknown).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// noiseImagePNG is a w×h PNG of random pixels: about 1 MB at 600×600, incompressible.
func noiseImagePNG(b *testing.B, w, h int) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(3, 4))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32()), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
