package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
	"nanobanana/storage"
)

// Share links: a public, read-only link to one image or one board (/s/{token}, a page
// of the frontend), made, listed and revoked by its owner. Whoever holds the link sees
// the image (or the board's name and images) and the prompts, and nothing else of the
// owner's: not the account's name, not other images. (A board link's image URLs carry
// the generation's id as the handle of the image within the link.) Every answer through a link is read from the
// database (a revoked or expired link is 404 at its next request, in every process)
// and says no-store, so no browser or proxy keeps a copy past a revocation.

// maxShareHours bounds a link's expiry (ten years); 0 is never.
const maxShareHours = 10 * 365 * 24

type shareRequest struct {
	ImageID        string `json:"image_id,omitempty"` // one of image_id and board_id
	BoardID        string `json:"board_id,omitempty"`
	ExpiresInHours int    `json:"expires_in_hours"` // 0: never expires
}

// shareJSON is a link as its owner sees it.
type shareJSON struct {
	Token     string     `json:"token"`
	URL       string     `json:"url"`
	ImageID   string     `json:"image_id,omitempty"`
	BoardID   string     `json:"board_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

type shareList struct {
	Items []shareJSON `json:"items"`
}

// sharedJSON is what the public page shows: an image link's image and its prompt, or a
// board link's name and a page of its images with their prompts.
type sharedJSON struct {
	Kind      string     `json:"kind" enum:"image,board"`
	ExpiresAt *time.Time `json:"expires_at"`
	// An image link: the image.
	Image *sharedImageJSON `json:"image,omitempty"`
	// A board link: its name and a page of its images, newest first.
	Name       string            `json:"name,omitempty"`
	Items      []sharedImageJSON `json:"items,omitempty"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

type sharedImageJSON struct {
	Prompt       string `json:"prompt"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	OutputFormat string `json:"output_format"`
	ImageURL     string `json:"image_url"`
	DownloadURL  string `json:"download_url"`
}

func (s *Server) toShareJSON(sh *db.Share) shareJSON {
	out := shareJSON{Token: sh.Token, URL: s.cfg.PublicURL + "/s/" + sh.Token, ImageID: sh.GenerationID, BoardID: sh.BoardID, CreatedAt: sh.CreatedAt}
	if !sh.ExpiresAt.IsZero() {
		e := sh.ExpiresAt
		out.ExpiresAt = &e
	}
	return out
}

func (s *Server) createShare(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	var req shareRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.ExpiresInHours < 0 || req.ExpiresInHours > maxShareHours {
		return invalid("expires_in_hours", "expires_in_hours must be 0 (never) to "+strconv.Itoa(maxShareHours)+".")
	}
	if (req.ImageID == "") == (req.BoardID == "") {
		return invalid("image_id", "Name what to share: image_id (one image) or board_id (a board), not both.")
	}
	sh := db.Share{Token: db.NewID(), UserID: p.ID}
	var missing error
	if req.BoardID != "" {
		missing = notFound("No board with id " + strconv.Quote(req.BoardID) + ".")
		if !validID(req.BoardID) {
			return missing
		}
		sh.BoardID = req.BoardID
	} else {
		missing = notFound("No image with id " + strconv.Quote(req.ImageID) + ".")
		if !validID(req.ImageID) {
			return missing
		}
		g, err := s.db.GetGeneration(r.Context(), p.ID, req.ImageID)
		if errors.Is(err, db.ErrNotFound) {
			return missing
		}
		if err != nil {
			return err
		}
		if g.Status != db.StatusCompleted || g.ImageKey == "" {
			return notFound("Generation " + g.ID + " has no image to share (it is " + g.Status + ").")
		}
		sh.GenerationID = g.ID
	}
	if req.ExpiresInHours > 0 {
		sh.ExpiresAt = s.now().Add(time.Duration(req.ExpiresInHours) * time.Hour).Truncate(time.Millisecond)
	}
	made, err := s.db.CreateShare(r.Context(), sh)
	if errors.Is(err, db.ErrNotFound) { // not the user's, or deleted meanwhile
		return missing
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "share link created", "user_id", p.ID, "image_id", sh.GenerationID, "board_id", sh.BoardID)
	writeJSON(w, http.StatusCreated, s.toShareJSON(made))
	return nil
}

func (s *Server) listShares(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	list, err := s.db.Shares(r.Context(), p.ID)
	if err != nil {
		return err
	}
	out := shareList{Items: make([]shareJSON, len(list))}
	for i := range list {
		out.Items[i] = s.toShareJSON(&list[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeShare(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	token := ps.ByName("token")
	missing := notFound("No such share link: it does not exist, was revoked already, or is not yours.")
	if !validID(token) {
		return missing
	}
	if err := s.db.DeleteShare(r.Context(), p.ID, token); errors.Is(err, db.ErrNotFound) {
		return missing
	} else if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "share link revoked", "user_id", p.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var errShareGone = notFound("This share link does not exist, has expired or was revoked.")

// shareToken reads the route's token; a malformed one names nothing.
func shareToken(ps httprouter.Params) (string, error) {
	token := ps.ByName("token")
	if !validID(token) {
		return "", errShareGone
	}
	return token, nil
}

// sharedImage reads the live link of the route's token and the image asked for (an
// image link's own; ?image= on a board link).
func (s *Server) sharedImage(w http.ResponseWriter, r *http.Request, ps httprouter.Params) (*db.Share, *db.Generation, error) {
	publicHeaders(w)
	token, err := shareToken(ps)
	if err != nil {
		return nil, nil, err
	}
	genID := r.URL.Query().Get("image")
	if genID != "" && !validID(genID) {
		return nil, nil, errShareGone
	}
	sh, g, err := s.db.SharedGeneration(r.Context(), token, genID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil, errShareGone
	}
	if err != nil {
		return nil, nil, err
	}
	if g.Status != db.StatusCompleted || g.ImageKey == "" {
		return nil, nil, errShareGone
	}
	return sh, g, nil
}

// sharedImageOf is g as a link's page shows it.
func (s *Server) sharedImageOf(sh *db.Share, g *db.Generation) sharedImageJSON {
	file := s.cfg.PublicURL + "/api/v1/shared/file/" + sh.Token
	sep := "?"
	if sh.BoardID != "" {
		file += "?image=" + g.ID
		sep = "&"
	}
	return sharedImageJSON{Prompt: g.Prompt, Width: g.Width, Height: g.Height, OutputFormat: g.OutputFormat,
		ImageURL: file, DownloadURL: file + sep + "download=1"}
}

// publicHeaders: nothing answered through a link may be kept (a revocation must take
// effect at once), indexed, or leak the link in a Referer.
func publicHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex, nofollow")
}

// sharedInfo answers GET /api/v1/shared/info/{token}: what the public page shows. A
// board's images come in pages (?cursor=), only those with an image.
func (s *Server) sharedInfo(w http.ResponseWriter, r *http.Request, _ *principal, ps httprouter.Params) error {
	publicHeaders(w)
	token, err := shareToken(ps)
	if err != nil {
		return err
	}
	sh, err := s.db.LiveShare(r.Context(), token)
	if errors.Is(err, db.ErrNotFound) {
		return errShareGone
	}
	if err != nil {
		return err
	}
	out := sharedJSON{Kind: "image"}
	if !sh.ExpiresAt.IsZero() {
		e := sh.ExpiresAt
		out.ExpiresAt = &e
	}
	if sh.GenerationID != "" {
		_, g, err := s.sharedImage(w, r, ps)
		if err != nil {
			return err
		}
		img := s.sharedImageOf(sh, g)
		out.Image = &img
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	out.Kind = "board"
	b, err := s.db.GetBoard(r.Context(), sh.UserID, sh.BoardID)
	if errors.Is(err, db.ErrNotFound) {
		return errShareGone
	}
	if err != nil {
		return err
	}
	out.Name = b.Name
	items, next, err := s.db.ListBoard(r.Context(), sh.UserID, sh.BoardID, db.ListFilter{Limit: 60, Cursor: r.URL.Query().Get("cursor")})
	switch {
	case db.CodeOf(err) == db.CodeInvalidCursor:
		ae := invalid("cursor", "cursor is not one this server gave out; start again without it.")
		ae.Code = db.CodeInvalidCursor
		return ae
	case errors.Is(err, db.ErrNotFound):
		return errShareGone
	case err != nil:
		return err
	}
	out.Items = []sharedImageJSON{}
	for i := range items {
		if items[i].Status == db.StatusCompleted && items[i].ImageKey != "" {
			out.Items = append(out.Items, s.sharedImageOf(sh, &items[i]))
		}
	}
	out.NextCursor = next
	writeJSON(w, http.StatusOK, out)
	return nil
}

// sharedFile answers GET /api/v1/shared/file/{token} (?image={id} on a board link):
// the image as stored (ranges and all), or with ?download=1 as an attachment carrying
// its recipe. It is
// served by this process, not handed to nginx, so its no-store header is the one
// that goes out.
func (s *Server) sharedFile(w http.ResponseWriter, r *http.Request, _ *principal, ps httprouter.Params) error {
	sh, g, err := s.sharedImage(w, r, ps)
	if err != nil {
		return err
	}
	ext, inline := inlineTypes[g.ImageType]
	ctype := g.ImageType
	if !inline {
		ctype, ext = "application/octet-stream", "bin"
	}
	download := r.URL.Query().Get("download") == "1"
	disposition := "inline"
	if !inline || download {
		disposition = "attachment"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", disposition+`; filename="nanobanana-shared-`+sh.Token[:8]+"."+ext+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if download && inline {
		// The public recipe leaves out the generation's id: it is the owner's.
		anon := *g
		anon.ID = ""
		return s.writeDownload(w, r, &anon)
	}
	obj, err := s.store.Open(r.Context(), g.ImageKey)
	if errors.Is(err, storage.ErrNotFound) {
		return notFound("This shared image is missing from storage.")
	}
	if err != nil {
		return err
	}
	defer obj.Close()
	http.ServeContent(w, r, "", g.CompletedAt, obj)
	return nil
}
