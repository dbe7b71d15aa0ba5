package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"nanobanana/db"
	"nanobanana/storage/imaging"
)

// noisePNG is a w×h PNG of random opaque pixels: it compresses to about its raw size,
// so a few of them fill a small quota predictably.
func noisePNG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = byte(r.Uint32())
		if i%4 == 3 {
			m.Pix[i] = 0xff
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// cleanedSize is how many bytes storing data takes: its cleaned form's.
func cleanedSize(t testing.TB, data []byte) int64 {
	t.Helper()
	var b bytes.Buffer
	if _, err := imaging.Clean(context.Background(), &b, bytes.NewReader(data), imaging.CleanOptions{}); err != nil {
		t.Fatal(err)
	}
	return int64(b.Len())
}

// uploadOne posts one file to /api/v1/uploads.
func (p *pipeline) uploadOne(t *testing.T, tok, name string, data []byte) reply {
	t.Helper()
	return p.postMultipart(t, "/api/v1/uploads", tok, nil, []formFile{{"images", name, "", data}})
}

// uploaded is the answer of a successful upload of one file.
func uploaded(t *testing.T, r reply) uploadJSON {
	t.Helper()
	if r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	var resp struct {
		Uploads []uploadJSON `json:"uploads"`
	}
	if err := json.Unmarshal(r.Body, &resp); err != nil || len(resp.Uploads) != 1 {
		t.Fatalf("upload answer %s (%v)", r.Body, err)
	}
	return resp.Uploads[0]
}

type uploadList struct {
	Items      []uploadJSON `json:"items"`
	NextCursor string       `json:"next_cursor"`
	Usage      struct {
		Bytes      int64 `json:"bytes"`
		QuotaBytes int64 `json:"quota_bytes"`
	} `json:"usage"`
}

func (p *pipeline) listUploads(t *testing.T, tok string) uploadList {
	t.Helper()
	r := p.get(t, "/api/v1/uploads", tok, nil)
	var l uploadList
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &l) != nil {
		t.Fatalf("list uploads: %d %s", r.Status, r.Body)
	}
	return l
}

func TestUploadQuotaRefusesWithASentence(t *testing.T) {
	t.Parallel()
	imgs := [][]byte{noisePNG(t, 48, 48, 1), noisePNG(t, 48, 48, 2), noisePNG(t, 48, 48, 3)}
	size := cleanedSize(t, imgs[0])
	quota := 2*size + size/2 // two fit, a third does not
	p := newPipeline(t, func(o *Options) { o.Config.UploadQuota = quota })
	u := p.register(t, "hoarder")
	a := uploaded(t, p.uploadOne(t, u.Access, "a.png", imgs[0]))
	uploaded(t, p.uploadOne(t, u.Access, "b.png", imgs[1]))

	r := p.uploadOne(t, u.Access, "c.png", imgs[2])
	if r.Status != http.StatusRequestEntityTooLarge || r.Code(t) != db.CodeUploadQuota {
		t.Fatalf("an upload past the quota: %d %s", r.Status, r.Body)
	}
	for _, want := range []string{"quota of " + approxBytes(quota), "hold " + approxBytes(2*size), "DELETE /api/v1/uploads/{id}", "GET /api/v1/uploads"} {
		if !strings.Contains(r.Detail(t), want) {
			t.Errorf("the refusal does not say %q: %s", want, r.Detail(t))
		}
	}
	if n := len(p.storedUploads(t)); n != 2 {
		t.Errorf("%d upload files after a refusal, want 2", n)
	}
	l := p.listUploads(t, u.Access)
	if len(l.Items) != 2 || l.Usage.Bytes != 2*size || l.Usage.QuotaBytes != quota {
		t.Fatalf("list: %+v", l)
	}
	// Deleting frees the space.
	if r := p.do(t, call{Method: "DELETE", Path: "/api/v1/uploads/" + a.ID, Token: u.Access}); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	uploaded(t, p.uploadOne(t, u.Access, "c.png", imgs[2]))
	// A multipart generate's attachments count too.
	r = p.postMultipart(t, "/api/v1/images/generate", u.Access, map[string]string{"prompt": "x"},
		[]formFile{{"images", "d.png", "", imgs[0]}})
	if r.Status != http.StatusRequestEntityTooLarge || r.Code(t) != db.CodeUploadQuota {
		t.Fatalf("a generate whose attachment is past the quota: %d %s", r.Status, r.Body)
	}
	// Full to the byte: refused before the body is read.
	full := p.register(t, "full")
	big := db.Upload{ID: db.NewID(), UserID: full.ID, Key: "u/x/big.png", ContentType: "image/png", Width: 1, Height: 1, Bytes: quota, SHA256: "x"}
	if err := p.DB.CreateUploads(context.Background(), []db.Upload{big}, 0); err != nil {
		t.Fatal(err)
	}
	r = p.uploadOne(t, full.Access, "e.png", imgs[0])
	if r.Status != http.StatusRequestEntityTooLarge || !strings.Contains(r.Detail(t), "the whole of your quota") {
		t.Fatalf("an upload with the quota full: %d %s", r.Status, r.Body)
	}
	// Other users are not affected.
	uploaded(t, p.uploadOne(t, p.register(t, "neighbour").Access, "a.png", imgs[0]))
}

func TestUploadRateLimit(t *testing.T) {
	t.Parallel()
	var ahead atomic.Int64
	p := newPipeline(t, func(o *Options) {
		o.Config.UploadsPerMinute = 3
		o.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	})
	u := p.register(t, "burst")
	img := testPNG(t, 8, 8)
	for i := range 3 {
		uploaded(t, p.uploadOne(t, u.Access, "ok.png", img))
		_ = i
	}
	r := p.uploadOne(t, u.Access, "fourth.png", img)
	if r.Status != http.StatusTooManyRequests || r.Code(t) != db.CodeRateLimited || r.Header.Get("Retry-After") != "20" ||
		!strings.Contains(r.Detail(t), "at most 3 images a minute") {
		t.Fatalf("the fourth upload in a minute: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	// Another user has an allowance of their own.
	uploaded(t, p.uploadOne(t, p.register(t, "calm").Access, "ok.png", img))
	// A third of a minute later, one more.
	ahead.Add(int64(20 * time.Second))
	uploaded(t, p.uploadOne(t, u.Access, "later.png", img))
	if r := p.uploadOne(t, u.Access, "again.png", img); r.Status != http.StatusTooManyRequests {
		t.Fatalf("right after: %d", r.Status)
	}
	// Two files with room for one: the request is refused whole, no file kept.
	ahead.Add(int64(20 * time.Second))
	before := len(p.storedUploads(t))
	r = p.postMultipart(t, "/api/v1/uploads", u.Access, nil, []formFile{{"images", "1.png", "", img}, {"images", "2.png", "", img}})
	if r.Status != http.StatusTooManyRequests || len(p.storedUploads(t)) != before {
		t.Fatalf("two files, room for one: %d %s; files %d -> %d", r.Status, r.Body, before, len(p.storedUploads(t)))
	}
}

func TestDeleteUpload(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	alice, bob := p.register(t, "alice"), p.register(t, "bob")
	a := uploaded(t, p.uploadOne(t, alice.Access, "a.png", testPNG(t, 16, 16)))
	b := uploaded(t, p.uploadOne(t, alice.Access, "b.jpg", testJPEG(t, 16, 16)))
	del := func(tok, id string) reply {
		return p.do(t, call{Method: "DELETE", Path: "/api/v1/uploads/" + id, Token: tok})
	}
	if r := del(bob.Access, a.ID); r.Status != http.StatusNotFound || r.Code(t) != db.CodeNotFound {
		t.Fatalf("bob deletes alice's upload: %d %s", r.Status, r.Body)
	}
	if r := del(alice.Access, "not-an-id"); r.Status != http.StatusNotFound {
		t.Fatalf("a malformed id: %d %s", r.Status, r.Body)
	}
	if n := len(p.storedUploads(t)); n != 2 {
		t.Fatalf("%d files", n)
	}
	if r := del(alice.Access, a.ID); r.Status != http.StatusNoContent {
		t.Fatalf("alice deletes her upload: %d %s", r.Status, r.Body)
	}
	if n := len(p.storedUploads(t)); n != 1 {
		t.Errorf("%d files after a delete, want 1", n)
	}
	if r := p.get(t, a.URL, "", nil); r.Status != http.StatusNotFound {
		t.Errorf("the deleted upload's link: %d", r.Status)
	}
	if r := del(alice.Access, a.ID); r.Status != http.StatusNotFound {
		t.Errorf("delete twice: %d", r.Status)
	}
	if l := p.listUploads(t, alice.Access); len(l.Items) != 1 || l.Items[0].ID != b.ID || l.Usage.Bytes != b.Bytes {
		t.Errorf("list after a delete: %+v", l)
	}

	// Used by a generation that runs: kept until it is over.
	g := p.generate(t, alice.Access, map[string]any{"prompt": "[[stuck]] hold it", "resolution": "1K",
		"generation_mode": "image-to-image", "reference_image_ids": []string{b.ID}})
	id := g["id"].(string)
	p.waitStatus(t, alice.Access, id, "running")
	r := del(alice.Access, b.ID)
	if r.Status != http.StatusConflict || r.Code(t) != db.CodeUploadInUse || !strings.Contains(r.Detail(t), "pending or running") {
		t.Fatalf("delete an upload a running generation uses: %d %s", r.Status, r.Body)
	}
	if l := p.listUploads(t, alice.Access); len(l.Items) != 1 || l.Items[0].Generations != 1 {
		t.Errorf("list while in use: %+v", l)
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/images/cancel/" + id, Token: alice.Access}); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	p.waitStatus(t, alice.Access, id, "canceled")
	if r := del(alice.Access, b.ID); r.Status != http.StatusNoContent {
		t.Fatalf("delete once the generation is over: %d %s", r.Status, r.Body)
	}
	if n := len(p.storedUploads(t)); n != 0 {
		t.Errorf("%d files left", n)
	}
}

// An upload no generation uses is gone (row, file and link) once its time has passed;
// one a generation uses stays, and goes once that generation is deleted.
func TestUnreferencedUploadsExpire(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "keeper")
	idle := uploaded(t, p.uploadOne(t, u.Access, "idle.png", testPNG(t, 16, 16)))
	used := uploaded(t, p.uploadOne(t, u.Access, "used.png", testPNG(t, 20, 16)))
	g := p.generate(t, u.Access, map[string]any{"prompt": "from a reference", "resolution": "1K",
		"generation_mode": "image-to-image", "reference_image_ids": []string{used.ID}})
	genID := g["id"].(string)
	p.waitStatus(t, u.Access, genID, "completed")
	running := uploaded(t, p.uploadOne(t, u.Access, "running.png", testPNG(t, 24, 16)))
	stuck := p.generate(t, u.Access, map[string]any{"prompt": "[[stuck]] on and on", "resolution": "1K",
		"generation_mode": "image-to-image", "reference_image_ids": []string{running.ID}})
	p.waitStatus(t, u.Access, stuck["id"].(string), "running")
	ctx := context.Background()

	p.advanceJobs(23 * time.Hour)
	if n, err := p.Jobs.ExpireUploads(ctx); err != nil || n != 0 {
		t.Fatalf("23 hours on: %d expired (%v)", n, err)
	}
	// From here on the queue's own sweep (every ten minutes of the moved clock) may
	// expire an upload before the test's call does: what is left is checked, not who
	// removed it.
	p.advanceJobs(2 * time.Hour)
	if _, err := p.Jobs.ExpireUploads(ctx); err != nil {
		t.Fatalf("25 hours on: %v", err)
	}
	if r := p.get(t, idle.URL, "", nil); r.Status != http.StatusNotFound {
		t.Errorf("the expired upload's link: %d", r.Status)
	}
	ids := func() map[string]bool {
		m := map[string]bool{}
		for _, x := range p.listUploads(t, u.Access).Items {
			m[x.ID] = true
		}
		return m
	}
	if got := ids(); got[idle.ID] || !got[used.ID] || !got[running.ID] || len(p.storedUploads(t)) != 2 {
		t.Fatalf("after expiry: %v, %d files", got, len(p.storedUploads(t)))
	}
	// Delete the generation: its upload is unreferenced now, and old enough.
	if r := p.do(t, call{Method: "DELETE", Path: "/api/v1/images/" + genID, Token: u.Access}); r.Status != http.StatusNoContent {
		t.Fatalf("delete the generation: %d %s", r.Status, r.Body)
	}
	if _, err := p.Jobs.ExpireUploads(ctx); err != nil {
		t.Fatalf("after deleting the generation: %v", err)
	}
	if got := ids(); got[used.ID] || !got[running.ID] || len(p.storedUploads(t)) != 1 {
		t.Fatalf("after the generation went: %v, %d files", got, len(p.storedUploads(t)))
	}
	if r := p.get(t, running.URL, "", nil); r.Status != http.StatusOK {
		t.Errorf("the running generation's upload: %d", r.Status)
	}
}

// pngWithChunk puts a chunk (type, data) right after a PNG's IHDR.
func pngWithChunk(p []byte, typ, data string) []byte {
	const afterIHDR = 8 + 8 + 13 + 4
	out := append([]byte{}, p[:afterIHDR]...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, typ+data...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE([]byte(typ+data)))
	return append(out, p[afterIHDR:]...)
}

// headerPNG is a PNG signature and IHDR (valid CRC) declaring w×h, and nothing else.
func headerPNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	b := binary.BigEndian.AppendUint32([]byte("\x89PNG\r\n\x1a\n"), 13)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// The images of the issue, each of which a header check took and Replicate would have
// been paid to read: all refused with 422 and a sentence, and nothing kept.
func TestUploadsRefuseMalformedImages(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "prankster")
	noise := make([]byte, 2048)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	j := testJPEG(t, 120, 90)
	cases := []struct {
		name string
		data []byte
		says string
	}{
		{"header-only.png", headerPNG(64, 64), "damaged, truncated or missing"},
		{"line.png", headerPNG(36_000_000, 1), "36000000 x 1 pixels: no side may exceed 16384"},
		{"noise.png", append(headerPNG(64, 64), noise...), "damaged, truncated or missing"},
		{"truncated.jpg", j[:len(j)/2], "damaged, truncated or missing"},
	}
	if n := len(cases[0].data); n != 33 {
		t.Fatalf("the header-only PNG is %d bytes, want the issue's 33", n)
	}
	for _, c := range cases {
		r := p.uploadOne(t, u.Access, c.name, c.data)
		if r.Status != http.StatusUnprocessableEntity || r.Code(t) != db.CodeInvalid ||
			!strings.Contains(r.Detail(t), `"`+c.name+`"`) || !strings.Contains(r.Detail(t), c.says) {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}
	if left := p.storedUploads(t); len(left) != 0 {
		t.Errorf("refused images left files: %v", left)
	}
	if n, err := p.DB.UploadBytes(context.Background(), u.ID); err != nil || n != 0 {
		t.Errorf("refused images count %d bytes (%v)", n, err)
	}
}

// exifGPS is an EXIF block (APP1 payload) in big-endian TIFF: IFD0 with the orientation
// and a GPS directory holding a latitude, 48°51'30" N.
func exifGPS(orientation uint16) []byte {
	e := binary.BigEndian
	b := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08")
	b = e.AppendUint16(b, 2)
	b = append(b, 0x01, 0x12, 0, 3, 0, 0, 0, 1) // orientation, SHORT, 1
	b = e.AppendUint16(b, orientation)
	b = append(b, 0, 0)
	b = append(b, 0x88, 0x25, 0, 4, 0, 0, 0, 1) // GPS IFD pointer, LONG, 1
	b = e.AppendUint32(b, 38)
	b = e.AppendUint32(b, 0)
	b = e.AppendUint16(b, 2)                                  // the GPS IFD, at 38
	b = append(b, 0, 1, 0, 2, 0, 0, 0, 2, 'N', 0, 0, 0)       // GPSLatitudeRef "N"
	b = append(b, 0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 38+2+24+4) // GPSLatitude, 3 rationals
	b = e.AppendUint32(b, 0)
	for _, v := range []uint32{48, 1, 51, 1, 3000, 100} {
		b = e.AppendUint32(b, v)
	}
	return b
}

// A phone photo: stored upright, with no EXIF (so no GPS position) left; a PNG's text
// chunk goes too.
func TestUploadsAreStoredUprightWithoutMetadata(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "traveller")
	// The sensor's picture: 64 wide, 32 high, red in its top-left corner; orientation 6
	// says a viewer turns it a quarter clockwise, which takes that corner to the
	// top-right of a picture 32 wide and 64 high.
	m := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			c := color.RGBA{40, 90, 200, 255}
			if x < 12 && y < 12 {
				c = color.RGBA{250, 10, 10, 255}
			}
			m.SetRGBA(x, y, c)
		}
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	app1 := exifGPS(6)
	photo := append([]byte{0xFF, 0xD8, 0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(app1)+2))...)
	photo = append(append(photo, app1...), jb.Bytes()[2:]...)

	up := uploaded(t, p.uploadOne(t, u.Access, "IMG_0001.JPG", photo))
	if up.Width != 32 || up.Height != 64 || up.ContentType != "image/jpeg" {
		t.Fatalf("the photo was stored as %+v, want 32x64 JPEG", up)
	}
	files := p.storedUploads(t)
	if len(files) != 1 {
		t.Fatalf("files: %v", files)
	}
	stored, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Exif", "MM\x00\x2a", "\xFF\xE1"} {
		if bytes.Contains(stored, []byte(s)) {
			t.Errorf("the stored photo still holds %q", s)
		}
	}
	img, err := jpeg.Decode(bytes.NewReader(stored))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 64 {
		t.Fatalf("stored %v", b)
	}
	isRed := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return r>>8 > 200 && g>>8 < 60 && b>>8 < 60
	}
	if !isRed(28, 3) || isRed(3, 3) || isRed(28, 60) {
		t.Errorf("the marker is not at the top-right of the upright photo: top-right %v, top-left %v", img.At(28, 3), img.At(3, 3))
	}
	if g := p.get(t, up.URL, "", nil); !bytes.Equal(g.Body, stored) {
		t.Error("the served upload is not the stored one")
	}

	text := pngWithChunk(testPNG(t, 16, 16), "tEXt", "Comment\x00taken at 48.8584 N, 2.2945 E")
	pu := uploaded(t, p.uploadOne(t, u.Access, "notes.png", text))
	g := p.get(t, pu.URL, "", nil)
	if g.Status != http.StatusOK || bytes.Contains(g.Body, []byte("tEXt")) || bytes.Contains(g.Body, []byte("48.8584")) {
		t.Errorf("the stored PNG keeps its text chunk: %d", g.Status)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(g.Body)); err != nil || cfg.Width != 16 {
		t.Errorf("the stored PNG: %+v %v", cfg, err)
	}
}
