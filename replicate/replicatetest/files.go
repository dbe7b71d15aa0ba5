package replicatetest

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxUpload bounds one uploaded file; Replicate's own limit is larger, but
// the fake keeps files in memory.
const maxUpload = 64 << 20

type file struct {
	id, name, contentType string
	data                  []byte
	created               time.Time
}

func (s *Server) fileJSONLocked(f *file) map[string]any {
	sum := sha256.Sum256(f.data)
	md := md5.Sum(f.data)
	return map[string]any{
		"id":           f.id,
		"name":         f.name,
		"content_type": f.contentType,
		"size":         len(f.data),
		"etag":         hex.EncodeToString(md[:]),
		"checksums":    map[string]string{"sha256": hex.EncodeToString(sum[:]), "md5": hex.EncodeToString(md[:])},
		"metadata":     map[string]any{},
		"created_at":   f.created.Format(time.RFC3339Nano),
		"expires_at":   f.created.Add(24 * time.Hour).Format(time.RFC3339Nano),
		"urls":         map[string]string{"get": s.URL() + "/files/" + f.id},
	}
}

// handleUpload takes the multipart fields content (the file), filename and
// type, as the real endpoint does.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, token string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		writeProblem(w, http.StatusBadRequest, "Invalid upload", "The body must be multipart/form-data with a content part.", nil)
		return
	}
	defer r.MultipartForm.RemoveAll()
	part, hdr, err := r.FormFile("content")
	if err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, "Invalid upload", "content is required",
			[]invalidField{{"required", "content", "content is required"}})
		return
	}
	data, err := io.ReadAll(part)
	part.Close()
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "Invalid upload", "The file could not be read.", nil)
		return
	}
	name := r.FormValue("filename")
	if name == "" {
		name = hdr.Filename
	}
	ctype := r.FormValue("type")
	if ctype == "" {
		ctype = hdr.Header.Get("Content-Type")
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	s.mu.Lock()
	f := &file{id: newID(), name: name, contentType: ctype, data: data, created: s.nowLocked()}
	s.files[f.id] = f
	s.stats.FilesUploaded++
	out := s.fileJSONLocked(f)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

// handleFile serves an uploaded file's bytes at its urls.get.
func (s *Server) handleFile(w http.ResponseWriter, r *http.Request, token string) {
	s.mu.Lock()
	f := s.files[r.PathValue("id")]
	s.mu.Unlock()
	if f == nil {
		writeProblem(w, http.StatusNotFound, "Not found", "File not found", nil)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	_, _ = w.Write(f.data)
}
