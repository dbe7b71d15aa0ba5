package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// exifTIFF is the TIFF structure of an EXIF block in byte order bo ("MM" or "II"): IFD0
// with the orientation (omitted when 0) and a pointer to a GPS directory holding a
// latitude, 48°51'30" N, as a phone writes it.
func exifTIFF(bo string, orientation uint16) []byte {
	var e binary.AppendByteOrder = binary.BigEndian
	if bo == "II" {
		e = binary.LittleEndian
	}
	b := []byte(bo)
	b = e.AppendUint16(b, 42)
	b = e.AppendUint32(b, 8)
	entry := func(b []byte, tag, typ uint16, count, value uint32) []byte {
		b = e.AppendUint16(b, tag)
		b = e.AppendUint16(b, typ)
		b = e.AppendUint32(b, count)
		if typ == 3 && count == 1 { // a SHORT sits in the first two bytes of the value
			b = e.AppendUint16(b, uint16(value))
			return e.AppendUint16(b, 0)
		}
		return e.AppendUint32(b, value)
	}
	n := uint16(1)
	if orientation != 0 {
		n = 2
	}
	gpsAt := uint32(8 + 2 + 12*int(n) + 4)
	b = e.AppendUint16(b, n)
	if orientation != 0 {
		b = entry(b, 0x0112, 3, 1, uint32(orientation))
	}
	b = entry(b, 0x8825, 4, 1, gpsAt) // GPS IFD pointer
	b = e.AppendUint32(b, 0)          // no next IFD
	latAt := gpsAt + 2 + 2*12 + 4
	b = e.AppendUint16(b, 2)
	b = entry(b, 0x0001, 2, 2, 0) // GPSLatitudeRef "N"
	b[len(b)-4] = 'N'
	b = entry(b, 0x0002, 5, 3, latAt) // GPSLatitude, three rationals
	b = e.AppendUint32(b, 0)
	for _, v := range [][2]uint32{{48, 1}, {51, 1}, {3000, 100}} {
		b = e.AppendUint32(b, v[0])
		b = e.AppendUint32(b, v[1])
	}
	return b
}

// withJPEGSegments puts segments (marker, payload) right after a JPEG's SOI.
func withJPEGSegments(jpg []byte, segs ...[]byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	for _, s := range segs {
		out = append(out, 0xFF, s[0])
		out = binary.BigEndian.AppendUint16(out, uint16(len(s)-1+2))
		out = append(out, s[1:]...)
	}
	return append(out, jpg[2:]...)
}

func app1EXIF(tiff []byte) []byte {
	return append([]byte{0xE1}, append([]byte("Exif\x00\x00"), tiff...)...)
}

// withPNGChunks puts chunks (type, data) right after a PNG's IHDR, with their CRCs.
func withPNGChunks(p []byte, chunks ...[2]string) []byte {
	const afterIHDR = 8 + 8 + 13 + 4
	out := append([]byte{}, p[:afterIHDR]...)
	for _, c := range chunks {
		out = binary.BigEndian.AppendUint32(out, uint32(len(c[1])))
		td := []byte(c[0] + c[1])
		out = append(out, td...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(td))
	}
	return append(out, p[afterIHDR:]...)
}

var (
	red   = color.NRGBA{255, 0, 0, 255}
	green = color.NRGBA{0, 255, 0, 255}
	grey  = color.NRGBA{128, 128, 128, 255}
)

// cornered is a w×h grey image with a k×k red block at corner a and a green one at
// corner b (corners: "TL", "TR", "BL", "BR").
func cornered(w, h, k int, a, b string) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, grey)
		}
	}
	block := func(corner string, c color.NRGBA) {
		x0, y0 := 0, 0
		if strings.HasSuffix(corner, "R") {
			x0 = w - k
		}
		if strings.HasPrefix(corner, "B") {
			y0 = h - k
		}
		for y := y0; y < y0+k; y++ {
			for x := x0; x < x0+k; x++ {
				m.SetNRGBA(x, y, c)
			}
		}
	}
	block(a, red)
	block(b, green)
	return m
}

// stored says, for each EXIF orientation, where in the stored pixels a camera puts
// what is seen at the top-left (red) and the top-right (green) of the upright picture.
var stored = map[int][2]string{
	1: {"TL", "TR"}, 2: {"TR", "TL"}, 3: {"BR", "BL"}, 4: {"BL", "BR"},
	5: {"TL", "BL"}, 6: {"BL", "TL"}, 7: {"BR", "TR"}, 8: {"TR", "BR"},
}

func clean(t *testing.T, data []byte) ([]byte, Info) {
	t.Helper()
	var out bytes.Buffer
	info, err := Clean(context.Background(), &out, bytes.NewReader(data), CleanOptions{})
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	return out.Bytes(), info
}

// checkUpright checks that img is w×h with red at its top-left and green at its
// top-right, within tol per channel.
func checkUpright(t *testing.T, what string, img image.Image, w, h, k, tol int) {
	t.Helper()
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("%s: %dx%d, want %dx%d", what, b.Dx(), b.Dy(), w, h)
	}
	if c := img.At(k/2, k/2); !near(c, 255, 0, 0, tol) {
		t.Errorf("%s: top-left is %v, want red", what, c)
	}
	if c := img.At(w-1-k/2, k/2); !near(c, 0, 255, 0, tol) {
		t.Errorf("%s: top-right is %v, want green", what, c)
	}
	if c := img.At(k/2, h-1-k/2); !near(c, 128, 128, 128, tol) {
		t.Errorf("%s: bottom-left is %v, want grey", what, c)
	}
}

func TestTiffOrientation(t *testing.T) {
	short := func(bo string, v uint16) []byte { return exifTIFF(bo, v) }
	long := exifTIFF("MM", 6)
	long[8+2+2+1] = 4                 // the type of the first entry: LONG
	long[8+2+8], long[8+2+8+1] = 0, 0 // its value as a big-endian LONG: 6
	long[8+2+8+2], long[8+2+8+3] = 0, 6
	cases := []struct {
		name string
		b    []byte
		want int
	}{
		{"big-endian 6", short("MM", 6), 6},
		{"little-endian 8", short("II", 8), 8},
		{"every value", short("MM", 3), 3},
		{"LONG", long, 6},
		{"absent", short("MM", 0), 1},
		{"out of range", short("II", 9), 1},
		{"zero", append(short("MM", 1)[:0:0], short("MM", 1)...), 1},
		{"not TIFF", []byte("XX\x00\x2a\x00\x00\x00\x08"), 1},
		{"wrong magic", []byte("MM\x00\x2b\x00\x00\x00\x08\x00\x00"), 1},
		{"IFD past the end", []byte("MM\x00\x2a\x7f\xff\xff\xff"), 1},
		{"IFD inside the header", []byte("MM\x00\x2a\x00\x00\x00\x02\x00\x01"), 1},
		{"entries past the end", short("MM", 6)[:8+2+6], 1},
		{"empty", nil, 1},
	}
	for _, c := range cases {
		if got := tiffOrientation(c.b); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestOrientationFoundInItsContainer(t *testing.T) {
	jpg := encodeJPEG(t, gradient(16, 8))
	jfif := []byte{0xE0, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	xmp := append([]byte{0xE1}, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")...)
	if got := jpegOrientation(withJPEGSegments(jpg, jfif, xmp, app1EXIF(exifTIFF("II", 6)))); got != 6 {
		t.Errorf("JPEG with JFIF, XMP and then EXIF: %d, want 6", got)
	}
	if got := jpegOrientation(jpg); got != 1 {
		t.Errorf("JPEG without EXIF: %d", got)
	}
	if got := jpegOrientation([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E'}); got != 1 {
		t.Errorf("JPEG with a segment longer than the file: %d", got)
	}
	p := encodePNG(t, gradient(16, 8))
	if got := pngOrientation(withPNGChunks(p, [2]string{"tEXt", "Comment\x00hi"}, [2]string{"eXIf", string(exifTIFF("MM", 8))})); got != 8 {
		t.Errorf("PNG with eXIf: %d, want 8", got)
	}
	if got := pngOrientation(p); got != 1 {
		t.Errorf("PNG without eXIf: %d", got)
	}
}

// Every orientation, written as a camera would, comes out upright with its sides
// swapped where they must be; PNG keeps the pixels exact.
func TestCleanTurnsEveryOrientationUpright(t *testing.T) {
	const w, h, k = 40, 24, 4 // the upright picture
	for o := 1; o <= 8; o++ {
		sw, sh := w, h
		if o >= 5 {
			sw, sh = h, w
		}
		src := cornered(sw, sh, k, stored[o][0], stored[o][1])
		out, info := clean(t, withPNGChunks(encodePNG(t, src), [2]string{"eXIf", string(exifTIFF("MM", uint16(o)))}))
		img, err := png.Decode(bytes.NewReader(out))
		if err != nil || info.Format != PNG || info.Width != w || info.Height != h {
			t.Fatalf("orientation %d: %+v %v", o, info, err)
		}
		checkUpright(t, "PNG orientation "+string(rune('0'+o)), img, w, h, k, 0)
	}
	// A phone's JPEG: 4:2:0 YCbCr, turned in its own layout.
	for _, o := range []int{3, 6, 8} {
		sw, sh := w*2, h*2
		if o >= 5 {
			sw, sh = sh, sw
		}
		src := encodeJPEG(t, cornered(sw, sh, 2*k, stored[o][0], stored[o][1]))
		out, info := clean(t, withJPEGSegments(src, app1EXIF(exifTIFF("II", uint16(o)))))
		img, err := jpeg.Decode(bytes.NewReader(out))
		if err != nil || info.Format != JPEG {
			t.Fatalf("JPEG orientation %d: %+v %v", o, info, err)
		}
		checkUpright(t, "JPEG orientation "+string(rune('0'+o)), img, 2*w, 2*h, 2*k, 40)
	}
}

// hasJPEGSegment reports whether a JPEG has a segment with marker m before its scan.
func hasJPEGSegment(b []byte, m byte) bool {
	for p := 2; p+4 <= len(b) && b[p] == 0xFF; {
		if b[p+1] == 0xDA {
			return false
		}
		if b[p+1] == m {
			return true
		}
		p += 2 + int(binary.BigEndian.Uint16(b[p+2:]))
	}
	return false
}

func TestCleanLeavesNoMetadata(t *testing.T) {
	jpg := withJPEGSegments(encodeJPEG(t, gradient(64, 48)),
		app1EXIF(exifTIFF("MM", 1)),
		append([]byte{0xE1}, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>secret-xmp</x:xmpmeta>")...),
		append([]byte{0xFE}, []byte("secret-comment")...))
	jpg = append(jpg, []byte("secret-trailer")...) // bytes after the end of the image
	out, info := clean(t, jpg)
	if info != (Info{JPEG, 64, 48}) {
		t.Errorf("JPEG: %+v", info)
	}
	for _, m := range []byte{0xE1, 0xFE} {
		if hasJPEGSegment(out, m) {
			t.Errorf("cleaned JPEG has a segment %#x", m)
		}
	}
	for _, s := range []string{"Exif", "MM\x00\x2a", "secret"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("cleaned JPEG still holds %q", s)
		}
	}

	p := withPNGChunks(encodePNG(t, gradient(64, 48)),
		[2]string{"tEXt", "Comment\x00secret-text"},
		[2]string{"iTXt", "XML:com.adobe.xmp\x00\x00\x00\x00\x00secret-xmp"},
		[2]string{"eXIf", string(exifTIFF("II", 1))})
	out, info = clean(t, p)
	if info != (Info{PNG, 64, 48}) {
		t.Errorf("PNG: %+v", info)
	}
	for _, s := range []string{"tEXt", "iTXt", "zTXt", "eXIf", "secret"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("cleaned PNG still holds %q", s)
		}
	}
	// The pixels are the same.
	a, _ := png.Decode(bytes.NewReader(p))
	b, _ := png.Decode(bytes.NewReader(out))
	for y := range 48 {
		for x := range 64 {
			if a.At(x, y) != b.At(x, y) {
				t.Fatalf("PNG pixel %d,%d changed: %v -> %v", x, y, a.At(x, y), b.At(x, y))
			}
		}
	}

	// WebP (no encoder in Go): lossless becomes PNG.
	out, info = clean(t, tinyWebP)
	if info != (Info{PNG, 1, 1}) {
		t.Errorf("lossless WebP: %+v", info)
	}
	if img, err := png.Decode(bytes.NewReader(out)); err != nil || !near(img.At(0, 0), 255, 128, 32, 0) {
		t.Errorf("lossless WebP as PNG: %v", err)
	}
}

// What a header alone cannot show is refused: images whose data is missing, damaged
// or cut short, and shapes no picture has.
func TestCleanRefusesMalformedImages(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rnd.Uint32())
	}
	p := encodePNG(t, gradient(200, 150))
	j := encodeJPEG(t, gradient(200, 150))
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"PNG of 33 bytes: signature and IHDR only", forgedPNG(8, 8), ErrDamaged},
		{"PNG declaring 36,000,000 x 1", forgedPNG(36_000_000, 1), ErrSideTooLong},
		{"PNG declaring 1 x 20,000", forgedPNG(1, 20_000), ErrSideTooLong},
		{"PNG signature then random bytes", append([]byte("\x89PNG\r\n\x1a\n"), noise...), ErrDamaged},
		{"PNG header then random bytes", append(forgedPNG(64, 64), noise...), ErrDamaged},
		{"PNG without IEND", p[:len(p)-12], ErrDamaged},
		{"PNG cut in its data", p[:len(p)/2], ErrDamaged},
		{"JPEG cut in half", j[:len(j)/2], ErrDamaged},
		{"JPEG without its end marker", j[:len(j)-2], ErrDamaged},
		{"JPEG header then random bytes", append(append([]byte{}, j[:len(j)/4]...), noise...), ErrDamaged},
		{"WebP cut", tinyWebP[:24], ErrDamaged},
		{"not an image", []byte("GIF89a and so on, and so on"), ErrUnsupported},
	}
	for _, c := range cases {
		_, err := Clean(context.Background(), &bytes.Buffer{}, bytes.NewReader(c.data), CleanOptions{})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := Clean(context.Background(), &bytes.Buffer{}, bytes.NewReader(p), CleanOptions{MaxPixels: 100 * 100}); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("200x150 with a cap of 10,000 pixels: %v", err)
	}
}

// Shapes and bombs are refused from the header, before any pixel buffer exists.
func TestCleanRefusesBombsWithoutAllocating(t *testing.T) {
	for _, data := range [][]byte{forgedPNG(36_000_000, 1), forgedPNG(16_000, 16_000)} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Clean(context.Background(), &bytes.Buffer{}, bytes.NewReader(data), CleanOptions{})
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatal("a bomb was cleaned")
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 2<<20 {
			t.Errorf("allocated %d bytes refusing a bomb, want under 2 MiB", n)
		}
	}
}
