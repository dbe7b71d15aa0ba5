package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"nanobanana/db"
)

// The original service's clients: what they send must be answered as they expect.

func TestLoginUsernameOrEmail(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.register(t, "alice")
	for _, login := range []string{"alice", "alice@example.com"} {
		r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login",
			Body: map[string]string{"username_or_email": login, "password": "password-alice"}})
		if r.Status != http.StatusOK || r.JSON(t)["access_token"] == "" {
			t.Fatalf("login with username_or_email %q: %d %s", login, r.Status, r.Body)
		}
	}
	if r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login",
		Body: map[string]string{"username_or_email": "alice", "password": "wrong-password"}}); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password with username_or_email: %d %s", r.Status, r.Body)
	}
}

func TestInvalidUTF8IsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, c := range []struct {
		body, field string
	}{
		{"{\"username\":\"al\xffce\",\"password\":\"password-alice\"}", "username"},
		{"{\"password\":\"x\",\"username\":\"ok\",\"nested\":{\"list\":[\"a\",\"\xc3\"]}}", "nested.list.1"},
		{"{\"user\xfename\":\"alice\"}", "user\ufffdname"},
	} {
		r := ts.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: []byte(c.body)})
		if r.Status != http.StatusBadRequest || r.Code(t) != db.CodeBadJSON {
			t.Fatalf("%q: %d %s", c.body, r.Status, r.Body)
		}
		fields, _ := r.JSON(t)["fields"].([]any)
		if len(fields) != 1 || fields[0].(map[string]any)["field"] != c.field {
			t.Fatalf("%q: the answer does not name the field %q: %s", c.body, c.field, r.Body)
		}
	}
}

// predictionInputs is the image_input the fake received for a generation.
func (p *pipeline) predictionInputs(t *testing.T, userID int64, id string) []string {
	t.Helper()
	g, err := p.DB.GetGeneration(context.Background(), userID, id)
	if err != nil || g.PredictionID == "" {
		t.Fatalf("generation %s: %v", id, err)
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
	return in.ImageInput
}

// The four calls of the original service's clients, as they make them.
func TestOriginalClients(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	p.register(t, "alice")

	// 1. Its login: username_or_email.
	r := p.do(t, call{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]string{"username_or_email": "alice@example.com", "password": "password-alice"}})
	if r.Status != 200 {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)["access_token"].(string)
	uid := int64(r.JSON(t)["user"].(map[string]any)["id"].(float64))

	// 2. Its health check.
	if r := p.do(t, call{Method: "GET", Path: "/health"}); r.Status != 200 || r.JSON(t)["status"] != "ok" {
		t.Fatalf("/health: %d %s", r.Status, r.Body)
	}

	// 3. reference_images as URLs: a data: URL is stored as an upload, an https:// URL
	// goes to Replicate as it is.
	dataURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(testPNG(t, 32, 24))
	const remote = "https://images.example.com/ref.png?size=large"
	before := len(p.storedUploads(t))
	g := p.generate(t, tok, map[string]any{"prompt": "combine these", "resolution": "1K", "reference_images": []string{remote, dataURL}})
	refs, _ := g["reference_image_ids"].([]any)
	if g["generation_mode"] != "image-to-image" || len(refs) != 2 || refs[0] != remote || !validID(refs[1].(string)) {
		t.Fatalf("generate with reference_images: %v", g)
	}
	if got := len(p.storedUploads(t)); got != before+1 {
		t.Errorf("stored uploads %d -> %d, want one more", before, got)
	}
	id := g["id"].(string)
	p.waitStatus(t, tok, id, "completed")
	in := p.predictionInputs(t, uid, id)
	if len(in) != 2 || in[0] != remote || !strings.HasPrefix(in[1], "data:image/png;base64,") {
		t.Errorf("image_input sent to Replicate: %.200q", in)
	}

	// 4. One generation at GET /images/{id}, with its names.
	r = p.do(t, call{Method: "GET", Path: "/api/v1/images/" + id, Token: tok})
	if m := r.JSON(t); r.Status != 200 || m["status"] != "completed" || m["result_url"] == nil || m["error_message"] != nil {
		t.Fatalf("GET /images/{id}: %d %s", r.Status, r.Body)
	}

	// What is refused, by field; nothing is stored by a refused request.
	before = len(p.storedUploads(t))
	for _, c := range []struct {
		refs  []string
		field string
	}{
		{[]string{"http://images.example.com/a.png"}, "reference_images[0]"},
		{[]string{remote, "ftp://x/y.png"}, "reference_images[1]"},
		{[]string{dataURL, "https://" + strings.Repeat("a", 3000)}, "reference_images[1]"},
		{[]string{"data:image/png,notbase64"}, "reference_images[0]"},
		{[]string{"data:image/png;base64,!!!"}, "reference_images[0]"},
		{[]string{"data:text/plain;base64," + base64.StdEncoding.EncodeToString([]byte("hello, not an image"))}, "reference_images[0]"},
	} {
		r := p.do(t, call{Method: "POST", Path: "/api/v1/images/generate", Token: tok, Body: map[string]any{"prompt": "x", "reference_images": c.refs}})
		fields, _ := r.JSON(t)["fields"].([]any)
		if r.Status < 400 || len(fields) == 0 || fields[0].(map[string]any)["field"] != c.field {
			t.Errorf("reference_images %.60q: %d %s; want a refusal naming %s", c.refs, r.Status, r.Body, c.field)
		}
	}
	if got := len(p.storedUploads(t)); got != before {
		t.Errorf("refused generates left %d stored uploads", got-before)
	}
}
