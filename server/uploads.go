package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
	"nanobanana/storage"
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
	ID          string    `json:"id"`
	ContentType string    `json:"content_type"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	Bytes       int64     `json:"bytes"`
	URL         string    `json:"url"`
	CreatedAt   time.Time `json:"created_at"`
	// Generations is how many generations use the upload (listed uploads only): one
	// with none is removed UPLOAD_RETENTION_HOURS after it was made.
	Generations int `json:"generations"`
}

// uploads stores 1 to 14 reference images for image-to-image generations
// (POST /api/v1/uploads, and POST /api/v1/images/uploads where it was first).
func (s *Server) uploads(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	if !isMultipart(r) {
		return newError(db.CodeUnsupportedMedia, "Send the images as multipart/form-data in a field named images.")
	}
	if err := s.quotaLeft(r.Context(), p.ID); err != nil {
		return err
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
		u.CreatedAt = s.now()
		out[i] = s.uploadJSON(&u.Upload)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"uploads": out})
	return nil
}

func (s *Server) uploadJSON(u *db.Upload) uploadJSON {
	return uploadJSON{ID: u.ID, ContentType: u.ContentType, Width: u.Width, Height: u.Height,
		Bytes: u.Bytes, URL: s.signedURL(kindUpload, u.ID, u.UserID), CreatedAt: u.CreatedAt.UTC(), Generations: u.Refs}
}

// listUploads answers the caller's uploads, newest first, and what they hold against
// the quota: what a user reads to choose what to delete.
func (s *Server) listUploads(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return invalid("limit", "limit must be a whole number from 1 to 100.")
		}
		limit = n
	}
	ups, next, err := s.db.ListUploads(r.Context(), p.ID, limit, q.Get("cursor"))
	switch {
	case db.CodeOf(err) == db.CodeInvalidCursor:
		ae := invalid("cursor", "cursor is not one this server gave out; start again without it.")
		ae.Code = db.CodeInvalidCursor
		return ae
	case err != nil:
		return err
	}
	used, err := s.db.UploadBytes(r.Context(), p.ID)
	if err != nil {
		return err
	}
	items := make([]uploadJSON, len(ups))
	for i := range ups {
		items[i] = s.uploadJSON(&ups[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"items": items, "next_cursor": next,
		"usage": map[string]any{"bytes": used, "quota_bytes": s.cfg.UploadQuota},
	})
	return nil
}

// deleteUpload removes one of the caller's uploads and its file.
func (s *Server) deleteUpload(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id := ps.ByName("id")
	if !validID(id) {
		return notFound("No upload with id " + strconv.Quote(id) + ".")
	}
	u, err := s.db.DeleteUpload(r.Context(), p.ID, id)
	switch code := db.CodeOf(err); {
	case err == nil:
	case code.Kind() == db.KindNotFound:
		return notFound("No upload with id " + strconv.Quote(id) + ".")
	case code == db.CodeUploadInUse:
		return &apiError{Code: code, Detail: "Upload " + id + ": " + db.ReasonOf(err) + ".", Err: err}
	default:
		return err
	}
	// The row is gone, so the file is nobody's: removed even if the client leaves now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := s.store.Delete(ctx, u.Key); err != nil {
		s.log.WarnContext(ctx, "could not remove a deleted upload's file", "key", u.Key, "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// quota is the configured byte quota of one user's uploads (0: none).
func (s *Server) quota() int64 { return max(s.cfg.UploadQuota, 0) }

// quotaLeft refuses at once, before the body is read, an upload by a user whose uploads
// already fill the quota; the exact check is made when the rows are written.
func (s *Server) quotaLeft(ctx context.Context, userID int64) error {
	if s.quota() == 0 {
		return nil
	}
	used, err := s.db.UploadBytes(ctx, userID)
	if err != nil {
		return err
	}
	if used < s.quota() {
		return nil
	}
	return s.quotaError(used, 0)
}

// quotaError says the quota, what is used and what would be added, and how to free
// space.
func (s *Server) quotaError(used, adding int64) error {
	detail := "Your uploads hold " + approxBytes(used) + ", the whole of your quota of " + approxBytes(s.quota()) + "."
	if adding > 0 {
		detail = "These images (" + approxBytes(adding) + ") do not fit in your upload quota of " + approxBytes(s.quota()) +
			": your uploads hold " + approxBytes(used) + " already."
	}
	retention := int(s.uploadRetention() / time.Hour)
	return newError(db.CodeUploadQuota, detail+" Free space by deleting uploads you no longer need "+
		"(GET /api/v1/uploads lists them; DELETE /api/v1/uploads/{id} removes one), or the generations that use them; "+
		"an upload no generation uses is removed "+strconv.Itoa(retention)+" hours after it was made.")
}

func (s *Server) uploadRetention() time.Duration {
	if s.cfg.UploadRetention > 0 {
		return s.cfg.UploadRetention
	}
	return 24 * time.Hour
}

// approxBytes is a size for a sentence: 187.4 MB, 640 kB, 90 bytes.
func approxBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt((n+1<<9)>>10, 10) + " kB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// isFileField names the fields that carry images: images (ours and the seed's form), and
// files/file, which generic clients use.
func isFileField(name string) bool { return name == "images" || name == "files" || name == "file" }

// readMultipart streams a multipart body: each file part is checked and cleaned on its
// way to storage (storeUpload), never whole in memory, and counts against the user's
// upload rate. Other parts are returned as form values when values is true. On any
// error, files already stored by this call are removed.
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
	if te := slowBody(err); te != nil {
		return te
	}
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return tooLarge(maxErr.Limit)
	}
	return badRequest("The multipart body could not be read: " + err.Error() + ".")
}

// errFileTooLarge is returned by cappedReader once a file passes its cap.
var errFileTooLarge = errors.New("file too large")

// cappedReader fails once more than n bytes have been read.
type cappedReader struct {
	r    io.Reader
	n    int64
	read int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read > c.n {
		return 0, errFileTooLarge
	}
	return n, err
}

// storeUpload checks one file (a multipart part, or a data: URL's bytes) and stores what
// is left of it once cleaned; fname names it in messages. The type comes from the
// bytes, never from the client's Content-Type or file name. The file is spooled to a
// temporary file first, so the image is decoded from local disk and a slow client never
// holds the process's one large decode; imaging.Clean then decodes it to its end and
// writes the pixels alone (upright, without EXIF, XMP or text chunks) to a second
// temporary file, which goes to storage.
func (s *Server) storeUpload(ctx context.Context, userID int64, fname string, part io.Reader) (storedUpload, error) {
	return s.storeUploadUpTo(ctx, userID, fname, part, s.maxUploadBytes())
}

// storeUploadUpTo is storeUpload with a byte cap of its own (a generation's image made
// into a reference may be larger than a file a user sends).
func (s *Server) storeUploadUpTo(ctx context.Context, userID int64, fname string, part io.Reader, limit int64) (storedUpload, error) {
	br := bufio.NewReaderSize(part, 4096)
	head, err := br.Peek(imaging.SniffLen)
	if err != nil && len(head) == 0 {
		if errors.Is(err, io.EOF) {
			return storedUpload{}, invalid("images", "The file "+fname+" is empty.")
		}
		return storedUpload{}, multipartError(err)
	}
	if _, ok := imaging.Sniff(head); !ok {
		return storedUpload{}, &apiError{Code: db.CodeUnsupportedMedia,
			Detail: "The file " + fname + " is not a JPEG, PNG or WebP image (judged by its content, not its name); convert it and try again.",
			Fields: []fieldError{{"images", "unsupported image type: " + fname}}}
	}
	if wait, ok := s.uploadRate.allow(userID); !ok {
		return storedUpload{}, &apiError{Code: db.CodeRateLimited, RetryAfter: wait,
			Detail: "You may upload at most " + strconv.Itoa(s.cfg.UploadsPerMinute) + " images a minute; try again in " +
				strconv.Itoa(int((wait+time.Second-1)/time.Second)) + " seconds."}
	}

	raw, err := os.CreateTemp("", "nanobanana-upload-*")
	if err != nil {
		return storedUpload{}, err
	}
	defer removeTemp(raw)
	if _, err := io.Copy(raw, &cappedReader{r: br, n: limit}); err != nil {
		if errors.Is(err, errFileTooLarge) {
			return storedUpload{}, newError(db.CodeTooLarge, "The file "+fname+" is larger than the limit of "+humanBytes(limit)+" per image.")
		}
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return storedUpload{}, multipartError(maxErr)
		}
		if te := slowBody(err); te != nil {
			return storedUpload{}, te
		}
		if errors.Is(err, storage.ErrFull) {
			return storedUpload{}, newError(db.CodeStorageFull, "The server's storage is full, so "+fname+" was not saved; try again later.")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, multipart.ErrMessageTooLarge) {
			return storedUpload{}, multipartError(err)
		}
		return storedUpload{}, err
	}
	if _, err := raw.Seek(0, io.SeekStart); err != nil {
		return storedUpload{}, err
	}
	clean, err := os.CreateTemp("", "nanobanana-clean-*")
	if err != nil {
		return storedUpload{}, err
	}
	defer removeTemp(clean)
	h := sha256.New()
	info, err := imaging.Clean(ctx, io.MultiWriter(clean, h), raw, imaging.CleanOptions{MaxPixels: s.maxPixels()})
	if err != nil {
		return storedUpload{}, s.imageError(fname, info, err)
	}
	if _, err := clean.Seek(0, io.SeekStart); err != nil {
		return storedUpload{}, err
	}
	id := db.NewID()
	key := "u/" + strconv.FormatInt(userID, 10) + "/uploads/" + id + info.Format.Ext()
	stored, err := s.store.Put(ctx, key, clean, info.Format.ContentType())
	if err != nil {
		return storedUpload{}, err
	}
	return storedUpload{Filename: fname, Upload: db.Upload{ID: id, UserID: userID, Key: key,
		ContentType: info.Format.ContentType(), Width: info.Width, Height: info.Height,
		Bytes: stored.Size, SHA256: hex.EncodeToString(h.Sum(nil))}}, nil
}

// imageError says why imaging refused an image, in a sentence naming the file.
func (s *Server) imageError(fname string, info imaging.Info, err error) error {
	switch {
	case errors.Is(err, imaging.ErrSideTooLong):
		return invalid("images", "The image "+fname+" is "+strconv.Itoa(info.Width)+" x "+strconv.Itoa(info.Height)+
			" pixels: no side may exceed "+strconv.Itoa(imaging.MaxSide)+"; scale it down and try again.")
	case errors.Is(err, imaging.ErrTooManyPixels):
		return invalid("images", "The image "+fname+" has too many pixels (the limit is "+strconv.FormatInt(s.maxPixels(), 10)+"); scale it down and try again.")
	case errors.Is(err, imaging.ErrUnsupported):
		return newError(db.CodeUnsupportedMedia, "The file "+fname+" is not a JPEG, PNG or WebP image.")
	case errors.Is(err, imaging.ErrDamaged):
		return invalid("images", "The image "+fname+" could not be read to its end: its image data is damaged, "+
			"truncated or missing. Save or export it again and retry.")
	}
	return err
}

// removeTemp closes and removes a temporary file.
func removeTemp(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

func (s *Server) maxPixels() int64 {
	if s.cfg.MaxPixels > 0 {
		return s.cfg.MaxPixels
	}
	return imaging.DefaultMaxPixels
}

// recordUploads writes the rows of stored files, all or none, within the user's quota.
func (s *Server) recordUploads(ctx context.Context, userID int64, stored []storedUpload) error {
	now := s.now()
	ups := make([]db.Upload, len(stored))
	var adding int64
	for i, u := range stored {
		ups[i] = u.Upload
		ups[i].CreatedAt = now
		adding += u.Bytes
	}
	err := s.db.CreateUploads(ctx, ups, s.quota())
	if db.CodeOf(err) == db.CodeUploadQuota {
		used, uerr := s.db.UploadBytes(ctx, userID)
		if uerr != nil {
			return uerr
		}
		return s.quotaError(used, adding)
	}
	return err
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
