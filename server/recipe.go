package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"nanobanana/db"
	"nanobanana/storage"
	"nanobanana/storage/imaging"
)

// The recipe in the file: an image saved with Download (?download=1 on its URL, a
// shared image's download, a zip's entries) carries the prompt and settings it was
// made with (imaging.WriteWithRecipe). The stored file is never changed: its URLs,
// X-Accel-Redirect and ranges serve it as stored; only downloads go through here.

// recipeJSON is the machine-readable recipe (PNG "nanobanana" text, JPEG comment).
type recipeJSON struct {
	Prompt            string    `json:"prompt"`
	Model             string    `json:"model"`
	Resolution        string    `json:"resolution"`
	AspectRatio       string    `json:"aspect_ratio"`
	OutputFormat      string    `json:"output_format"`
	SafetyFilterLevel string    `json:"safety_filter_level"`
	GenerationMode    string    `json:"generation_mode"`
	ReferenceImages   int       `json:"reference_images,omitempty"`
	ID                string    `json:"id,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
}

// recipeOf is what g's downloads carry.
func (s *Server) recipeOf(g *db.Generation) imaging.Recipe {
	j, _ := json.Marshal(recipeJSON{Prompt: g.Prompt, Model: s.cfg.ReplicateModel, Resolution: g.Resolution,
		AspectRatio: g.AspectRatio, OutputFormat: g.OutputFormat, SafetyFilterLevel: g.SafetyFilterLevel,
		GenerationMode: g.Mode, ReferenceImages: len(g.ReferenceIDs), ID: g.ID, CreatedAt: g.CreatedAt.UTC()})
	var b strings.Builder
	b.WriteString(g.Prompt)
	b.WriteString("\nModel: " + s.cfg.ReplicateModel + ", Resolution: " + g.Resolution + ", Aspect ratio: " + g.AspectRatio +
		", Format: " + g.OutputFormat + ", Safety filter: " + g.SafetyFilterLevel + ", Mode: " + g.Mode)
	b.WriteString(", Created: " + g.CreatedAt.UTC().Format(time.RFC3339))
	if g.ID != "" {
		b.WriteString(", ID: " + g.ID)
	}
	return imaging.Recipe{Text: b.String(), JSON: j}
}

// downloadName is the file name a download of g gets, extension included.
func downloadName(g *db.Generation) string {
	ext, ok := inlineTypes[g.ImageType]
	if !ok {
		ext = "bin"
	}
	return "nanobanana-" + g.ID + "." + ext
}

// writeDownload answers g's image as an attachment with its recipe inserted. The
// headers are set by the caller; the length is unknown until the recipe is in, so the
// answer is chunked, and ranges are not offered (a download restarts whole).
func (s *Server) writeDownload(w http.ResponseWriter, r *http.Request, g *db.Generation) error {
	obj, err := s.store.Open(r.Context(), g.ImageKey)
	if errors.Is(err, storage.ErrNotFound) {
		return notFound("The image's file is missing from storage.")
	}
	if err != nil {
		return err
	}
	defer obj.Close()
	h := w.Header()
	h.Del("ETag") // not the stored file's bytes
	h.Set("Accept-Ranges", "none")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := imaging.WriteWithRecipe(w, obj, g.ImageType, s.recipeOf(g)); err != nil {
		// The status is out: all that is left is to cut the answer short, so the
		// client does not keep a file that looks whole.
		s.log.WarnContext(r.Context(), "download cut short", "image_id", g.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
