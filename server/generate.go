package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// maxPromptChars bounds a prompt. The model takes long prompts, but a bound keeps rows
// and events small; 5,000 characters is several paragraphs.
const maxPromptChars = 5000

// noKeyMessage says how to fix a generate with no Replicate key anywhere.
const noKeyMessage = "No Replicate API key: add yours in Settings (PUT /api/v1/users/api-key) or ask the administrator to set REPLICATE_API_TOKEN."

// notApprovedMessage refuses an account not yet approved for the shared token.
const notApprovedMessage = "An administrator has not yet approved your account for the shared Replicate key; add your own key in Settings, or wait for approval."

// generateRequest is the body of POST /images/generate (JSON, or the same names as
// multipart form values).
type generateRequest struct {
	Prompt            *string  `json:"prompt"`
	Resolution        string   `json:"resolution"`
	AspectRatio       string   `json:"aspect_ratio"`
	OutputFormat      string   `json:"output_format"`
	SafetyFilterLevel string   `json:"safety_filter_level"`
	GenerationMode    string   `json:"generation_mode"`
	ReferenceImageIDs []string `json:"reference_image_ids"`
	// ReferenceImages is the original service's way: a list of https:// URLs (handed
	// to Replicate as they are) and data: URLs (stored as uploads).
	ReferenceImages []string `json:"reference_images"`
	// Count asks for 1 to db.MaxBatch variations of the prompt with the same settings;
	// Prompts (in place of prompt) for one generation per prompt, 1 to db.MaxBatch,
	// with the same settings. Two or more generations form a batch (one batch_id).
	// With either, the answer adds "generations", all of them in order.
	Count   *int     `json:"count"`
	Prompts []string `json:"prompts"`
}

// jsonGenerateLimit caps a JSON generate, which may carry its reference images as data:
// URLs; the body is read whole, so larger sets go as multipart.
const jsonGenerateLimit = 64 << 20

// maxReferenceURL bounds an https:// reference image's URL.
const maxReferenceURL = 2048

// requireAPIKey fails when no key could pay for a generation. It reads only the
// principal (loaded by authentication) and the config: no query on the hot path.
func (s *Server) requireAPIKey(p *principal) error {
	if p.HasAPIKey {
		return nil
	}
	if !p.Approved {
		// approval_required: the shared token is not this account's until an
		// administrator approves it; its own key works.
		return newError(db.CodeNotApproved, notApprovedMessage)
	}
	if s.cfg.ReplicateAPIToken != "" || s.cfg.Demo {
		return nil
	}
	return newError(db.CodeNoAPIKey, noKeyMessage)
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	if err := s.requireAPIKey(p); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req generateRequest
	var stored []storedUpload
	if isMultipart(r) {
		vals, files, err := s.readMultipart(r, p.ID, true)
		if err != nil {
			return err
		}
		stored = files
		req = requestFromForm(vals)
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, jsonGenerateLimit)
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
	}
	// The original's reference_images, in their order: data: URLs become uploads (the
	// same checks as a file sent with multipart), https:// URLs stay URLs.
	var extra []string
	if len(req.ReferenceImages) > 0 {
		if len(req.ReferenceImages) > maxReferenceImages {
			return invalid("reference_images", "At most "+strconv.Itoa(maxReferenceImages)+" reference images; got "+strconv.Itoa(len(req.ReferenceImages))+".")
		}
		for i, ref := range req.ReferenceImages {
			ref = strings.TrimSpace(ref)
			if len(ref) >= 5 && strings.EqualFold(ref[:5], "data:") {
				u, err := s.storeDataURL(r, p.ID, i, ref)
				if err != nil {
					s.discardUploads(r.Context(), stored)
					return err
				}
				stored = append(stored, u)
				extra = append(extra, u.ID)
				continue
			}
			if err := checkReferenceURL(i, ref); err != nil {
				s.discardUploads(r.Context(), stored)
				return err
			}
			extra = append(extra, ref)
		}
	}
	// Files stored by this request are removed again unless the generation is created.
	created := false
	defer func() {
		if !created {
			s.discardUploads(r.Context(), stored)
		}
	}()

	prompts, err := batchPrompts(&req)
	if err != nil {
		return err
	}
	params, err := validateGenerate(req, max(len(stored), len(extra)))
	if err != nil {
		return err
	}
	if len(params.ReferenceIDs) > 0 {
		if _, err := s.db.GetUploads(r.Context(), p.ID, params.ReferenceIDs); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return badReference()
			}
			return err
		}
	}
	if len(stored) > 0 {
		if err := s.recordUploads(r.Context(), p.ID, stored); err != nil {
			return err
		}
		created = true // the rows own the files now, whatever happens next
		if extra == nil {
			for _, u := range stored {
				extra = append(extra, u.ID)
			}
		}
	}
	hash := requestHash(params, extra, stored)
	params.ReferenceIDs = append(params.ReferenceIDs, extra...)
	b, err := s.budget(r.Context(), p.User, params.Resolution)
	if err != nil {
		return err
	}
	if prompts == nil {
		g, err := s.queue.EnqueueOnce(r.Context(), p.ID, params, key, hash, b)
		if errors.Is(err, db.ErrNotFound) {
			// A reference deleted (or expired) since it was looked up above.
			return badReference()
		}
		if err != nil {
			return err
		}
		// A replayed key's generation is an earlier request's: files this request stored
		// go, unless recorded already (their rows expire unreferenced).
		if !g.Replayed {
			created = true
		}
		s.writeGeneration(w, http.StatusAccepted, g)
		return nil
	}
	ps := make([]db.Params, len(prompts))
	for i, prompt := range prompts {
		ps[i] = params
		ps[i].Prompt = prompt
	}
	// One budget for all: the batch shares its settings, so each image's price, and
	// its reservation is checked for all of them together.
	gs, err := s.queue.EnqueueBatch(r.Context(), p.ID, ps, key, batchHash(hash, prompts), b)
	if errors.Is(err, db.ErrNotFound) {
		return badReference()
	}
	if err != nil {
		return err
	}
	if !gs[0].Replayed {
		created = true
	}
	s.writeBatchAnswer(w, http.StatusAccepted, gs)
	return nil
}

// batchPrompts reads count and prompts: nil when the request has neither (one
// generation, answered as it always was), else the prompt of each generation to make,
// checked. With prompts, req.Prompt is set to the first, so the settings are validated
// once for all.
func batchPrompts(req *generateRequest) ([]string, error) {
	limit := strconv.Itoa(db.MaxBatch)
	switch {
	case req.Count == nil && req.Prompts == nil:
		return nil, nil
	case req.Count != nil && req.Prompts != nil:
		return nil, invalid("count", "Send count (variations of one prompt) or prompts (one generation each), not both.")
	case req.Count != nil:
		if *req.Count < 1 || *req.Count > db.MaxBatch {
			return nil, invalid("count", "count must be a whole number from 1 to "+limit+" (got "+strconv.Itoa(*req.Count)+").")
		}
		if req.Prompt == nil {
			return nil, nil // validateGenerate says prompt is required
		}
		out := make([]string, *req.Count)
		for i := range out {
			out[i] = strings.TrimSpace(*req.Prompt)
		}
		return out, nil
	}
	if req.Prompt != nil {
		return nil, invalid("prompts", "Send prompt (one generation) or prompts (one generation each), not both.")
	}
	if len(req.Prompts) < 1 || len(req.Prompts) > db.MaxBatch {
		return nil, invalid("prompts", "prompts must hold 1 to "+limit+" prompts (got "+strconv.Itoa(len(req.Prompts))+").")
	}
	out := make([]string, len(req.Prompts))
	var bad []fieldError
	for i, raw := range req.Prompts {
		field := "prompts[" + strconv.Itoa(i) + "]"
		out[i] = strings.TrimSpace(raw)
		switch n := utf8.RuneCountInString(out[i]); {
		case n == 0:
			bad = append(bad, fieldError{field, field + " is empty: describe the image to generate."})
		case n > maxPromptChars:
			bad = append(bad, fieldError{field, field + " is too long: " + strconv.Itoa(n) + " characters, at most " + strconv.Itoa(maxPromptChars) + "."})
		}
	}
	if len(bad) > 0 {
		return nil, &apiError{Code: db.CodeInvalid, Detail: bad[0].Message, Fields: bad}
	}
	req.Prompt = &out[0]
	return out, nil
}

// batchHash is the request hash of a request with count or prompts: the settings'
// hash (requestHash, with the first prompt) and every prompt, so a key sent again with
// another count or other prompts is told apart.
func batchHash(settings string, prompts []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "batch:%s;%d;", settings, len(prompts))
	for _, p := range prompts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// maxIdempotencyKey bounds an Idempotency-Key.
const maxIdempotencyKey = 255

// idempotencyKey reads the Idempotency-Key header: "" when absent, else 1 to 255
// printable ASCII characters.
func idempotencyKey(r *http.Request) (string, error) {
	vals, ok := r.Header["Idempotency-Key"]
	if !ok {
		return "", nil
	}
	bad := newError(db.CodeBadRequest, "The Idempotency-Key header must be 1 to "+strconv.Itoa(maxIdempotencyKey)+" printable ASCII characters (a UUID is a good key), sent once.")
	if len(vals) != 1 || len(vals[0]) == 0 || len(vals[0]) > maxIdempotencyKey {
		return "", bad
	}
	for i := 0; i < len(vals[0]); i++ {
		if c := vals[0][i]; c < 0x20 || c > 0x7e {
			return "", bad
		}
	}
	return vals[0], nil
}

// requestHash identifies a generate's parameters, so that an idempotency key sent again
// with others is told apart: the validated fields, and each reference image as the
// client named it (an upload id or an https:// URL) or, sent with the request, by the
// SHA-256 of its stored image (its upload id is new each time).
func requestHash(p db.Params, extra []string, stored []storedUpload) string {
	h := sha256.New()
	field := func(v string) { fmt.Fprintf(h, "%d:%s;", len(v), v) }
	for _, v := range []string{p.Prompt, p.Resolution, p.AspectRatio, p.OutputFormat, p.SafetyFilterLevel, p.Mode} {
		field(v)
	}
	sums := make(map[string]string, len(stored))
	for _, u := range stored {
		sums[u.ID] = u.SHA256
	}
	for _, id := range p.ReferenceIDs {
		field("id:" + id)
	}
	for _, ref := range extra {
		if sum, ok := sums[ref]; ok {
			field("sha256:" + sum)
		} else {
			field("url:" + ref)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func badReference() error {
	return invalid("reference_image_ids", "reference_image_ids names an upload that does not exist or is not yours; upload the images with POST /api/v1/uploads and use the ids it answers.")
}

func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// requestFromForm reads the generate fields from multipart values. Reference ids may be
// repeated or comma-separated.
func requestFromForm(v map[string][]string) generateRequest {
	first := func(k string) string {
		if len(v[k]) > 0 {
			return v[k][0]
		}
		return ""
	}
	req := generateRequest{
		Resolution: first("resolution"), AspectRatio: first("aspect_ratio"),
		OutputFormat: first("output_format"), SafetyFilterLevel: first("safety_filter_level"),
		GenerationMode: first("generation_mode"),
	}
	if vals, ok := v["prompt"]; ok && len(vals) > 0 {
		req.Prompt = &vals[0]
	}
	if c := first("count"); c != "" {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil {
			n = -1 // answered as out of range
		}
		req.Count = &n
	}
	if vals, ok := v["prompts"]; ok {
		req.Prompts = vals
	}
	for _, raw := range v["reference_image_ids"] {
		for _, id := range strings.Split(raw, ",") {
			if id = strings.TrimSpace(id); id != "" {
				req.ReferenceImageIDs = append(req.ReferenceImageIDs, id)
			}
		}
	}
	return req
}

// validateGenerate applies defaults and checks every field, reporting all the bad ones
// at once. attached is the number of files sent with a multipart generate.
func validateGenerate(req generateRequest, attached int) (db.Params, error) {
	var bad []fieldError
	add := func(field, msg string) { bad = append(bad, fieldError{field, msg}) }
	oneOf := func(field, val, def string, allowed []string) string {
		val = strings.TrimSpace(val)
		if val == "" {
			return def
		}
		if !slices.Contains(allowed, val) {
			add(field, field+" must be one of: "+strings.Join(allowed, ", ")+" (got "+strconv.Quote(truncateRunes(val, 40))+").")
		}
		return val
	}

	p := db.Params{}
	if req.Prompt == nil {
		add("prompt", "prompt is required: describe the image to generate.")
	} else {
		p.Prompt = strings.TrimSpace(*req.Prompt)
		switch n := utf8.RuneCountInString(p.Prompt); {
		case n == 0:
			add("prompt", "prompt is empty: describe the image to generate.")
		case n > maxPromptChars:
			add("prompt", "prompt is too long: "+strconv.Itoa(n)+" characters, at most "+strconv.Itoa(maxPromptChars)+".")
		}
	}
	refs := make([]string, 0, len(req.ReferenceImageIDs))
	for _, id := range req.ReferenceImageIDs {
		id = strings.TrimSpace(id)
		if !validID(id) {
			add("reference_image_ids", "reference_image_ids must be upload ids from POST /api/v1/uploads (32 hex characters); "+strconv.Quote(truncateRunes(id, 40))+" is not one.")
			break
		}
		if !slices.Contains(refs, id) {
			refs = append(refs, id)
		}
	}
	total := len(refs) + attached
	defMode := db.ModeTextToImage
	if total > 0 {
		// A client that attaches references without naming the mode means image-to-image.
		defMode = db.ModeImageToImage
	}
	p.Mode = oneOf("generation_mode", req.GenerationMode, defMode, generationModes)
	p.Resolution = oneOf("resolution", req.Resolution, "2K", resolutions)
	defAspect := "1:1"
	if p.Mode == db.ModeImageToImage {
		defAspect = "match_input_image"
	}
	p.AspectRatio = oneOf("aspect_ratio", req.AspectRatio, defAspect, aspectRatios)
	p.OutputFormat = oneOf("output_format", req.OutputFormat, "jpg", outputFormats)
	p.SafetyFilterLevel = oneOf("safety_filter_level", req.SafetyFilterLevel, "block_only_high", safetyLevels)

	switch {
	case p.Mode == db.ModeImageToImage && total == 0:
		add("reference_image_ids", "image-to-image needs 1 to "+strconv.Itoa(maxReferenceImages)+" reference images: send reference_image_ids from POST /api/v1/uploads, or attach the files as images.")
	case total > maxReferenceImages:
		add("reference_image_ids", "At most "+strconv.Itoa(maxReferenceImages)+" reference images; got "+strconv.Itoa(total)+".")
	case p.Mode == db.ModeTextToImage && total > 0:
		add("generation_mode", "Reference images were sent but generation_mode is text-to-image; set generation_mode to image-to-image.")
	}
	if len(refs) > 0 {
		p.ReferenceIDs = refs
	}
	if len(bad) > 0 {
		detail := bad[0].Message
		if len(bad) > 1 {
			detail = "Some fields are not valid: " + bad[0].Message + " (and " + strconv.Itoa(len(bad)-1) + " more; see fields)."
		}
		return p, &apiError{Code: db.CodeInvalid, Detail: detail, Fields: bad}
	}
	return p, nil
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "..."
}

// storeDataURL stores the image of a data: URL (reference_images[i]) as an upload.
func (s *Server) storeDataURL(r *http.Request, userID int64, i int, ref string) (storedUpload, error) {
	field := "reference_images[" + strconv.Itoa(i) + "]"
	meta, data, ok := strings.Cut(ref[5:], ",")
	if !ok || !strings.HasSuffix(strings.ToLower(meta), ";base64") {
		return storedUpload{}, invalid(field, field+" must be a base64 data: URL (data:image/png;base64,...).")
	}
	if int64(base64.StdEncoding.DecodedLen(len(data))) > s.maxUploadBytes()+3 {
		return storedUpload{}, newError(db.CodeTooLarge, "The image "+field+" is larger than the limit of "+humanBytes(s.maxUploadBytes())+" per image.")
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(data); err != nil {
			return storedUpload{}, invalid(field, field+" is not valid base64.")
		}
	}
	u, err := s.storeUpload(r.Context(), userID, field, bytes.NewReader(b))
	if ae, ok := err.(*apiError); ok {
		for j := range ae.Fields {
			ae.Fields[j].Field = field
		}
	}
	return u, err
}

// checkReferenceURL accepts an https:// URL for Replicate to fetch. The server never
// fetches it itself, so only its form is checked.
func checkReferenceURL(i int, ref string) error {
	field := "reference_images[" + strconv.Itoa(i) + "]"
	u, err := url.Parse(ref)
	switch {
	case len(ref) > maxReferenceURL:
		return invalid(field, field+" is longer than "+strconv.Itoa(maxReferenceURL)+" characters.")
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(ref, " \t\r\n"):
		return invalid(field, field+" must be an https:// URL or a data: URL of a JPEG, PNG or WebP image.")
	}
	return nil
}
