package server

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// storedUploads lists the upload files under the fs storage root.
func (p *pipeline) storedUploads(t *testing.T) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(p.Store.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/uploads/") {
			out = append(out, path)
		}
		return nil
	})
	return out
}

func TestUploadsRefuseWhatIsNotAnImage(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, func(o *Options) {
		o.Config.MaxUploadBytes = 64 << 10
		o.Config.MaxPixels = 300 * 300
	})
	u := p.register(t, "uploader")
	good := testPNG(t, 8, 8)
	cases := []struct {
		name   string
		files  []formFile
		status int
		says   string
	}{
		{"gif", []formFile{{"images", "anim.gif", "image/gif", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,")}}, 415, `"anim.gif"`},
		{"text named png", []formFile{{"images", "notes.png", "image/png", []byte("hello, I am plainly text\n")}}, 415, `"notes.png"`},
		{"too large", []formFile{{"images", "huge.png", "image/png", append(append([]byte{}, good...), make([]byte, 100<<10)...)}}, 413, `"huge.png"`},
		{"too many pixels", []formFile{{"images", "wide.png", "image/png", testPNG(t, 400, 400)}}, 422, `"wide.png"`},
		{"empty file", []formFile{{"images", "empty.png", "image/png", nil}}, 422, `"empty.png"`},
		{"no files", nil, 422, "No image"},
		{"second bad after a good one", []formFile{{"images", "a.png", "", good}, {"images", "b.txt", "", []byte("text text text")}}, 415, `"b.txt"`},
	}
	fifteen := make([]formFile, 15)
	for i := range fifteen {
		fifteen[i] = formFile{"images", "f" + strconv.Itoa(i) + ".png", "image/png", good}
	}
	cases = append(cases, struct {
		name   string
		files  []formFile
		status int
		says   string
	}{"15 files", fifteen, 422, "14"})
	for _, c := range cases {
		r := p.postMultipart(t, "/api/v1/images/uploads", u.Access, nil, c.files)
		if r.Status != c.status || !strings.Contains(r.Detail(t), c.says) {
			t.Errorf("%s: %d %s, want %d mentioning %s", c.name, r.Status, r.Body, c.status, c.says)
		}
	}
	if left := p.storedUploads(t); len(left) != 0 {
		t.Errorf("refused uploads left files behind: %v", left)
	}
	// JSON is not an upload.
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/images/uploads", Token: u.Access, Body: map[string]any{"x": 1}}); r.Status != 415 {
		t.Errorf("JSON upload: %d", r.Status)
	}
	// A body beyond the route limit is refused before it is read.
	big := p.uploadBodyLimitFor(t)
	r := p.do(t, call{Method: "POST", Path: "/api/v1/images/uploads", Token: u.Access, Body: make([]byte, big+1),
		Header: http.Header{"Content-Type": {"multipart/form-data; boundary=x"}}})
	if r.Status != 413 {
		t.Errorf("oversized body: %d %s", r.Status, r.Body)
	}
}

func (p *pipeline) uploadBodyLimitFor(t *testing.T) int64 { return p.Server.uploadBodyLimit() }

func TestUploadsThenImageToImage(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "painter")
	other := p.register(t, "other")
	pngData, jpgData := testPNG(t, 64, 48), testJPEG(t, 40, 30)
	// The declared types are wrong on purpose: the bytes decide.
	r := p.postMultipart(t, "/api/v1/images/uploads", u.Access, nil, []formFile{
		{"images", "one.jpg", "image/jpeg", pngData},
		{"files", "two", "application/octet-stream", jpgData},
	})
	if r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	var resp struct {
		Uploads []uploadJSON `json:"uploads"`
	}
	if err := json.Unmarshal(r.Body, &resp); err != nil || len(resp.Uploads) != 2 {
		t.Fatalf("answer %s (%v)", r.Body, err)
	}
	want := []struct {
		ct   string
		w, h int
		data []byte
	}{{"image/png", 64, 48, pngData}, {"image/jpeg", 40, 30, jpgData}}
	ids := []string{}
	for i, up := range resp.Uploads {
		if up.ContentType != want[i].ct || up.Width != want[i].w || up.Height != want[i].h || up.Bytes <= 0 {
			t.Errorf("upload %d: %+v", i, up)
		}
		// The owner sees it through its signed URL (no token) and with a token, at its
		// new path and its first one; others do not. What is stored is the image
		// cleaned (decoded and encoded again), in the format it came in.
		g := p.get(t, up.URL, "", nil)
		if g.Status != 200 || int64(len(g.Body)) != up.Bytes || g.Header.Get("Content-Type") != want[i].ct || !strings.HasPrefix(up.URL, "/api/v1/uploads/file/") {
			t.Errorf("upload %d signed URL %s: %d %s, %d bytes", i, up.URL, g.Status, g.Header.Get("Content-Type"), len(g.Body))
		}
		if cfg, format, err := image.DecodeConfig(bytes.NewReader(g.Body)); err != nil || "image/"+format != want[i].ct || cfg.Width != want[i].w || cfg.Height != want[i].h {
			t.Errorf("upload %d stored as %s %dx%d (%v)", i, format, cfg.Width, cfg.Height, err)
		}
		for _, path := range []string{"/api/v1/uploads/file/", "/api/v1/images/uploads/file/"} {
			if g := p.get(t, path+up.ID, u.Access, nil); g.Status != 200 {
				t.Errorf("upload %d with token at %s: %d", i, path, g.Status)
			}
			if g := p.get(t, path+up.ID, other.Access, nil); g.Status != 404 {
				t.Errorf("upload %d for another user at %s: %d", i, path, g.Status)
			}
		}
		ids = append(ids, up.ID)
	}
	// Another user cannot use these ids.
	r = p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: other.Access, Body: map[string]any{
		"prompt": "steal", "generation_mode": "image-to-image", "reference_image_ids": ids}})
	if r.Status != 422 {
		t.Errorf("another user's references: %d %s", r.Status, r.Body)
	}

	g := p.generate(t, u.Access, map[string]any{"prompt": "combine these", "resolution": "1K",
		"generation_mode": "image-to-image", "reference_image_ids": ids})
	if g["aspect_ratio"] != "match_input_image" || len(g["reference_image_ids"].([]any)) != 2 {
		t.Errorf("i2i answer: %v", g)
	}
	id := g["id"].(string)
	p.waitStatus(t, u.Access, id, "completed")
	if n := p.imageInputs(t, u.ID, id); n != 2 {
		t.Errorf("the prediction got %d image_input entries, want 2", n)
	}

	// A multipart generate with the file attached stores it and uses it.
	r = p.postMultipart(t, "/api/v1/images/generate", u.Access,
		map[string]string{"prompt": "from an attachment", "resolution": "1K", "output_format": "png"},
		[]formFile{{"images", "ref.png", "image/png", pngData}})
	if r.Status != 202 {
		t.Fatalf("multipart generate: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["generation_mode"] != "image-to-image" || len(m["reference_image_ids"].([]any)) != 1 || m["output_format"] != "png" {
		t.Errorf("multipart generate answer: %v", m)
	}
	id2 := m["id"].(string)
	done := p.waitStatus(t, u.Access, id2, "completed")
	if n := p.imageInputs(t, u.ID, id2); n != 1 {
		t.Errorf("multipart generate sent %d image_input entries, want 1", n)
	}
	f := p.get(t, done["image_url"].(string), "", nil)
	if _, format, err := image.DecodeConfig(bytes.NewReader(f.Body)); err != nil || format != "png" || f.Header.Get("Content-Type") != "image/png" {
		t.Errorf("png output: %s %v %s", format, err, f.Header.Get("Content-Type"))
	}
	// A multipart generate that fails validation keeps no file.
	before := len(p.storedUploads(t))
	r = p.postMultipart(t, "/api/v1/images/generate", u.Access, map[string]string{"prompt": "x", "resolution": "9K"},
		[]formFile{{"images", "ref.png", "image/png", pngData}})
	if r.Status != 422 || len(p.storedUploads(t)) != before {
		t.Errorf("invalid multipart generate: %d, files %d -> %d", r.Status, before, len(p.storedUploads(t)))
	}
}

// imageInputs is how many image_input entries the fake received for a generation.
func (p *pipeline) imageInputs(t *testing.T, userID int64, id string) int {
	t.Helper()
	g, err := p.DB.GetGeneration(context.Background(), userID, id)
	if err != nil || g.PredictionID == "" {
		t.Fatalf("generation %s: %v (prediction %q)", id, err, g.PredictionID)
	}
	pred, err := p.Server.replicate.Get(context.Background(), globalToken, g.PredictionID)
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		ImageInput []string `json:"image_input"`
	}
	if err := json.Unmarshal(pred.Input, &in); err != nil {
		t.Fatal(err)
	}
	return len(in.ImageInput)
}
