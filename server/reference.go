package server

import (
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
	"nanobanana/storage"
)

// uploadFromGeneration makes the image of one of the caller's completed generations a
// reference upload (POST /api/v1/uploads/generation/{id}), so the next image-to-image
// generation can start from it: "use as reference" and "edit" on a result. The image
// goes through the same pipeline as a file sent by the user (checked, cleaned, counted
// against the upload rate and quota) and answers like POST /api/v1/uploads.
func (s *Server) uploadFromGeneration(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	g, err := s.generation(r, p, ps)
	if err != nil {
		return err
	}
	if g.Status != db.StatusCompleted || g.ImageKey == "" {
		return newError(db.CodeConflict, "Generation "+g.ID+" has no image (it is "+g.Status+"); only a completed generation's image can become a reference.")
	}
	if err := s.quotaLeft(r.Context(), p.ID); err != nil {
		return err
	}
	obj, err := s.store.Open(r.Context(), g.ImageKey)
	if errors.Is(err, storage.ErrNotFound) {
		return notFound("The image of generation " + g.ID + " is missing from storage.")
	}
	if err != nil {
		return err
	}
	defer obj.Close()
	u, err := s.storeUploadUpTo(r.Context(), p.ID, "the image of generation "+g.ID, obj, max(s.maxUploadBytes(), g.Bytes))
	if err != nil {
		return err
	}
	stored := []storedUpload{u}
	if err := s.recordUploads(r.Context(), p.ID, stored); err != nil {
		s.discardUploads(r.Context(), stored)
		return err
	}
	u.CreatedAt = s.now()
	writeJSON(w, http.StatusCreated, map[string]any{"uploads": []uploadJSON{s.uploadJSON(&u.Upload)}})
	return nil
}
