package imaging

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

func testRecipe() Recipe {
	return Recipe{
		Text: "A banana lighthouse at dusk, «акварель» <&>\nResolution: 2K, Aspect ratio: 1:1",
		JSON: []byte(`{"prompt":"A banana lighthouse at dusk, «акварель» <&>","resolution":"2K"}`),
	}
}

func picture() *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for y := range 16 {
		for x := range 24 {
			m.Set(x, y, color.RGBA{uint8(x * 10), uint8(y * 15), 90, 255})
		}
	}
	return m
}

func recipePNG(t testing.TB) []byte  { return encodePNG(t, picture()) }
func recipeJPEG(t testing.TB) []byte { return encodeJPEG(t, picture()) }

// pngTexts reads the iTXt chunks of a PNG by keyword.
func pngTexts(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	b = b[8:]
	for len(b) >= 12 {
		n := binary.BigEndian.Uint32(b)
		typ, data := string(b[4:8]), b[8:8+n]
		if typ == "iTXt" {
			kw, rest, _ := bytes.Cut(data, []byte{0})
			// compression flag, method, language tag\0, translated keyword\0
			if rest[0] != 0 || rest[1] != 0 {
				t.Fatalf("iTXt %q is compressed", kw)
			}
			_, rest, _ = bytes.Cut(rest[2:], []byte{0})
			_, text, _ := bytes.Cut(rest, []byte{0})
			out[string(kw)] = string(text)
		}
		if typ == "IEND" && len(b) != 12 {
			t.Fatalf("%d bytes after IEND", len(b)-12)
		}
		b = b[12+n:]
	}
	return out
}

func TestRecipeInPNG(t *testing.T) {
	in := recipePNG(t)
	var out bytes.Buffer
	ok, err := WriteWithRecipe(&out, bytes.NewReader(in), "image/png", testRecipe())
	if err != nil || !ok {
		t.Fatalf("embedded %v, %v", ok, err)
	}
	// Go's decoder checks every chunk's CRC, ours included; the pixels are the same.
	got, err := png.Decode(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatalf("the PNG with its recipe does not decode: %v", err)
	}
	if !samePixels(got, picture()) {
		t.Fatal("the pixels changed")
	}
	texts := pngTexts(t, out.Bytes())
	rc := testRecipe()
	if texts[RecipeKeyword] != rc.Text || texts[RecipeJSONKeyword] != string(rc.JSON) {
		t.Fatalf("texts read back: %q", texts)
	}
	// Inserted before IEND, everything else as it was.
	iend := len(in) - 12
	if !bytes.Equal(out.Bytes()[:iend], in[:iend]) || !bytes.HasSuffix(out.Bytes(), in[iend:]) {
		t.Fatal("the file's own chunks changed")
	}
}

func samePixels(a image.Image, b *image.RGBA) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := range b.Bounds().Dy() {
		for x := range b.Bounds().Dx() {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}

// jpegSegments lists a JPEG's markers up to SOS with their payloads.
func jpegSegments(t *testing.T, b []byte) ([]byte, [][]byte) {
	t.Helper()
	var markers []byte
	var payloads [][]byte
	i := 2
	for i+4 <= len(b) && b[i] == 0xFF {
		m := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		markers = append(markers, m)
		payloads = append(payloads, b[i+4:i+2+n])
		if m == 0xDA {
			break
		}
		i += 2 + n
	}
	return markers, payloads
}

func TestRecipeInJPEG(t *testing.T) {
	// Go writes no APP0; a JFIF one is added to check ours goes after it.
	plain := recipeJPEG(t)
	jfif := append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}, plain[2:]...)
	for name, in := range map[string][]byte{"no APP0": plain, "JFIF": jfif} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			ok, err := WriteWithRecipe(&out, iotest.HalfReader(bytes.NewReader(in)), "image/jpeg", testRecipe())
			if err != nil || !ok {
				t.Fatalf("embedded %v, %v", ok, err)
			}
			if _, err := jpeg.Decode(bytes.NewReader(out.Bytes())); err != nil {
				t.Fatalf("the JPEG with its recipe does not decode: %v", err)
			}
			markers, payloads := jpegSegments(t, out.Bytes())
			first := 0
			if name == "JFIF" {
				if markers[0] != 0xE0 {
					t.Fatalf("APP0 is no longer first: % x", markers)
				}
				first = 1
			}
			rc := testRecipe()
			if markers[first] != 0xFE || string(payloads[first]) != string(rc.JSON) {
				t.Fatalf("comment: % x %q", markers, payloads[first])
			}
			xmp := string(payloads[first+1])
			if markers[first+1] != 0xE1 || !strings.HasPrefix(xmp, xmpNamespace) ||
				!strings.Contains(xmp, "«акварель» &lt;&amp;&gt;") || !strings.Contains(xmp, "<nanobanana:recipe>{&#34;prompt&#34;") {
				t.Fatalf("XMP: %q", xmp)
			}
		})
	}
}

// TestRecipeFallsBack: anything that is not a well-formed file of its type goes out
// unchanged, never a panic; a large recipe that cannot fit a JPEG segment too.
func TestRecipeFallsBack(t *testing.T) {
	pngb, jpgb := recipePNG(t), recipeJPEG(t)
	cases := map[string]struct {
		in    []byte
		ctype string
		rc    Recipe
	}{
		"empty png":          {nil, "image/png", testRecipe()},
		"jpeg called png":    {jpgb, "image/png", testRecipe()},
		"png called jpeg":    {pngb, "image/jpeg", testRecipe()},
		"webp":               {[]byte("RIFF\x10\x00\x00\x00WEBPVP8 "), "image/webp", testRecipe()},
		"truncated png":      {pngb[:len(pngb)-20], "image/png", testRecipe()},
		"png without IEND":   {pngb[:len(pngb)-12], "image/png", testRecipe()},
		"signature only":     {pngb[:8], "image/png", testRecipe()},
		"bad chunk type":     {append(append([]byte{}, pngb[:12]...), append([]byte("IH\x00R"), pngb[16:]...)...), "image/png", testRecipe()},
		"short jpeg":         {[]byte{0xFF, 0xD8}, "image/jpeg", testRecipe()},
		"APP0 past the end":  {[]byte{0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF, 1, 2}, "image/jpeg", testRecipe()},
		"APP0 length 0":      {[]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 1, 2}, "image/jpeg", testRecipe()},
		"recipe too long":    {jpgb, "image/jpeg", Recipe{Text: "x", JSON: bytes.Repeat([]byte("y"), 70000)}},
		"unknown type":       {pngb, "application/octet-stream", testRecipe()},
		"huge chunk length":  {append(append([]byte{}, pngb[:8]...), 0xFF, 0xFF, 0xFF, 0xFF, 'I', 'D', 'A', 'T', 1, 2, 3), "image/png", testRecipe()},
		"chunk cut in half":  {append(append([]byte{}, pngb[:8]...), 0, 0, 0, 100, 'I', 'D', 'A', 'T', 1, 2, 3), "image/png", testRecipe()},
		"IEND with a length": {append(append([]byte{}, pngb[:len(pngb)-12]...), 0, 0, 0, 1, 'I', 'E', 'N', 'D', 0, 0, 0, 0, 0), "image/png", testRecipe()},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			ok, err := WriteWithRecipe(&out, bytes.NewReader(c.in), c.ctype, c.rc)
			if err != nil || ok {
				t.Fatalf("embedded %v, %v; want the plain file", ok, err)
			}
			if !bytes.Equal(out.Bytes(), c.in) {
				t.Fatalf("the plain file changed: %d bytes in, %d out", len(c.in), out.Len())
			}
		})
	}
}

// TestRecipeRandomDamage flips, cuts and splices bytes of real files: never a panic, and
// the output is the input, with the recipe inserted or not.
func TestRecipeRandomDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, base := range []struct {
		b     []byte
		ctype string
	}{{recipePNG(t), "image/png"}, {recipeJPEG(t), "image/jpeg"}} {
		for range 2000 {
			in := append([]byte{}, base.b...)
			switch rng.IntN(3) {
			case 0:
				for range 1 + rng.IntN(4) {
					in[rng.IntN(len(in))] = byte(rng.Uint32())
				}
			case 1:
				in = in[:rng.IntN(len(in))]
			case 2:
				i := rng.IntN(len(in))
				in = append(in[:i:i], append(bytes.Repeat([]byte{0xFF}, rng.IntN(40)), in[i:]...)...)
			}
			checkRecipeOutput(t, in, base.ctype)
		}
	}
}

func FuzzWriteWithRecipe(f *testing.F) {
	f.Add(recipePNG(f), true)
	f.Add(recipeJPEG(f), false)
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND"), true)
	f.Fuzz(func(t *testing.T, in []byte, isPNG bool) {
		ctype := "image/jpeg"
		if isPNG {
			ctype = "image/png"
		}
		checkRecipeOutput(t, in, ctype)
	})
}

func checkRecipeOutput(t *testing.T, in []byte, ctype string) {
	t.Helper()
	var out bytes.Buffer
	ok, err := WriteWithRecipe(&out, bytes.NewReader(in), ctype, testRecipe())
	if err != nil {
		t.Fatalf("error on %d bytes: %v", len(in), err)
	}
	if !ok {
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("plain copy differs (%d in, %d out)", len(in), out.Len())
		}
		return
	}
	// Inserted: the output is the input with one run of bytes added.
	o := out.Bytes()
	p := 0
	for p < len(in) && in[p] == o[p] {
		p++
	}
	if !bytes.Equal(o[len(o)-(len(in)-p):], in[p:]) || len(o) <= len(in) {
		t.Fatalf("the output is not the input plus the recipe (%d in, %d out)", len(in), len(o))
	}
}
