package jobs

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"nanobanana/db"
	"nanobanana/replicate"
	"nanobanana/storage"
	"nanobanana/storage/imaging"
)

// Messages for outcomes that are ours rather than Replicate's.
const (
	msgNoToken      = "Add your Replicate API key in Settings (or ask the administrator to configure one), then retry this generation."
	msgNoOutput     = "Replicate reported success but returned no image; retry this generation."
	msgNotImage     = "Replicate returned a file that is not a JPEG, PNG or WebP image; retry this generation."
	msgBadImage     = "The image from Replicate could not be read or is too large to process; retry this generation."
	msgRefMissing   = "A reference image of this generation no longer exists; upload it again and start a new generation."
	msgStoreFailed  = "The image could not be stored after several attempts; check the server's storage, then retry."
	msgStoppedThere = "The generation was stopped at Replicate before it finished (it ran past the time limit or was canceled there); retry it."

	// While a succeeded prediction's output waits to be stored (%s: until when Replicate
	// keeps it), and when it could not be in time.
	msgHeldFull  = "The server's storage is full: this image is kept at Replicate until %s and will be saved as soon as there is room."
	msgHeld      = "The image could not be saved yet; it is kept at Replicate until %s, and saving is tried again until then."
	msgLostFull  = "The server's storage stayed full until Replicate deleted this image (an hour after it was made), so it could not be saved; retry to generate it again."
	msgLost      = "The image could not be saved before Replicate deleted it (an hour after it was made); retry to generate it again."
	msgFullNoNew = "The server's storage is full, so this generation was not started (nothing was charged); retry it once the administrator has freed space."
	msgPutOff    = "Waiting for room: the server's storage is full, so this generation starts (and is charged) only once there is room again."
)

// holdError: the prediction succeeded but its output could not be stored (the disk is
// full, the download broke, the database refused): the job waits in the queue and tries
// again, for as long as Replicate keeps the output (until), however many attempts it
// takes. Giving up earlier would throw away an image already paid for.
type holdError struct {
	cause error
	full  bool // storage (files or database) had no room
	until time.Time
}

func (e *holdError) Error() string { return "hold output: " + e.cause.Error() }
func (e *holdError) Unwrap() error { return e.cause }

// putOffError: the job must wait for something outside it (room to store an image)
// before it may start: back to the queue without counting the attempt, until the retry
// window ends.
type putOffError struct {
	cause  error
	after  time.Duration
	why    string // for the user, meanwhile
	giveUp string
}

func (e *putOffError) Error() string { return "put off: " + e.cause.Error() }
func (e *putOffError) Unwrap() error { return e.cause }

// errStorageFull: a new prediction is not created while storage was found full lately.
var errStorageFull = errors.New("storage full: no new prediction until there is room")

// dataURLMax is the size up to which a reference image is sent inline; larger ones go
// through Replicate's files API, as Replicate advises.
const dataURLMax = 256 << 10

// retryError asks for another attempt later. newPrediction: the previous prediction
// ended without a result (or none was made), so the next attempt may create one.
type retryError struct {
	cause         error
	after         time.Duration // at least this long (Retry-After), 0 = backoff only
	newPrediction bool
	giveUp        string // the sentence for the user if no retry is left
	// mayExist is when a create whose prediction may exist was sent (a create whose
	// answer was lost, or a reconciliation looking for one that failed): such a job is
	// retried for as long as that prediction could be running or keep its output, not
	// just for its attempts, since giving up could throw away an image Replicate makes
	// and charges for. Zero otherwise.
	mayExist time.Time
}

func (e *retryError) Error() string { return "retry: " + e.cause.Error() }
func (e *retryError) Unwrap() error { return e.cause }

// failError ends the job with a sentence for the user.
type failError struct {
	msg   string
	cause error
}

func (e *failError) Error() string {
	if e.cause != nil {
		return "fail: " + e.cause.Error()
	}
	return "fail: " + e.msg
}
func (e *failError) Unwrap() error { return e.cause }

var errUserCanceled = errors.New("canceled by the user")

func fail(msg string, cause error) error { return &failError{msg: msg, cause: cause} }

// classify turns a Replicate call's error into the job's next step.
func classify(err error, newPrediction bool) error {
	switch {
	case replicate.IsPermanent(err):
		return fail(replicate.UserMessage(err), err)
	case replicate.IsTransient(err):
		return &retryError{cause: err, after: replicate.RetryAfter(err), newPrediction: newPrediction,
			giveUp: giveUpMessage(err)}
	case errors.Is(err, context.Canceled):
		return err
	}
	return fail(replicate.UserMessage(err), err)
}

// mayExist marks a retry of a job whose prediction may exist, sent at since.
func mayExist(err error, since time.Time) error {
	var re *retryError
	if errors.As(err, &re) {
		re.mayExist = since
	}
	return err
}

func giveUpMessage(err error) string {
	var ae *replicate.Error
	var pf *replicate.PredictionFailure
	switch {
	case errors.As(err, &ae) && ae.StatusCode == 429:
		return "Replicate kept throttling requests for this account; try again later."
	case errors.As(err, &pf) && pf.Status == replicate.StatusAborted:
		return "Replicate could not start the generation in time, several times; try again later."
	case errors.As(err, &pf):
		return "Replicate had repeated temporary problems running the model; try again later."
	case replicate.IsTransient(err):
		return "Replicate could not be reached after several attempts; try again later."
	}
	return msgStoreFailed
}

// attempt runs one claim of a job. It returns nil when the job was completed (written
// here), or an error that finish turns into the next state.
func (s *Service) attempt(ctx context.Context, r *run) error {
	j := r.job
	if j.CancelRequested {
		return errUserCanceled
	}
	// A generation this claim started came back with the job: it was running, not
	// canceled, when the claim committed, and a cancel since then has reached this run
	// (Cancel and fill meet under s.mu, see earlyCancels). Otherwise read it.
	g := j.Generation
	if g == nil {
		var err error
		g, err = s.o.DB.GenerationForJob(ctx, j.GenerationID)
		if errors.Is(err, db.ErrNotFound) {
			return db.ErrLeaseLost // deleted meanwhile
		}
		if err != nil {
			return err
		}
	}
	if g.Status == db.StatusCanceled || r.userCancel.Load() {
		return errUserCanceled
	}
	token, err := s.token(ctx, g.UserID)
	if errors.Is(err, ErrNoToken) {
		return fail(msgNoToken, err)
	}
	if err != nil {
		return err
	}

	var p *replicate.Prediction
	predID := j.PredictionID
	submitAt := j.SubmitStartedAt
	if predID == "" && j.Phase == db.PhaseSubmitting {
		// An earlier attempt may have created a prediction whose answer never came:
		// find it before creating anything.
		p, err = s.reconcile(ctx, token, g, j)
		if err != nil {
			return mayExist(classify(err, false), cmp.Or(submitAt, j.UpdatedAt))
		}
		if p != nil {
			if err := s.o.DB.SetPrediction(ctx, j.ID, r.owner, g.ID, p.ID); err != nil {
				if errors.Is(err, db.ErrCancelRequested) {
					s.cancelPrediction(context.WithoutCancel(ctx), g.UserID, p.ID)
					return errUserCanceled
				}
				return err
			}
			predID = p.ID
			s.track(r, predID)
			s.log.Info("adopted the prediction of an interrupted create", "generation", g.ID, "prediction", predID)
		}
	}
	if predID == "" {
		if s.storageFull() {
			// Its image could not be stored either: do not pay for it yet.
			return &putOffError{cause: errStorageFull, after: s.o.RetryMax, why: msgPutOff, giveUp: msgFullNoNew}
		}
		in, err := s.buildInput(ctx, token, g)
		if err != nil {
			return err
		}
		if j.SubmitClaimed {
			// The claim committed 'submitting' already (one commit fewer per job).
			submitAt = j.SubmitStartedAt
		} else {
			submitAt = s.o.Now()
			if err := s.o.DB.MarkSubmitting(ctx, j.ID, r.owner, submitAt); err != nil {
				return err
			}
		}
		co := replicate.CreateOptions{Wait: s.o.Wait, CancelAfter: s.o.CancelAfter}
		if s.o.WebhookURL != "" {
			co.Webhook, co.WebhookEvents = s.o.WebhookURL, []string{"completed"}
		}
		// A user's cancel must not abort the create mid-flight (that would leave an
		// unknown, paid prediction); it is honored as soon as the id is known.
		p, err = s.o.Replicate.Create(ctx, token, in, co)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err() // phase stays 'submitting': the next holder reconciles
			}
			// A network error or a 5xx may hide a created prediction: keep 'submitting'
			// so the next attempt looks for it. A 429 or 4xx created nothing.
			var ae *replicate.Error
			maybeCreated := !errors.As(err, &ae) || ae.StatusCode >= 500
			if maybeCreated {
				return mayExist(classify(err, false), submitAt)
			}
			return classify(err, true)
		}
		if err := s.o.DB.SetPrediction(ctx, j.ID, r.owner, g.ID, p.ID); err != nil {
			// Nobody will ever poll this prediction: stop it so it is not paid for nothing.
			s.cancelPrediction(context.WithoutCancel(ctx), g.UserID, p.ID)
			if errors.Is(err, db.ErrCancelRequested) {
				return errUserCanceled // canceled while the create was under way: let go
			}
			return err
		}
		predID = p.ID
		s.track(r, predID)
	}
	if submitAt.IsZero() {
		submitAt = s.o.Now()
	}

	p, err = s.poll(ctx, r, token, predID, p, submitAt)
	if err != nil {
		return err
	}
	switch p.Status {
	case replicate.StatusSucceeded:
		if s.storeOutput != nil {
			return s.storeOutput(ctx, r, g, token, p)
		}
		return s.store(ctx, r, g, token, p)
	case replicate.StatusCanceled:
		return fail(msgStoppedThere, replicate.PredictionError(p))
	default: // failed, aborted
		perr := replicate.PredictionError(p)
		// E6716, PA and aborted: the prediction ended without an image (aborted ones are
		// not charged at all), so creating a new one is a retry, not paying twice.
		if p.Status == replicate.StatusAborted {
			// Never started: Replicate does not charge it, so neither do the books.
			if err := s.o.DB.Unbook(context.WithoutCancel(ctx), j.ID, r.owner); err != nil {
				s.log.Warn("unbook an aborted prediction", "generation", g.ID, "err", err)
			}
		}
		if p.Status == replicate.StatusAborted || replicate.IsTransient(perr) {
			return &retryError{cause: perr, newPrediction: true, giveUp: giveUpMessage(perr)}
		}
		return fail(replicate.UserMessage(perr), perr)
	}
}

func (s *Service) track(r *run, predID string) {
	r.predID.Store(predID)
	s.mu.Lock()
	s.byPred[predID] = r
	s.mu.Unlock()
}

// poll waits until the prediction is terminal, with a growing delay between Gets, woken
// early by Wake (webhooks) and by a user's cancel. It gives up a little after the
// create's Cancel-After: Replicate has ended the prediction by then.
//
// A resumed job (p nil) looks at once, before any deadline: its prediction may have
// ended long ago, and one that succeeded has an output to store while Replicate keeps
// it (Job.OutputUntil, which extends the deadline).
func (s *Service) poll(ctx context.Context, r *run, token, predID string, p *replicate.Prediction, submitAt time.Time) (*replicate.Prediction, error) {
	deadline := submitAt.Add(s.o.CancelAfter + 2*time.Minute)
	if r.job.OutputUntil.After(deadline) {
		deadline = r.job.OutputUntil
	}
	delay := s.o.PollMin
	now := p == nil
	for p == nil || !p.Terminal() {
		if r.userCancel.Load() {
			return nil, errUserCanceled
		}
		if !now && s.o.Now().After(deadline) {
			s.cancelPrediction(ctx, r.job.UserID, predID)
			return nil, fail(msgStoppedThere, fmt.Errorf("prediction %s not finished by %s", predID, deadline))
		}
		if !now {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-r.poke:
				t.Stop()
				if r.userCancel.Load() {
					return nil, errUserCanceled
				}
			case <-t.C:
			}
			delay = min(delay*3/2, s.o.PollMax)
		}
		now = false
		q, err := s.o.Replicate.Get(ctx, token, predID)
		switch {
		case err == nil:
			p = q
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case replicate.IsPermanent(err):
			return nil, fail(replicate.UserMessage(err), err)
		default:
			// Keep polling: the prediction runs on regardless of our connection.
			delay = max(delay, min(replicate.RetryAfter(err), time.Minute))
			s.log.Warn("poll prediction", "prediction", predID, "err", err)
		}
	}
	if r.userCancel.Load() {
		return nil, errUserCanceled
	}
	return p, nil
}

// reconcile looks through the token's recent predictions for one this job created but
// never heard back about: same input, created around the recorded submit time, and not
// owned by another job. Among several (the same prompt queued twice) it takes the one
// created closest to the submit time.
func (s *Service) reconcile(ctx context.Context, token string, g *db.Generation, j db.Job) (*replicate.Prediction, error) {
	at := j.SubmitStartedAt
	if at.IsZero() {
		at = j.UpdatedAt
	}
	// Clocks differ; a create can take a while to arrive.
	from, to := at.Add(-2*time.Minute), at.Add(5*time.Minute)
	var best *replicate.Prediction
	cursor := ""
	for page := 0; page < 10; page++ {
		var preds []replicate.Prediction
		var next string
		err := s.patiently(ctx, func() (err error) {
			preds, next, err = s.o.Replicate.List(ctx, token, cursor)
			return err
		})
		if err != nil {
			return nil, err
		}
		older := false
		for i := range preds {
			p := &preds[i]
			if p.CreatedAt.Before(from) {
				older = true
				continue
			}
			if p.CreatedAt.After(to) || (p.Model != "" && p.Model != s.o.Replicate.Model()) {
				continue
			}
			if known, err := s.o.DB.PredictionKnown(ctx, p.ID); err != nil {
				return nil, err
			} else if known {
				continue
			}
			if !hasInput(p.Input) {
				// The list is not documented to carry each prediction's input (the API
				// reference shows it without); the prediction itself always does.
				var full *replicate.Prediction
				err := s.patiently(ctx, func() (err error) {
					full, err = s.o.Replicate.Get(ctx, token, p.ID)
					return err
				})
				if err != nil {
					return nil, err
				}
				p = full
			}
			if !inputMatches(p.Input, g) {
				continue
			}
			if best == nil || absDur(p.CreatedAt.Sub(at)) < absDur(best.CreatedAt.Sub(at)) {
				best = p
			}
		}
		if best != nil || older || next == "" {
			break
		}
		cursor = next
	}
	return best, nil
}

// patiently makes a call to Replicate again, a few times, when it fails in a way that
// passes (429, 5xx, network), waiting as asked if that is short. A reconciliation makes
// many calls and must see every candidate: one refused call would otherwise send the job
// to wait a backoff and start its search over.
func (s *Service) patiently(ctx context.Context, call func() error) error {
	var err error
	for range 4 {
		if err = call(); err == nil || !replicate.IsTransient(err) || ctx.Err() != nil {
			return err
		}
		wait := max(replicate.RetryAfter(err), s.o.PollMin)
		if wait > 5*time.Second {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return err
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// hasInput tells whether a listed prediction carries its input.
func hasInput(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return t != "" && t != "null" && t != "{}"
}

func inputMatches(raw json.RawMessage, g *db.Generation) bool {
	var in replicate.Input
	if len(raw) == 0 || json.Unmarshal(raw, &in) != nil {
		return false
	}
	return in.Prompt == g.Prompt && in.Resolution == g.Resolution && in.AspectRatio == g.AspectRatio &&
		in.OutputFormat == g.OutputFormat && in.SafetyFilterLevel == g.SafetyFilterLevel &&
		len(in.ImageInput) == len(g.ReferenceIDs)
}

// buildInput maps a generation onto the model's input, turning reference uploads into
// data: URLs (small ones) or Replicate file URLs.
func (s *Service) buildInput(ctx context.Context, token string, g *db.Generation) (replicate.Input, error) {
	in := replicate.Input{Prompt: g.Prompt, AspectRatio: g.AspectRatio, Resolution: g.Resolution,
		OutputFormat: g.OutputFormat, SafetyFilterLevel: g.SafetyFilterLevel}
	if len(g.ReferenceIDs) == 0 {
		return in, nil
	}
	// A reference is an upload id, or an https:// URL the user named (the original
	// service's reference_images), handed to Replicate as it is: this server never
	// fetches it.
	var ids []string
	for _, ref := range g.ReferenceIDs {
		if !strings.HasPrefix(ref, "https://") {
			ids = append(ids, ref)
		}
	}
	ups, err := s.o.DB.GetUploads(ctx, g.UserID, ids)
	if errors.Is(err, db.ErrNotFound) {
		return in, fail(msgRefMissing, err)
	}
	if err != nil {
		return in, err
	}
	next := 0
	for _, ref := range g.ReferenceIDs {
		if strings.HasPrefix(ref, "https://") {
			in.ImageInput = append(in.ImageInput, ref)
			continue
		}
		uri, err := s.referenceURI(ctx, token, ups[next])
		next++
		if err != nil {
			return in, err
		}
		in.ImageInput = append(in.ImageInput, uri)
	}
	return in, nil
}

func (s *Service) referenceURI(ctx context.Context, token string, u db.Upload) (string, error) {
	obj, err := s.o.Storage.Open(ctx, u.Key)
	if errors.Is(err, storage.ErrNotFound) {
		return "", fail(msgRefMissing, err)
	}
	if err != nil {
		return "", err
	}
	defer obj.Close()
	if u.Bytes <= dataURLMax {
		b, err := io.ReadAll(io.LimitReader(obj, dataURLMax+1))
		if err != nil {
			return "", err
		}
		return "data:" + u.ContentType + ";base64," + base64.StdEncoding.EncodeToString(b), nil
	}
	ext := map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}[u.ContentType]
	f, err := s.o.Replicate.UploadFile(ctx, token, u.ID+ext, u.ContentType, obj)
	if err != nil {
		return "", classify(err, true)
	}
	return f.URLs.Get, nil
}

// store downloads the output at once (Replicate deletes it after an hour), checks it is
// an image from its bytes, stores it and its thumbnail, and only then marks the
// generation completed.
//
// No 'downloading' phase is committed first: nothing reads it. A job with a prediction
// id always resumes by getting that prediction, so a restart mid-download downloads
// again (or fails with the expired-output message once Replicate has removed it), and
// a lost lease is caught by keepLease and by CompleteJob's lease check.
func (s *Service) store(ctx context.Context, r *run, g *db.Generation, token string, p *replicate.Prediction) error {
	url := p.OutputURL()
	if url == "" {
		if p.DataRemoved {
			return fail(replicate.UserMessage(replicate.ErrOutputExpired), replicate.ErrOutputExpired)
		}
		return fail(msgNoOutput, errors.New("succeeded without output"))
	}
	// From here the image is paid for: a failure that may pass (no room, a broken
	// download, a database error) holds the job until Replicate deletes the output.
	until := s.outputUntil(p)
	hold := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		full := errors.Is(err, storage.ErrFull) || errors.Is(err, db.ErrStorageFull)
		if full {
			s.fullAt.Store(s.o.Now().UnixMilli())
		}
		return &holdError{cause: err, full: full, until: until}
	}
	rc, _, err := s.o.Replicate.Download(ctx, token, url, s.o.MaxOutputBytes)
	if err != nil {
		if errors.Is(err, replicate.ErrOutputExpired) || errors.Is(err, replicate.ErrOutputTooLarge) || replicate.IsPermanent(err) {
			return fail(replicate.UserMessage(err), err)
		}
		return hold(err)
	}
	defer rc.Close()
	head := make([]byte, imaging.SniffLen)
	n, err := io.ReadFull(rc, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return hold(&replicate.NetworkError{Op: "download output", Err: err})
	}
	head = head[:n]
	format, ok := imaging.Sniff(head)
	if !ok {
		return fail(msgNotImage, fmt.Errorf("output starts with %x", head))
	}
	key := fmt.Sprintf("u/%d/%s%s", g.UserID, g.ID, format.Ext())
	thumbKey := fmt.Sprintf("u/%d/%s_thumb.jpg", g.UserID, g.ID)
	sum := sha256.New()
	info, err := s.o.Storage.Put(ctx, key, io.TeeReader(io.MultiReader(bytes.NewReader(head), rc), sum), format.ContentType())
	if err != nil {
		if errors.Is(err, replicate.ErrOutputTooLarge) {
			return fail(replicate.UserMessage(err), err)
		}
		// No room, a broken download or a storage hiccup: the output is still at
		// Replicate for the hour, so try again.
		return hold(err)
	}
	im, thumb, err := s.inspectAndThumb(ctx, key)
	if err != nil {
		s.removeFiles(context.WithoutCancel(ctx), key)
		if errors.Is(err, imaging.ErrUnsupported) || errors.Is(err, imaging.ErrTooManyPixels) || errors.Is(err, errDecode) {
			return fail(msgBadImage, err)
		}
		return hold(err)
	}
	if _, err := s.o.Storage.Put(ctx, thumbKey, bytes.NewReader(thumb), "image/jpeg"); err != nil {
		s.removeFiles(context.WithoutCancel(ctx), key)
		return hold(err)
	}
	s.fullAt.Store(0) // there was room
	res := db.Result{ImageKey: key, ImageType: format.ContentType(), ThumbKey: thumbKey,
		Width: im.Width, Height: im.Height, Bytes: info.Size, SHA256: hex.EncodeToString(sum.Sum(nil)),
		Metrics: metricsJSON(p)}
	err = s.o.DB.CompleteJob(ctx, r.job.ID, r.owner, g.ID, res)
	if errors.Is(err, db.ErrLeaseLost) {
		// Canceled or deleted while we stored it: nobody will show these files. If the
		// lease went to another worker instead, the files are its too: leave them.
		cur, gerr := s.o.DB.GenerationForJob(context.WithoutCancel(ctx), g.ID)
		if errors.Is(gerr, db.ErrNotFound) || (gerr == nil && cur.Status == db.StatusCanceled) {
			s.removeFiles(context.WithoutCancel(ctx), key, thumbKey)
		}
		return err
	}
	if err != nil {
		// Stored, but not recorded (a full database): the files are overwritten by the
		// next try, which records them.
		return hold(err)
	}
	return nil
}

// outputUntil is when Replicate deletes p's output: OutputLifetime after it ended.
func (s *Service) outputUntil(p *replicate.Prediction) time.Time {
	end := p.CompletedAt
	if end.IsZero() {
		end = s.o.Now()
	}
	return end.Add(s.o.OutputLifetime)
}

// storageFull reports whether an output could not be stored for want of room lately
// (a minute: the held jobs' tries say it again while it lasts).
func (s *Service) storageFull() bool {
	at := s.fullAt.Load()
	return at != 0 && s.o.Now().UnixMilli()-at < time.Minute.Milliseconds()
}

var errDecode = errors.New("decode image")

// inspectAndThumb reads the stored image's header (pixel cap) and makes its thumbnail.
func (s *Service) inspectAndThumb(ctx context.Context, key string) (imaging.Info, []byte, error) {
	obj, err := s.o.Storage.Open(ctx, key)
	if err != nil {
		return imaging.Info{}, nil, err
	}
	defer obj.Close()
	im, err := imaging.Inspect(obj, s.o.MaxPixels)
	if err != nil {
		return im, nil, err
	}
	if _, err := obj.Seek(0, io.SeekStart); err != nil {
		return im, nil, err
	}
	var buf bytes.Buffer
	if _, err := imaging.Thumbnail(ctx, &buf, obj, imaging.ThumbOptions{MaxSide: s.o.ThumbSize, MaxPixels: s.o.MaxPixels}); err != nil {
		if ctx.Err() != nil {
			return im, nil, ctx.Err()
		}
		return im, nil, fmt.Errorf("%w: %w", errDecode, err)
	}
	return im, buf.Bytes(), nil
}

// finish writes the job's next state after an attempt. Writes use a context that
// survives Stop, so a job interrupted by shutdown is still handed back.
func (s *Service) finish(ctx, jctx context.Context, r *run, err error) {
	if err == nil || s.halted.Load() {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	j := r.job
	log := s.log.With("job", j.ID, "generation", j.GenerationID)
	var re *retryError
	var fe *failError
	var he *holdError
	var pe *putOffError
	switch {
	case errors.Is(err, db.ErrLeaseLost) || errors.Is(context.Cause(jctx), errLeaseLost):
		log.Info("job no longer ours; stopping", "err", err)
	case errors.Is(err, errUserCanceled) || r.userCancel.Load():
		if p, _ := r.predID.Load().(string); p != "" {
			s.cancelPrediction(wctx, j.UserID, p)
		}
		if ferr := s.o.DB.FinishCanceled(wctx, j.ID, r.owner); ferr != nil && !errors.Is(ferr, db.ErrLeaseLost) {
			log.Error("finish canceled job", "err", ferr)
		}
	case ctx.Err() != nil:
		// Shutting down: hand the job back; its phase and prediction id let the next
		// holder resume without creating anything new.
		if rerr := s.o.DB.ReleaseJob(wctx, j.ID, r.owner); rerr != nil && !errors.Is(rerr, db.ErrLeaseLost) {
			log.Warn("release job on shutdown (its lease will expire instead)", "err", rerr)
		}
	case errors.As(err, &fe):
		log.Info("generation failed", "reason", fe.msg, "err", fe.cause)
		s.failJob(wctx, r, fe.msg, err)
	case errors.As(err, &he):
		s.hold(wctx, r, he)
	case errors.As(err, &pe):
		s.putOff(wctx, r, pe)
	case errors.As(err, &re):
		s.retry(wctx, r, re)
	default:
		// Our own trouble (database, storage): retry like a transient error.
		s.retry(wctx, r, &retryError{cause: err, giveUp: msgStoreFailed})
	}
}

func (s *Service) failJob(ctx context.Context, r *run, msg string, cause error) {
	err := s.o.DB.FailJob(ctx, r.job.ID, r.owner, r.job.GenerationID, msg, cause.Error())
	if errors.Is(err, db.ErrLeaseLost) {
		// The user canceled meanwhile: the generation already says so.
		err = s.o.DB.FinishCanceled(ctx, r.job.ID, r.owner)
	}
	if err != nil && !errors.Is(err, db.ErrLeaseLost) {
		s.log.Error("fail job", "job", r.job.ID, "err", err)
	}
}

// backoff is the wait before a job's next attempt: exponential in its attempts, capped
// at RetryMax, jittered so throttled jobs do not return in lockstep.
func (s *Service) backoff(j db.Job) time.Duration {
	d := s.o.RetryBase << min(max(j.Attempts-1, 0), 20)
	d = min(d, s.o.RetryMax)
	return d/2 + rand.N(d/2+1)
}

// retry schedules the next attempt with jittered exponential backoff (at least what
// Replicate asked for), or gives up when the attempts or the retry window are spent.
// A job whose output waits to be stored (Job.OutputUntil) is bounded by that instead:
// its image is paid for.
func (s *Service) retry(ctx context.Context, r *run, re *retryError) {
	j := r.job
	d := max(s.backoff(j), re.after)
	now := s.o.Now()
	spent := j.Attempts >= j.MaxAttempts || now.Add(d).After(j.CreatedAt.Add(s.o.MaxRetryWindow))
	switch {
	case j.OutputUntil.After(now):
		spent = now.Add(d).After(j.OutputUntil)
	case !re.mayExist.IsZero():
		// A prediction this job may have created runs until Cancel-After at most, and
		// its output is kept an hour after: until then, finding it may save its image.
		spent = now.Add(d).After(re.mayExist.Add(s.o.CancelAfter + s.o.OutputLifetime))
	}
	if spent {
		s.log.Warn("giving up after retries", "job", j.ID, "attempts", j.Attempts, "err", re.cause)
		s.failJob(ctx, r, re.giveUp, re.cause)
		return
	}
	s.log.Info("retrying later", "job", j.ID, "in", d, "attempt", j.Attempts, "err", re.cause)
	err := s.o.DB.RetryLater(ctx, j.ID, r.owner, now.Add(d), re.cause.Error(), re.newPrediction)
	if err != nil && !errors.Is(err, db.ErrLeaseLost) {
		s.log.Error("schedule retry", "job", j.ID, "err", err)
	}
}

// putOff hands a job back to the queue to start later, its attempt not counted, or
// fails it once the retry window is spent.
func (s *Service) putOff(ctx context.Context, r *run, pe *putOffError) {
	j := r.job
	at := s.o.Now().Add(pe.after)
	if at.After(j.CreatedAt.Add(s.o.MaxRetryWindow)) {
		s.failJob(ctx, r, pe.giveUp, pe.cause)
		return
	}
	s.log.Info("putting off a job", "job", j.ID, "until", at, "why", pe.cause)
	err := s.o.DB.Wait(ctx, j.ID, r.owner, db.Wait{RunAfter: at, Message: pe.why, LastError: pe.cause.Error(), Uncounted: true})
	if err != nil && !errors.Is(err, db.ErrLeaseLost) {
		s.log.Error("put off job", "job", j.ID, "err", err)
	}
}

// hold puts a job whose paid output could not be stored back in the queue, with a
// sentence for its user, to try again after a backoff (it holds no worker meanwhile),
// for as long as Replicate keeps the output; then it fails, saying why.
func (s *Service) hold(ctx context.Context, r *run, he *holdError) {
	j := r.job
	d := s.backoff(j)
	now := s.o.Now()
	if now.Add(d).After(he.until) {
		msg := msgLost
		if he.full {
			msg = msgLostFull
		}
		s.log.Error("giving up a paid output: it could not be stored before Replicate deletes it",
			"job", j.ID, "generation", j.GenerationID, "until", he.until, "err", he.cause)
		s.failJob(ctx, r, msg, he.cause)
		return
	}
	msg := msgHeld
	if he.full {
		msg = msgHeldFull
	}
	msg = fmt.Sprintf(msg, he.until.UTC().Format("15:04 UTC"))
	s.log.Warn("output not stored; holding the job", "job", j.ID, "generation", j.GenerationID, "in", d,
		"until", he.until, "full", he.full, "err", he.cause)
	err := s.o.DB.Wait(ctx, j.ID, r.owner, db.Wait{RunAfter: now.Add(d), OutputUntil: he.until, Message: msg, LastError: he.cause.Error()})
	if err != nil && !errors.Is(err, db.ErrLeaseLost) {
		// Its lease will expire and the job run again, still held by OutputUntil if that
		// was recorded before.
		s.log.Error("hold job", "job", j.ID, "err", err)
	}
}

// metricsJSON is what the prediction's metrics say, as JSON for the generation; nil when
// Replicate reported none.
func metricsJSON(p *replicate.Prediction) []byte {
	if p == nil || p.Metrics.PredictTime <= 0 {
		return nil
	}
	b, _ := json.Marshal(p.Metrics)
	return b
}
