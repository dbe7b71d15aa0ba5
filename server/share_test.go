package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"nanobanana/storage/imaging"
)

// pngText reads a PNG's uncompressed iTXt chunk of keyword, or "" when none.
func pngText(b []byte, keyword string) string {
	if len(b) < 8 {
		return ""
	}
	for b = b[8:]; len(b) >= 12; {
		n := int(binary.BigEndian.Uint32(b))
		if len(b) < 12+n {
			return ""
		}
		if string(b[4:8]) == "iTXt" {
			kw, rest, _ := bytes.Cut(b[8:8+n], []byte{0})
			if string(kw) == keyword && len(rest) >= 2 {
				_, rest, _ = bytes.Cut(rest[2:], []byte{0}) // language tag
				_, text, _ := bytes.Cut(rest, []byte{0})    // translated keyword
				return string(text)
			}
		}
		b = b[12+n:]
	}
	return ""
}

// jpegComment reads a JPEG's first COM segment, or "" when none.
func jpegComment(b []byte) string {
	for i := 2; i+4 <= len(b) && b[i] == 0xFF; {
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if b[i+1] == 0xFE && i+2+n <= len(b) {
			return string(b[i+4 : i+2+n])
		}
		if b[i+1] == 0xDA {
			break
		}
		i += 2 + n
	}
	return ""
}

// completed generates an image of prompt for the user and waits for it.
func (p *pipeline) completed(t *testing.T, tok, prompt, format string) string {
	t.Helper()
	id := p.generate(t, tok, map[string]any{"prompt": prompt, "resolution": "1K", "output_format": format})["id"].(string)
	p.waitStatus(t, tok, id, "completed")
	return id
}

// The file saved with Download carries its recipe; the image's own URL still serves
// the stored bytes.
func TestDownloadCarriesTheRecipe(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "recipes")
	pngID := p.completed(t, u.Access, "A banana lighthouse, «акварель»", "png")
	jpgID := p.completed(t, u.Access, "A banana boat at noon", "jpg")

	stored := p.get(t, "/api/v1/images/file/"+pngID, u.Access, nil)
	if stored.Status != 200 || pngText(stored.Body, imaging.RecipeKeyword) != "" {
		t.Fatalf("the stored PNG: %d, recipe %q", stored.Status, pngText(stored.Body, imaging.RecipeKeyword))
	}
	dl := p.get(t, "/api/v1/images/file/"+pngID+"?download=1", u.Access, nil)
	if dl.Status != 200 || !strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("download: %d %q", dl.Status, dl.Header.Get("Content-Disposition"))
	}
	if _, err := png.Decode(bytes.NewReader(dl.Body)); err != nil {
		t.Fatalf("the downloaded PNG does not decode: %v", err)
	}
	var rc recipeJSON
	if err := json.Unmarshal([]byte(pngText(dl.Body, imaging.RecipeJSONKeyword)), &rc); err != nil ||
		rc.Prompt != "A banana lighthouse, «акварель»" || rc.Resolution != "1K" || rc.OutputFormat != "png" || rc.ID != pngID || rc.Model == "" {
		t.Fatalf("the PNG's recipe: %+v %v", rc, err)
	}
	if text := pngText(dl.Body, imaging.RecipeKeyword); !strings.HasPrefix(text, "A banana lighthouse, «акварель»\n") {
		t.Fatalf("the PNG's parameters: %q", text)
	}

	// Through a signed link, as the browser's Download button does.
	done := p.waitStatus(t, u.Access, jpgID, "completed")
	dl = p.get(t, done["image_url"].(string)+"&download=1", "", nil)
	if dl.Status != 200 {
		t.Fatalf("JPEG download by link: %d", dl.Status)
	}
	if _, err := jpeg.Decode(bytes.NewReader(dl.Body)); err != nil {
		t.Fatalf("the downloaded JPEG does not decode: %v", err)
	}
	if err := json.Unmarshal([]byte(jpegComment(dl.Body)), &rc); err != nil || rc.Prompt != "A banana boat at noon" || rc.ID != jpgID {
		t.Fatalf("the JPEG's comment: %q %v", jpegComment(dl.Body), err)
	}
	if !bytes.Contains(dl.Body, []byte("http://ns.adobe.com/xap/1.0/\x00")) || !bytes.Contains(dl.Body, []byte("A banana boat at noon")) {
		t.Fatal("the JPEG has no XMP packet with the prompt")
	}
}

func TestDownloadWithXAccelRedirectStillCarriesTheRecipe(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, func(o *Options) { o.Config.XAccelRedirect = "/protected/" })
	u := p.register(t, "nginxed")
	id := p.completed(t, u.Access, "handed to nginx", "png")
	if r := p.get(t, "/api/v1/images/file/"+id, u.Access, nil); r.Header.Get("X-Accel-Redirect") == "" || len(r.Body) != 0 {
		t.Fatalf("the plain file is not handed to nginx: %q, %d bytes", r.Header.Get("X-Accel-Redirect"), len(r.Body))
	}
	r := p.get(t, "/api/v1/images/file/"+id+"?download=1", u.Access, nil)
	if r.Header.Get("X-Accel-Redirect") != "" || !strings.Contains(pngText(r.Body, imaging.RecipeJSONKeyword), "handed to nginx") {
		t.Fatalf("download: X-Accel-Redirect %q, recipe %q", r.Header.Get("X-Accel-Redirect"), pngText(r.Body, imaging.RecipeJSONKeyword))
	}
}

func readZip(t *testing.T, body []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		if f.Method != zip.Store {
			t.Errorf("%s is compressed (method %d); images are stored", f.Name, f.Method)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc) // checks the CRC
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out[f.Name] = b
	}
	return out
}

func TestZipOfASelection(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "zipper")
	other := p.register(t, "stranger")
	a := p.completed(t, u.Access, "Red apple / on a ../table", "png")
	b := p.completed(t, u.Access, "Red apple / on a ../table", "jpg")
	theirs := p.completed(t, other.Access, "not yours", "png")

	r := p.do(t, call{Method: "POST", Path: "/api/v1/images/zip", Token: u.Access, Body: map[string]any{"ids": []string{a, b, a}}})
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/zip" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("zip: %d %q %q %s", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"), r.Body[:min(len(r.Body), 200)])
	}
	entries := readZip(t, r.Body)
	want := map[string]string{"red-apple-on-a-table-" + a[20:] + ".png": a, "red-apple-on-a-table-" + b[20:] + ".jpg": b}
	if len(entries) != 2 {
		t.Fatalf("entries: %v", keys(entries))
	}
	for name, id := range want {
		data, ok := entries[name]
		if !ok {
			t.Fatalf("no entry %s in %v", name, keys(entries))
		}
		var recipe string
		if strings.HasSuffix(name, ".png") {
			recipe = pngText(data, imaging.RecipeJSONKeyword)
		} else {
			recipe = jpegComment(data)
		}
		var rc recipeJSON
		if err := json.Unmarshal([]byte(recipe), &rc); err != nil || rc.ID != id || rc.Prompt != "Red apple / on a ../table" {
			t.Errorf("%s's recipe: %q %v", name, recipe, err)
		}
	}

	// Another user's image in the selection: 404, and no zip.
	r = p.do(t, call{Method: "POST", Path: "/api/v1/images/zip", Token: u.Access, Body: map[string]any{"ids": []string{a, theirs}}})
	if r.Status != 404 || strings.Contains(string(r.Body), "not yours") || strings.Contains(string(r.Body), "stranger") {
		t.Fatalf("with another user's image: %d %s", r.Status, r.Body)
	}
	// Empty and too large selections are refused by name.
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/images/zip", Token: u.Access, Body: map[string]any{"ids": []string{}}}); r.Status != 422 {
		t.Fatalf("empty selection: %d %s", r.Status, r.Body)
	}
	many := make([]string, maxZipItems+1)
	for i := range many {
		many[i] = a
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/images/zip", Token: u.Access, Body: map[string]any{"ids": many}}); r.Status != 422 || !strings.Contains(r.Detail(t), "200") {
		t.Fatalf("too many: %d %s", r.Status, r.Body)
	}

	// The browser's way: a link, then a plain GET with no token.
	r = p.do(t, call{Method: "POST", Path: "/api/v1/zips", Token: u.Access, Body: map[string]any{"ids": []string{b}}})
	if r.Status != 201 {
		t.Fatalf("zip link: %d %s", r.Status, r.Body)
	}
	link := r.JSON(t)["url"].(string)
	r = p.get(t, link, "", nil)
	if r.Status != 200 || len(readZip(t, r.Body)) != 1 {
		t.Fatalf("zip by link: %d", r.Status)
	}
	// A link is good for its own user only, and not once tampered with.
	tampered := link[:len(link)-3] + strings.Map(func(c rune) rune {
		if c == 'A' {
			return 'B'
		}
		return 'A'
	}, link[len(link)-3:])
	if r := p.get(t, tampered, "", nil); r.Status != 401 {
		t.Fatalf("tampered link: %d %s", r.Status, r.Body)
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/zips", Token: other.Access, Body: map[string]any{"ids": []string{b}}}); r.Status != 404 {
		t.Fatalf("a link to another user's image: %d %s", r.Status, r.Body)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestShareLinks(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "sharer")
	other := p.register(t, "nosy")
	id := p.completed(t, u.Access, "A lighthouse to show", "png")
	private := p.completed(t, u.Access, "Not for anyone", "png")

	// Another user cannot share my image.
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/shares", Token: other.Access, Body: map[string]any{"image_id": id}}); r.Status != 404 {
		t.Fatalf("another user shares my image: %d %s", r.Status, r.Body)
	}
	r := p.do(t, call{Method: "POST", Path: "/api/v1/shares", Token: u.Access, Body: map[string]any{"image_id": id, "expires_in_hours": 24}})
	if r.Status != 201 {
		t.Fatalf("share: %d %s", r.Status, r.Body)
	}
	sh := r.JSON(t)
	token := sh["token"].(string)
	if sh["url"] != "/s/"+token || sh["image_id"] != id || sh["expires_at"] == nil {
		t.Fatalf("share answer: %v", sh)
	}

	// Open without an account: the image and its prompt, nothing of the owner's.
	info := p.get(t, "/api/v1/shared/info/"+token, "", nil)
	if info.Status != 200 || info.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("public info: %d %q %s", info.Status, info.Header.Get("Cache-Control"), info.Body)
	}
	top := info.JSON(t)
	m, _ := top["image"].(map[string]any)
	if top["kind"] != "image" || m == nil || m["prompt"] != "A lighthouse to show" || strings.Contains(string(info.Body), "sharer") || strings.Contains(string(info.Body), id) {
		t.Fatalf("public info says too much or too little: %s", info.Body)
	}
	file := p.get(t, m["image_url"].(string), "", nil)
	stored := p.get(t, "/api/v1/images/file/"+id, u.Access, nil)
	if file.Status != 200 || !bytes.Equal(file.Body, stored.Body) || file.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("public file: %d, %d bytes (stored %d), %q", file.Status, len(file.Body), len(stored.Body), file.Header.Get("Cache-Control"))
	}
	ranged := p.get(t, m["image_url"].(string), "", http.Header{"Range": {"bytes=0-7"}})
	if ranged.Status != 206 || !bytes.Equal(ranged.Body, stored.Body[:8]) {
		t.Fatalf("a range of the public file: %d %q", ranged.Status, ranged.Body)
	}
	dl := p.get(t, m["download_url"].(string), "", nil)
	if rc := pngText(dl.Body, imaging.RecipeJSONKeyword); dl.Status != 200 || !strings.Contains(rc, "A lighthouse to show") || strings.Contains(rc, id) {
		t.Fatalf("public download: %d, recipe %q", dl.Status, rc)
	}

	// Lists are their owner's; another user can neither see nor revoke.
	if r := p.get(t, "/api/v1/shares", other.Access, nil); r.Status != 200 || len(r.JSON(t)["items"].([]any)) != 0 {
		t.Fatalf("another user's list: %d %s", r.Status, r.Body)
	}
	if r := p.get(t, "/api/v1/shares", u.Access, nil); r.Status != 200 || len(r.JSON(t)["items"].([]any)) != 1 {
		t.Fatalf("my list: %d %s", r.Status, r.Body)
	}
	if r := p.do(t, call{Method: "DELETE", Path: "/api/v1/shares/" + token, Token: other.Access}); r.Status != 404 {
		t.Fatalf("another user revokes: %d %s", r.Status, r.Body)
	}
	if r := p.get(t, "/api/v1/shared/info/"+token, "", nil); r.Status != 200 {
		t.Fatalf("after another user's try: %d", r.Status)
	}

	// Revoked: 404 at once, the file too.
	if r := p.do(t, call{Method: "DELETE", Path: "/api/v1/shares/" + token, Token: u.Access}); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	for _, path := range []string{"/api/v1/shared/info/" + token, m["image_url"].(string)} {
		if r := p.get(t, path, "", nil); r.Status != 404 || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s after revocation: %d %q", path, r.Status, r.Header.Get("Cache-Control"))
		}
	}

	// Expired: 404.
	r = p.do(t, call{Method: "POST", Path: "/api/v1/shares", Token: u.Access, Body: map[string]any{"image_id": private, "expires_in_hours": 1}})
	if r.Status != 201 {
		t.Fatalf("second share: %d %s", r.Status, r.Body)
	}
	token2 := r.JSON(t)["token"].(string)
	if r := p.get(t, "/api/v1/shared/info/"+token2, "", nil); r.Status != 200 {
		t.Fatalf("before expiry: %d", r.Status)
	}
	if err := p.DB.Raw(context.Background(), `UPDATE shares SET expires_at = ? WHERE token = ?`,
		[]any{time.Now().Add(-time.Second).UnixMilli(), token2}); err != nil {
		t.Fatal(err)
	}
	if r := p.get(t, "/api/v1/shared/info/"+token2, "", nil); r.Status != 404 {
		t.Fatalf("after expiry: %d %s", r.Status, r.Body)
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/shares", Token: u.Access, Body: map[string]any{"image_id": id, "expires_in_hours": -1}}); r.Status != 422 {
		t.Fatalf("a negative expiry: %d %s", r.Status, r.Body)
	}
	// A made-up token is 404 like a revoked one.
	if r := p.get(t, "/api/v1/shared/info/00000000000000000000000000000000", "", nil); r.Status != 404 {
		t.Fatalf("unknown token: %d", r.Status)
	}
}

// A board can be zipped whole and shared: the link shows its name and its images with
// their prompts, and only those.
func TestBoardZipAndShare(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	u := p.register(t, "boarder")
	other := p.register(t, "outsider")
	a := p.completed(t, u.Access, "Board image one", "png")
	b := p.completed(t, u.Access, "Board image two", "jpg")
	off := p.completed(t, u.Access, "Not on the board", "png")
	r := p.do(t, call{Method: "POST", Path: "/api/v1/boards", Token: u.Access, Body: map[string]any{"name": "Поездка / trip"}})
	if r.Status != 201 {
		t.Fatalf("board: %d %s", r.Status, r.Body)
	}
	board := r.JSON(t)["id"].(string)
	for _, id := range []string{a, b} {
		if r := p.do(t, call{Method: "PUT", Path: "/api/v1/boards/" + board + "/images/" + id, Token: u.Access}); r.Status >= 300 {
			t.Fatalf("add to board: %d %s", r.Status, r.Body)
		}
	}

	// The whole board as a zip, by POST and by a browser's link.
	r = p.do(t, call{Method: "POST", Path: "/api/v1/images/zip", Token: u.Access, Body: map[string]any{"board_id": board}})
	if r.Status != 200 || !strings.Contains(r.Header.Get("Content-Disposition"), "trip.zip") {
		t.Fatalf("board zip: %d %q", r.Status, r.Header.Get("Content-Disposition"))
	}
	if entries := readZip(t, r.Body); len(entries) != 2 || entries["board-image-one-"+a[20:]+".png"] == nil || entries["board-image-two-"+b[20:]+".jpg"] == nil {
		t.Fatalf("board zip entries: %v", keys(entries))
	}
	r = p.do(t, call{Method: "POST", Path: "/api/v1/zips", Token: u.Access, Body: map[string]any{"board_id": board}})
	if r.Status != 201 {
		t.Fatalf("board zip link: %d %s", r.Status, r.Body)
	}
	if r := p.get(t, r.JSON(t)["url"].(string), "", nil); r.Status != 200 || len(readZip(t, r.Body)) != 2 {
		t.Fatalf("board zip by link: %d", r.Status)
	}
	for _, path := range []string{"/api/v1/images/zip", "/api/v1/zips", "/api/v1/shares"} {
		if r := p.do(t, call{Method: "POST", Path: path, Token: other.Access, Body: map[string]any{"board_id": board}}); r.Status != 404 {
			t.Fatalf("%s with another user's board: %d %s", path, r.Status, r.Body)
		}
	}

	// The board's link: its name and its images, nothing else.
	r = p.do(t, call{Method: "POST", Path: "/api/v1/shares", Token: u.Access, Body: map[string]any{"board_id": board}})
	if r.Status != 201 || r.JSON(t)["board_id"] != board {
		t.Fatalf("share board: %d %s", r.Status, r.Body)
	}
	token := r.JSON(t)["token"].(string)
	info := p.get(t, "/api/v1/shared/info/"+token, "", nil)
	m := info.JSON(t)
	items, _ := m["items"].([]any)
	if info.Status != 200 || m["kind"] != "board" || m["name"] != "Поездка / trip" || len(items) != 2 ||
		strings.Contains(string(info.Body), "Not on the board") || strings.Contains(string(info.Body), "boarder") {
		t.Fatalf("public board: %d %s", info.Status, info.Body)
	}
	first := items[0].(map[string]any)
	if f := p.get(t, first["image_url"].(string), "", nil); f.Status != 200 || len(f.Body) == 0 {
		t.Fatalf("a board image through the link: %d", f.Status)
	}
	if f := p.get(t, first["download_url"].(string), "", nil); f.Status != 200 || !strings.HasPrefix(f.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("a board image's download through the link: %d %q", f.Status, f.Header.Get("Content-Disposition"))
	}
	// An image not on the board cannot be read through its link.
	if f := p.get(t, "/api/v1/shared/file/"+token+"?image="+off, "", nil); f.Status != 404 {
		t.Fatalf("an image off the board through the link: %d", f.Status)
	}
	// Revoked: 404 at once.
	if r := p.do(t, call{Method: "DELETE", Path: "/api/v1/shares/" + token, Token: u.Access}); r.Status != 204 {
		t.Fatalf("revoke: %d", r.Status)
	}
	if r := p.get(t, first["image_url"].(string), "", nil); r.Status != 404 {
		t.Fatalf("after revocation: %d", r.Status)
	}
	if r := p.do(t, call{Method: "POST", Path: "/api/v1/shares", Token: u.Access, Body: map[string]any{"board_id": board, "image_id": a}}); r.Status != 422 {
		t.Fatalf("both an image and a board: %d %s", r.Status, r.Body)
	}
}
