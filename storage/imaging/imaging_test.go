package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"

	"golang.org/x/image/webp"
)

// tinyWebP is a 1x1 lossless WebP (VP8L) built by hand, since x/image has
// no encoder. After the RIFF/WEBP/VP8L headers: signature 0x2f; 14-bit
// width-1 and height-1 (0), alpha-used 1, version 0; then no transform, no
// colour cache, no meta prefix codes, and five "simple" prefix codes of one
// 8-bit symbol each (green 0x80, red 0xff, blue 0x20, alpha 0xff, distance
// 0). Single-symbol codes take zero bits per pixel, so no pixel data
// follows. The pixel is NRGBA{255, 128, 32, 255}.
var tinyWebP = []byte{
	'R', 'I', 'F', 'F', 0x1a, 0x00, 0x00, 0x00, 'W', 'E', 'B', 'P',
	'V', 'P', '8', 'L', 0x0d, 0x00, 0x00, 0x00,
	0x2f, 0x00, 0x00, 0x00, 0x10, 0x28, 0x60, 0xff, 0x0b, 0xd2, 0xff, 0x02, 0x00,
	0x00, // RIFF pad byte: the chunk has an odd length
}

func TestTinyWebPIsValid(t *testing.T) {
	img, err := webp.Decode(bytes.NewReader(tinyWebP))
	if err != nil {
		t.Fatalf("x/image/webp rejects the test WebP: %v", err)
	}
	r, g, b, a := img.At(0, 0).RGBA()
	if img.Bounds() != image.Rect(0, 0, 1, 1) || r>>8 != 255 || g>>8 != 128 || b>>8 != 32 || a>>8 != 255 {
		t.Fatalf("decoded %v with pixel %v", img.Bounds(), img.At(0, 0))
	}
}

// gradient is a test picture whose left half is red and right half blue,
// with a vertical ramp so the encoders have something to compress.
func gradient(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: 220, G: uint8(y * 40 / h), B: 20, A: 255}
			if x >= w/2 {
				c = color.NRGBA{R: 20, G: uint8(y * 40 / h), B: 220, A: 255}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// forgedPNG is a PNG signature and a valid IHDR chunk (correct CRC)
// declaring w×h, with no image data: what a decompression bomb's header
// looks like to DecodeConfig.
func forgedPNG(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA, no interlace
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, ihdr...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
	return b
}

func TestSniff(t *testing.T) {
	var gifBuf bytes.Buffer
	gif.Encode(&gifBuf, image.NewPaletted(image.Rect(0, 0, 2, 2), palette.Plan9), nil)
	cases := []struct {
		name string
		head []byte
		want Format
		ok   bool
	}{
		{"png", encodePNG(t, gradient(4, 4)), PNG, true},
		{"jpeg", encodeJPEG(t, gradient(4, 4)), JPEG, true},
		{"webp", tinyWebP, WebP, true},
		{"gif", gifBuf.Bytes(), Unknown, false},
		{"bmp", []byte("BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00"), Unknown, false},
		{"riff wave", []byte("RIFF\x00\x00\x00\x00WAVEfmt "), Unknown, false},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg">`), Unknown, false},
		{"empty", nil, Unknown, false},
		{"short png", []byte("\x89PNG"), Unknown, false},
	}
	for _, c := range cases {
		got, ok := Sniff(c.head)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: Sniff = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
	for f, want := range map[Format][2]string{
		JPEG: {".jpg", "image/jpeg"}, PNG: {".png", "image/png"}, WebP: {".webp", "image/webp"},
	} {
		if f.Ext() != want[0] || f.ContentType() != want[1] {
			t.Errorf("%v: Ext %q ContentType %q, want %q %q", f, f.Ext(), f.ContentType(), want[0], want[1])
		}
	}
}

func TestInspect(t *testing.T) {
	var gifBuf bytes.Buffer
	gif.Encode(&gifBuf, image.NewPaletted(image.Rect(0, 0, 2, 2), palette.Plan9), nil)
	cases := []struct {
		name string
		data []byte
		want Info
		err  error
	}{
		{"png", encodePNG(t, gradient(300, 200)), Info{PNG, 300, 200}, nil},
		{"jpeg", encodeJPEG(t, gradient(640, 480)), Info{JPEG, 640, 480}, nil},
		{"webp", tinyWebP, Info{WebP, 1, 1}, nil},
		// image/gif is linked into this test binary and so registered
		// with package image; it must still be refused.
		{"gif", gifBuf.Bytes(), Info{}, ErrUnsupported},
		{"text", []byte("hello, world, not an image"), Info{}, ErrUnsupported},
		{"bomb", forgedPNG(16000, 16000), Info{PNG, 16000, 16000}, ErrTooManyPixels},
		{"line", forgedPNG(36_000_000, 1), Info{PNG, 36_000_000, 1}, ErrSideTooLong},
	}
	for _, c := range cases {
		got, err := Inspect(bytes.NewReader(c.data), 0)
		if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Errorf("%s: error = %v, want %v", c.name, err, c.err)
		}
		if got != c.want {
			t.Errorf("%s: Info = %+v, want %+v", c.name, got, c.want)
		}
	}

	// The cap is inclusive.
	if _, err := Inspect(bytes.NewReader(forgedPNG(100, 100)), 10000); err != nil {
		t.Errorf("100x100 with cap 10000: %v", err)
	}
	if _, err := Inspect(bytes.NewReader(forgedPNG(100, 101)), 10000); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("100x101 with cap 10000: error = %v, want ErrTooManyPixels", err)
	}
}

// A header claiming 256 megapixels must be refused before any pixel buffer
// exists: the whole call may allocate only small change.
func TestThumbnailRejectsBombWithoutAllocating(t *testing.T) {
	data := forgedPNG(16000, 16000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Thumbnail(context.Background(), &bytes.Buffer{}, bytes.NewReader(data), ThumbOptions{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("error = %v, want ErrTooManyPixels", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("allocated %d bytes refusing a bomb, want under 1 MiB", n)
	}
}

func TestTruncated(t *testing.T) {
	for name, data := range map[string][]byte{
		"png":  encodePNG(t, gradient(200, 150)),
		"jpeg": encodeJPEG(t, gradient(200, 150)),
		"webp": tinyWebP,
	} {
		for _, cut := range []int{len(data) / 2, 30, 13} {
			_, err := Thumbnail(context.Background(), &bytes.Buffer{}, bytes.NewReader(data[:cut]), ThumbOptions{})
			if err == nil {
				t.Errorf("%s cut to %d bytes: Thumbnail succeeded", name, cut)
			}
		}
		if _, err := Inspect(bytes.NewReader(data[:5]), 0); err == nil {
			t.Errorf("%s cut to 5 bytes: Inspect succeeded", name)
		}
	}
}

func TestThumbnailSizes(t *testing.T) {
	cases := []struct {
		w, h, side   int
		wantW, wantH int
	}{
		{1200, 800, 384, 384, 256}, // landscape, the default side
		{480, 320, 96, 96, 64},     // landscape
		{320, 480, 96, 64, 96},     // portrait
		{400, 400, 96, 96, 96},     // square
		{50, 25, 96, 50, 25},       // small: never upscaled
		{96, 75, 96, 96, 75},       // exactly the side
		{1200, 4, 96, 96, 1},       // extreme ratio keeps at least a pixel
		{175, 125, 96, 96, 69},     // box factor 1: Catmull-Rom only
	}
	for _, c := range cases {
		src := gradient(c.w, c.h)
		for name, data := range map[string][]byte{"png": encodePNG(t, src), "jpeg": encodeJPEG(t, src)} {
			var out bytes.Buffer
			info, err := Thumbnail(context.Background(), &out, bytes.NewReader(data), ThumbOptions{MaxSide: c.side})
			if err != nil {
				t.Fatalf("%s %dx%d: %v", name, c.w, c.h, err)
			}
			if info != (Info{JPEG, c.wantW, c.wantH}) {
				t.Errorf("%s %dx%d: Info = %+v, want JPEG %dx%d", name, c.w, c.h, info, c.wantW, c.wantH)
			}
			got, err := jpeg.Decode(&out)
			if err != nil {
				t.Fatalf("%s %dx%d: output is not a JPEG: %v", name, c.w, c.h, err)
			}
			if got.Bounds().Dx() != c.wantW || got.Bounds().Dy() != c.wantH {
				t.Errorf("%s %dx%d: encoded thumbnail is %v", name, c.w, c.h, got.Bounds())
			}
		}
	}
}

func near(c color.Color, r, g, b uint8, tol int) bool {
	cr, cg, cb, _ := c.RGBA()
	d := func(x uint32, y uint8) bool { v := int(x>>8) - int(y); return v >= -tol && v <= tol }
	return d(cr, r) && d(cg, g) && d(cb, b)
}

// Every decoder output layout (YCbCr from JPEG, NRGBA, RGBA, Gray and
// Paletted from PNG) must come out with the right colours in the right
// places.
func TestThumbnailColours(t *testing.T) {
	const w, h = 800, 450
	nrgba := gradient(w, h)
	rgba := image.NewRGBA(nrgba.Bounds())
	pal := image.NewPaletted(nrgba.Bounds(), color.Palette{color.RGBA{220, 0, 20, 255}, color.RGBA{20, 0, 220, 255}})
	gray := image.NewGray(nrgba.Bounds())
	for y := range h {
		for x := range w {
			rgba.Set(x, y, nrgba.At(x, y))
			if x >= w/2 {
				pal.SetColorIndex(x, y, 1)
				gray.SetGray(x, y, color.Gray{200})
			} else {
				gray.SetGray(x, y, color.Gray{40})
			}
		}
	}
	type probe struct {
		x, y    int
		r, g, b uint8
	}
	redBlue := []probe{{40, 100, 220, 20, 20}, {340, 100, 20, 20, 220}}
	cases := []struct {
		name   string
		data   []byte
		probes []probe
	}{
		{"jpeg ycbcr", encodeJPEG(t, nrgba), redBlue},
		{"png nrgba", encodePNG(t, nrgba), redBlue},
		{"png rgba", encodePNG(t, rgba), redBlue},
		{"png paletted", encodePNG(t, pal), []probe{{40, 100, 220, 0, 20}, {340, 100, 20, 0, 220}}},
		{"png gray", encodePNG(t, gray), []probe{{40, 100, 40, 40, 40}, {340, 100, 200, 200, 200}}},
		{"webp 1x1", tinyWebP, []probe{{0, 0, 255, 128, 32}}},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if _, err := Thumbnail(context.Background(), &out, bytes.NewReader(c.data), ThumbOptions{}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		img, err := jpeg.Decode(&out)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range c.probes {
			if got := img.At(p.x, p.y); !near(got, p.r, p.g, p.b, 16) {
				t.Errorf("%s: pixel (%d,%d) = %v, want about (%d,%d,%d)", c.name, p.x, p.y, got, p.r, p.g, p.b)
			}
		}
	}
}

// JPEG has no alpha; transparent areas must become white, not black.
func TestThumbnailTransparentBecomesWhite(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 1000, 500)) // all transparent
	for y := range 500 {
		for x := range 500 {
			m.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 255}) // left half opaque black
		}
	}
	var out bytes.Buffer
	if _, err := Thumbnail(context.Background(), &out, bytes.NewReader(encodePNG(t, m)), ThumbOptions{}); err != nil {
		t.Fatal(err)
	}
	img, _ := jpeg.Decode(&out)
	if got := img.At(40, 100); !near(got, 0, 0, 0, 12) {
		t.Errorf("opaque black area = %v", got)
	}
	if got := img.At(340, 100); !near(got, 255, 255, 255, 12) {
		t.Errorf("transparent area = %v, want white", got)
	}
}

func TestBigDecodeHonoursContext(t *testing.T) {
	data := encodePNG(t, gradient(1100, 1000)) // over bigDecodePixels
	waiting := make(chan struct{}, 1)
	waitingForDecode = func() { waiting <- struct{}{} }
	defer func() { waitingForDecode = nil }()

	bigDecode <- struct{}{} // another decode is running
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Thumbnail(ctx, &bytes.Buffer{}, bytes.NewReader(data), ThumbOptions{})
		done <- err
	}()
	<-waiting
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Thumbnail returned %v after cancel, want context.Canceled", err)
	}

	// Once the running decode finishes, a waiting one proceeds.
	go func() {
		_, err := Thumbnail(context.Background(), &bytes.Buffer{}, bytes.NewReader(data), ThumbOptions{})
		done <- err
	}()
	<-waiting
	<-bigDecode
	if err := <-done; err != nil {
		t.Errorf("Thumbnail after the slot freed: %v", err)
	}

	// Small images never wait behind a big decode.
	bigDecode <- struct{}{}
	defer func() { <-bigDecode }()
	small := encodePNG(t, gradient(300, 200))
	if _, err := Thumbnail(context.Background(), &bytes.Buffer{}, bytes.NewReader(small), ThumbOptions{}); err != nil {
		t.Errorf("small Thumbnail while a big decode runs: %v", err)
	}
}

func BenchmarkThumbnail4K(b *testing.B) {
	src := gradient(4096, 4096)
	// Noise so the encoders and decoders see realistic entropy.
	for i := range src.Pix {
		if i%4 != 3 {
			src.Pix[i] ^= uint8(i * 2654435761 >> 24 & 0x1f)
		}
	}
	for name, data := range map[string][]byte{"jpeg": encodeJPEG(b, src), "png": encodePNG(b, src)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Thumbnail(context.Background(), &bytes.Buffer{}, bytes.NewReader(data), ThumbOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
