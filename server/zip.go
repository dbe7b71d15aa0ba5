package server

import (
	"archive/zip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
	"nanobanana/storage"
	"nanobanana/storage/imaging"
)

// Download many: a selection of the user's images as one zip, written to the answer as
// it is made (archive/zip straight onto the ResponseWriter, each entry copied from
// storage through the recipe writer), so neither memory nor disk holds the archive:
// what one request holds is a file's read buffer and the zip's small central
// directory. Entries are Stored, not Deflated: the images are compressed already.
//
// Scripts POST the ids and read the zip. A browser cannot send its token with a
// download it hands to its download manager, so it asks for a link first (POST
// /api/v1/zips): a signed token naming the user and the ids, good for zipLinkTTL, that
// GET /api/v1/zips/{token} answers with the zip.

// maxZipItems bounds a selection: 200 images of the largest size are a few GB, and the
// link's token (16 bytes an id) stays under 5 KB, which every proxy takes in a URL.
const maxZipItems = 200

// zipLinkTTL is how long a zip link may start a download.
const zipLinkTTL = 5 * time.Minute

// zipRequest names a selection (ids) or one of the user's boards (board_id), whose
// images are all zipped, page by page, however many.
type zipRequest struct {
	IDs     []string `json:"ids,omitempty"`
	BoardID string   `json:"board_id,omitempty"`
}

// zipSource yields the generations to zip, in order; an error of yield stops it.
type zipSource func(ctx context.Context, yield func(*db.Generation) error) error

func selectionSource(gens []*db.Generation) zipSource {
	return func(_ context.Context, yield func(*db.Generation) error) error {
		for _, g := range gens {
			if err := yield(g); err != nil {
				return err
			}
		}
		return nil
	}
}

// boardSource reads the board a page at a time, each image whole (the page's rows
// leave out what a download needs), skipping what has no image.
func (s *Server) boardSource(userID int64, boardID string) zipSource {
	return func(ctx context.Context, yield func(*db.Generation) error) error {
		f := db.ListFilter{Limit: 100}
		for {
			items, next, err := s.db.ListBoard(ctx, userID, boardID, f)
			if err != nil {
				return err
			}
			for i := range items {
				if items[i].Status != db.StatusCompleted || items[i].ImageKey == "" {
					continue
				}
				g, err := s.db.GetGeneration(ctx, userID, items[i].ID)
				if errors.Is(err, db.ErrNotFound) {
					continue // deleted meanwhile
				}
				if err != nil {
					return err
				}
				if err := yield(g); err != nil {
					return err
				}
			}
			if next == "" {
				return nil
			}
			f.Cursor = next
		}
	}
}

// zipOf checks a request's selection or board and answers what to zip and the
// archive's name.
func (s *Server) zipOf(ctx context.Context, userID int64, req zipRequest) (zipSource, string, error) {
	if req.BoardID != "" {
		if len(req.IDs) > 0 {
			return nil, "", invalid("ids", "Zip either a selection (ids) or a board (board_id), not both.")
		}
		missing := notFound("No board with id " + strconv.Quote(req.BoardID) + ".")
		if !validID(req.BoardID) {
			return nil, "", missing
		}
		b, err := s.db.GetBoard(ctx, userID, req.BoardID)
		if errors.Is(err, db.ErrNotFound) {
			return nil, "", missing
		}
		if err != nil {
			return nil, "", err
		}
		return s.boardSource(userID, b.ID), "nanobanana-" + slug(b.Name, "board") + ".zip", nil
	}
	gens, err := s.zipSelection(ctx, userID, req.IDs)
	if err != nil {
		return nil, "", err
	}
	return selectionSource(gens), "nanobanana-" + strconv.Itoa(len(gens)) + "-images.zip", nil
}

type zipLinkJSON struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Count     int       `json:"count"`
}

// zipSelection checks a selection and reads its generations, in the order given,
// repeats dropped. An id that is not the caller's (or not an id) answers 404 like a
// missing one, and names only what the caller sent; so does one with no image.
func (s *Server) zipSelection(ctx context.Context, userID int64, ids []string) ([]*db.Generation, error) {
	if len(ids) == 0 {
		return nil, invalid("ids", "Select at least one image (ids: a list of image ids).")
	}
	if len(ids) > maxZipItems {
		return nil, invalid("ids", "A zip holds at most "+strconv.Itoa(maxZipItems)+" images; select fewer and download the rest in another zip.")
	}
	seen := make(map[string]bool, len(ids))
	gens := make([]*db.Generation, 0, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		missing := notFound("No image with id " + strconv.Quote(id) + "; nothing was zipped.")
		if !validID(id) {
			return nil, missing
		}
		g, err := s.db.GetGeneration(ctx, userID, id)
		if errors.Is(err, db.ErrNotFound) {
			return nil, missing
		}
		if err != nil {
			return nil, err
		}
		if g.Status != db.StatusCompleted || g.ImageKey == "" {
			return nil, notFound("Generation " + id + " has no image (it is " + g.Status + "); leave it out of the selection.")
		}
		gens = append(gens, g)
	}
	return gens, nil
}

// zipImages answers POST /api/v1/images/zip.
func (s *Server) zipImages(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	var req zipRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	src, name, err := s.zipOf(r.Context(), p.ID, req)
	if err != nil {
		return err
	}
	s.answerZip(w, r, src, name)
	return nil
}

// createZipLink answers POST /api/v1/zips: the selection is checked now, so a browser
// learns of a bad one before its download starts.
func (s *Server) createZipLink(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	var req zipRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	exp := s.now().Add(zipLinkTTL).Truncate(time.Second)
	if req.BoardID != "" {
		if _, _, err := s.zipOf(r.Context(), p.ID, req); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, zipLinkJSON{URL: s.cfg.PublicURL + "/api/v1/zips/" + s.zipToken(p.ID, exp, zipOfBoard, []string{req.BoardID}),
			ExpiresAt: exp})
		return nil
	}
	gens, err := s.zipSelection(r.Context(), p.ID, req.IDs)
	if err != nil {
		return err
	}
	ids := make([]string, len(gens))
	for i, g := range gens {
		ids[i] = g.ID
	}
	writeJSON(w, http.StatusCreated, zipLinkJSON{URL: s.cfg.PublicURL + "/api/v1/zips/" + s.zipToken(p.ID, exp, zipOfIDs, ids),
		ExpiresAt: exp, Count: len(ids)})
	return nil
}

// zipByLink answers GET /api/v1/zips/{token} (zipLink has checked the token).
func (s *Server) zipByLink(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	_, _, kind, ids, err := s.parseZipToken(ps.ByName("token"))
	if err != nil {
		// The caller came with a bearer token instead of a valid link.
		return notFound("This zip link is invalid or has expired; select the images and download again.")
	}
	req := zipRequest{IDs: ids}
	if kind == zipOfBoard {
		req = zipRequest{BoardID: ids[0]}
	}
	src, name, err := s.zipOf(r.Context(), p.ID, req)
	if err != nil {
		return err
	}
	s.answerZip(w, r, src, name)
	return nil
}

// What a zip link names: a selection of ids, or a board (one id).
const (
	zipOfIDs   byte = 1
	zipOfBoard byte = 2
)

// zipToken signs (user, expiry, kind, ids): base64url of the kind byte (a selection or
// a board), the user id and the expiry (unix seconds) as uvarints, the ids' 16 bytes
// each, then 16 bytes of HMAC-SHA256 over all of it.
func (s *Server) zipToken(userID int64, exp time.Time, kind byte, ids []string) string {
	b := []byte{kind}
	b = binary.AppendUvarint(b, uint64(userID))
	b = binary.AppendUvarint(b, uint64(exp.Unix()))
	for _, id := range ids {
		raw, _ := hex.DecodeString(id)
		b = append(b, raw...)
	}
	b = append(b, s.zipSig(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) zipSig(payload []byte) []byte {
	m := hmac.New(sha256.New, s.signKey)
	m.Write([]byte("zip-link\x00"))
	m.Write(payload)
	return m.Sum(nil)[:16]
}

var errBadZipLink = errors.New("invalid zip link")

func (s *Server) parseZipToken(raw string) (userID int64, exp time.Time, kind byte, ids []string, err error) {
	fail := func() (int64, time.Time, byte, []string, error) { return 0, time.Time{}, 0, nil, errBadZipLink }
	if len(raw) > 8<<10 {
		return fail()
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) < 1+16 || (b[0] != zipOfIDs && b[0] != zipOfBoard) {
		return fail()
	}
	payload, sig := b[:len(b)-16], b[len(b)-16:]
	if !hmac.Equal(sig, s.zipSig(payload)) {
		return fail()
	}
	kind = payload[0]
	rest := payload[1:]
	uid, n := binary.Uvarint(rest)
	if n <= 0 {
		return fail()
	}
	rest = rest[n:]
	e, n := binary.Uvarint(rest)
	if n <= 0 || len(rest[n:])%16 != 0 {
		return fail()
	}
	rest = rest[n:]
	exp = time.Unix(int64(e), 0)
	if !s.now().Before(exp) || uid == 0 || uid > 1<<62 || len(rest) == 0 || (kind == zipOfBoard && len(rest) != 16) {
		return fail()
	}
	for ; len(rest) > 0; rest = rest[16:] {
		ids = append(ids, hex.EncodeToString(rest[:16]))
	}
	return int64(uid), exp, kind, ids, nil
}

// zipLink is the credentials of GET /api/v1/zips/{token}: the link's own user, whose
// account must still be enabled; without a valid link, the Authorization header.
func (s *Server) zipLink(r *http.Request, ps httprouter.Params) (*principal, error) {
	uid, exp, _, _, err := s.parseZipToken(ps.ByName("token"))
	if err != nil {
		if r.Header.Get("Authorization") != "" {
			return s.bearer(r, ps)
		}
		return nil, unauthorized("This zip link is invalid or has expired; select the images and download again.")
	}
	u, err := s.db.UserByID(r.Context(), uid)
	if errors.Is(err, db.ErrNotFound) {
		return nil, unauthorized("This zip link is no longer valid.")
	}
	if err != nil {
		return nil, internal(err)
	}
	if u.Disabled {
		return nil, newError(db.CodeAccountDisabled, "The account these images belong to is disabled.")
	}
	return &principal{User: u, LinkExpires: exp}, nil
}

// answerZip streams src as a zip named name. Once the first byte is out the status is
// sent: a failure after that cuts the connection, so the client sees a broken download
// rather than an archive that looks whole.
func (s *Server) answerZip(w http.ResponseWriter, r *http.Request, src zipSource, name string) {
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if err := s.writeZip(r.Context(), w, src); err != nil {
		s.log.WarnContext(r.Context(), "zip cut short", "zip", name, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// writeZip writes the images of src, each with its recipe, as a zip to w.
func (s *Server) writeZip(ctx context.Context, w io.Writer, src zipSource) error {
	zw := zip.NewWriter(w)
	names := map[string]bool{}
	err := src(ctx, func(g *db.Generation) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: zipEntryName(g, names), Method: zip.Store, Modified: g.CompletedAt.UTC()})
		if err != nil {
			return err
		}
		obj, err := s.store.Open(ctx, g.ImageKey)
		if errors.Is(err, storage.ErrNotFound) {
			return errors.New("the file of " + g.ID + " is missing from storage")
		}
		if err != nil {
			return err
		}
		defer obj.Close()
		_, err = imaging.WriteWithRecipe(fw, obj, g.ImageType, s.recipeOf(g))
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

// zipEntryName is a safe, unique name for g in the archive: the prompt's first words
// (letters and digits only, so no path, no dot files, nothing a shell or an unzip
// tool reads as more), then the id's random end, then the extension.
func zipEntryName(g *db.Generation, taken map[string]bool) string {
	ext, ok := inlineTypes[g.ImageType]
	if !ok {
		ext = "bin"
	}
	base := slug(g.Prompt, "image") + "-" + g.ID[len(g.ID)-12:]
	name := base + "." + ext
	for i := 2; taken[name]; i++ {
		name = base + "-" + strconv.Itoa(i) + "." + ext
	}
	taken[name] = true
	return name
}

// slug is text's first words, lower case, letters and digits joined by dashes (at most
// 48 characters), or empty when text has none.
func slug(text, empty string) string {
	var b strings.Builder
	dash := false
	n := 0
	for _, c := range strings.ToLower(text) {
		if n >= 48 {
			break
		}
		if unicode.IsLetter(c) || unicode.IsDigit(c) {
			b.WriteRune(c)
			dash = false
			n++
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
			n++
		}
	}
	if out := strings.TrimSuffix(b.String(), "-"); out != "" {
		return out
	}
	return empty
}
