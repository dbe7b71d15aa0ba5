package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
	"nanobanana/storage/imaging"
)

// Multipart form values other than files are small; this bounds each one and their count.
const (
	maxFormValueBytes = 16 << 10
	maxFormValues     = 64
)

// uploadBodyLimit is the route limit of uploads and multipart generates: every allowed
// file at its cap, plus room for the multipart framing and form values.
func (s *Server) uploadBodyLimit() int64 {
	return maxReferenceImages*s.maxUploadBytes() + 1<<20
}

func (s *Server) maxUploadBytes() int64 {
	if s.cfg.MaxUploadBytes > 0 {
		return s.cfg.MaxUploadBytes
	}
	return 10 << 20
}

// storedUpload is a reference image already in storage but not yet recorded in the db.
type storedUpload struct {
	db.Upload
	Filename string
}

type uploadJSON struct {
	ID          string `json:"id"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Bytes       int64  `json:"bytes"`
	URL         string `json:"url"`
}

// uploads stores 1 to 14 reference images for image-to-image generations.
func (s *Server) uploads(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	if !isMultipart(r) {
		return newError(db.CodeUnsupportedMedia, "Send the images as multipart/form-data in a field named images.")
	}
	_, stored, err := s.readMultipart(r, p.ID, false)
	if err != nil {
		return err
	}
	if len(stored) == 0 {
		return invalid("images", "No image was attached: send 1 to "+strconv.Itoa(maxReferenceImages)+" files in the field images.")
	}
	if err := s.recordUploads(r.Context(), p.ID, stored); err != nil {
		s.discardUploads(r.Context(), stored)
		return err
	}
	out := make([]uploadJSON, len(stored))
	for i, u := range stored {
		out[i] = uploadJSON{ID: u.ID, ContentType: u.ContentType, Width: u.Width, Height: u.Height,
			Bytes: u.Bytes, URL: s.signedURL(kindUpload, u.ID, p.ID)}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"uploads": out})
	return nil
}

// isFileField names the fields that carry images: images (ours and the seed's form), and
// files/file, which generic clients use.
func isFileField(name string) bool { return name == "images" || name == "files" || name == "file" }

// readMultipart streams a multipart body: each file part goes straight to storage (never
// whole into memory), checked by its magic bytes, its size and its declared pixels. Other
// parts are returned as form values when values is true. On any error, files already
// stored by this call are removed.
func (s *Server) readMultipart(r *http.Request, userID int64, values bool) (map[string][]string, []storedUpload, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, badRequest("The multipart body could not be read: " + err.Error() + ".")
	}
	vals := map[string][]string{}
	var stored []storedUpload
	ok := false
	defer func() {
		if !ok {
			s.discardUploads(context.WithoutCancel(r.Context()), stored)
		}
	}()
	nvals := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, multipartError(err)
		}
		name := part.FormName()
		if part.FileName() == "" && !isFileField(name) {
			nvals++
			if !values || nvals > maxFormValues {
				part.Close()
				if nvals > maxFormValues {
					return nil, nil, badRequest("Too many form fields.")
				}
				continue
			}
			b, err := io.ReadAll(io.LimitReader(part, maxFormValueBytes+1))
			part.Close()
			if err != nil {
				return nil, nil, multipartError(err)
			}
			if len(b) > maxFormValueBytes {
				return nil, nil, invalid(name, "The form field "+name+" is too long.")
			}
			vals[name] = append(vals[name], string(b))
			continue
		}
		if !isFileField(name) {
			part.Close()
			return nil, nil, invalid(name, "Unexpected file field "+strconv.Quote(name)+": send images in the field images.")
		}
		if len(stored) == maxReferenceImages {
			part.Close()
			return nil, nil, invalid("images", "At most "+strconv.Itoa(maxReferenceImages)+" images per request; remove some and try again.")
		}
		u, err := s.storeUpload(r.Context(), userID, displayName(part.FileName()), part)
		part.Close()
		if err != nil {
			return nil, nil, err
		}
		stored = append(stored, u)
	}
	ok = true
	return vals, stored, nil
}

func multipartError(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return tooLarge(maxErr.Limit)
	}
	return badRequest("The multipart body could not be read: " + err.Error() + ".")
}

// errFileTooLarge is returned by cappedReader once a file passes its cap.
var errFileTooLarge = errors.New("file too large")

// cappedReader fails once more than n bytes have been read, and hashes what passes.
type cappedReader struct {
	r    io.Reader
	n    int64
	read int64
	h    hash.Hash
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read > c.n {
		return 0, errFileTooLarge
	}
	c.h.Write(p[:n])
	return n, err
}

// storeUpload writes one file (a multipart part, or a data: URL's bytes) to storage and
// checks it; fname names it in messages. The type comes from the
// bytes, never from the client's Content-Type or file name.
func (s *Server) storeUpload(ctx context.Context, userID int64, fname string, part io.Reader) (storedUpload, error) {
	br := bufio.NewReaderSize(part, 4096)
	head, err := br.Peek(imaging.SniffLen)
	if err != nil && len(head) == 0 {
		if errors.Is(err, io.EOF) {
			return storedUpload{}, invalid("images", "The file "+fname+" is empty.")
		}
		return storedUpload{}, multipartError(err)
	}
	format, ok := imaging.Sniff(head)
	if !ok {
		return storedUpload{}, &apiError{Code: db.CodeUnsupportedMedia,
			Detail: "The file " + fname + " is not a JPEG, PNG or WebP image (judged by its content, not its name); convert it and try again.",
			Fields: []fieldError{{"images", "unsupported image type: " + fname}}}
	}
	id := db.NewID()
	key := "u/" + strconv.FormatInt(userID, 10) + "/uploads/" + id + format.Ext()
	limit := s.maxUploadBytes()
	cr := &cappedReader{r: br, n: limit, h: sha256.New()}
	info, err := s.store.Put(ctx, key, cr, format.ContentType())
	if err != nil {
		if errors.Is(err, errFileTooLarge) {
			return storedUpload{}, newError(db.CodeTooLarge, "The file "+fname+" is larger than the limit of "+humanBytes(limit)+" per image.")
		}
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return storedUpload{}, multipartError(maxErr)
		}
		return storedUpload{}, err
	}
	u := storedUpload{Filename: fname, Upload: db.Upload{ID: id, UserID: userID, Key: key,
		ContentType: format.ContentType(), Bytes: info.Size, SHA256: hex.EncodeToString(cr.h.Sum(nil))}}
	dims, err := s.inspectStored(ctx, key)
	if err != nil {
		_ = s.store.Delete(context.WithoutCancel(ctx), key)
		switch {
		case errors.Is(err, imaging.ErrTooManyPixels):
			return storedUpload{}, invalid("images", "The image "+fname+" has too many pixels (the limit is "+strconv.FormatInt(s.maxPixels(), 10)+"); scale it down and try again.")
		case errors.Is(err, imaging.ErrUnsupported):
			return storedUpload{}, newError(db.CodeUnsupportedMedia, "The file "+fname+" is not a JPEG, PNG or WebP image.")
		default:
			return storedUpload{}, invalid("images", "The image "+fname+" could not be read: it looks damaged or truncated.")
		}
	}
	u.Width, u.Height = dims.Width, dims.Height
	return u, nil
}

func (s *Server) maxPixels() int64 {
	if s.cfg.MaxPixels > 0 {
		return s.cfg.MaxPixels
	}
	return imaging.DefaultMaxPixels
}

// inspectStored reads the stored file's header only: its size and pixel count.
func (s *Server) inspectStored(ctx context.Context, key string) (imaging.Info, error) {
	obj, err := s.store.Open(ctx, key)
	if err != nil {
		return imaging.Info{}, err
	}
	defer obj.Close()
	info, err := imaging.Inspect(obj, s.maxPixels())
	if err != nil {
		return info, err
	}
	if info.Width <= 0 || info.Height <= 0 {
		return info, errors.New("no dimensions")
	}
	return info, nil
}

// recordUploads writes the rows of stored files.
func (s *Server) recordUploads(ctx context.Context, userID int64, stored []storedUpload) error {
	now := s.now()
	for _, u := range stored {
		u.CreatedAt = now
		if err := s.db.CreateUpload(ctx, u.Upload); err != nil {
			return err
		}
	}
	return nil
}

// discardUploads removes files that will not be recorded.
func (s *Server) discardUploads(ctx context.Context, stored []storedUpload) {
	if len(stored) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, u := range stored {
		if err := s.store.Delete(ctx, u.Key); err != nil {
			s.log.WarnContext(ctx, "could not remove a discarded upload", "key", u.Key, "err", err)
		}
	}
}

// displayName is a client's file name fit for an error message.
func displayName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		return "(unnamed)"
	}
	return strconv.Quote(truncateRunes(name, 80))
}
