package server

import (
	"context"
	"testing"
)

func TestFilesHandedToNginxWithXAccelRedirect(t *testing.T) {
	t.Parallel()
	p := newPipeline(t, func(o *Options) { o.Config.XAccelRedirect = "/protected/" })
	u := p.register(t, "nginxed")
	id := p.generate(t, u.Access, map[string]any{"prompt": "served by nginx", "resolution": "1K", "output_format": "png"})["id"].(string)
	done := p.waitStatus(t, u.Access, id, "completed")
	g, err := p.DB.GetGeneration(context.Background(), u.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, token, key, ct string }{
		{"/api/v1/images/file/" + id, u.Access, g.ImageKey, "image/png"},
		{done["thumbnail_url"].(string), "", g.ThumbKey, "image/jpeg"},
	} {
		r := p.get(t, c.path, c.token, nil)
		if r.Status != 200 || r.Header.Get("X-Accel-Redirect") != "/protected/"+c.key || len(r.Body) != 0 ||
			r.Header.Get("Content-Type") != c.ct {
			t.Errorf("%s: %d, X-Accel-Redirect %q (want %q), %d body bytes, type %q", c.path, r.Status,
				r.Header.Get("X-Accel-Redirect"), "/protected/"+c.key, len(r.Body), r.Header.Get("Content-Type"))
		}
	}
	// The access check still comes first.
	other := p.register(t, "outsider")
	if r := p.get(t, "/api/v1/images/file/"+id, other.Access, nil); r.Status != 404 || r.Header.Get("X-Accel-Redirect") != "" {
		t.Errorf("another user: %d %q", r.Status, r.Header.Get("X-Accel-Redirect"))
	}
}
