package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// Queue is what the handlers ask of the job queue (jobs.Service). It is an interface so
// that the server never imports the workers' internals, and so tests can observe calls
// (a webhook's Wake) while the real service does the work.
type Queue interface {
	// Enqueue stores a pending generation and its job in one transaction and wakes a worker.
	Enqueue(ctx context.Context, userID int64, p db.Params) (*db.Generation, error)
	// EnqueueOnce is Enqueue under an idempotency key (db.CreateOptions.IdempotencyKey):
	// a key stored already answers its generation (Replayed) and queues nothing.
	// b is its price, payer and limits (db.CreateOptions.Budget; nil books nothing).
	EnqueueOnce(ctx context.Context, userID int64, p db.Params, key, requestHash string, b *db.Budget) (*db.Generation, error)
	// EnqueueBatch is EnqueueOnce for the 1 to db.MaxBatch generations of one request,
	// all or none (the pending cap and b's limits count them all); two or more form a
	// batch.
	EnqueueBatch(ctx context.Context, userID int64, ps []db.Params, key, requestHash string, b *db.Budget) ([]*db.Generation, error)
	// CancelBatch cancels every pending or running generation of the user's batch.
	CancelBatch(ctx context.Context, userID int64, batchID string) error
	// RetryBatch re-queues every failed or canceled generation of the user's batch; b
	// reserves their cost together, as EnqueueBatch's.
	RetryBatch(ctx context.Context, userID int64, batchID string, b *db.Budget) ([]db.Generation, error)
	// SetQueuePaused pauses or resumes the user's own queue.
	SetQueuePaused(ctx context.Context, userID int64, paused bool) (db.QueueState, error)
	// Cancel stops the user's pending or running generation (at Replicate too) and keeps
	// its row; a finished one is db.ErrConflict.
	Cancel(ctx context.Context, userID int64, id string) (*db.Generation, error)
	// Delete cancels the generation if needed, removes the row and its files.
	Delete(ctx context.Context, userID int64, id string) error
	// Retry re-queues a failed or canceled generation; anything else is db.ErrConflict.
	// b reserves the run's cost, as EnqueueOnce's.
	Retry(ctx context.Context, userID int64, id string, b *db.Budget) (*db.Generation, error)
	// Wake tells the worker following predictionID to look at it now (a webhook came).
	Wake(predictionID string)
}

// view is what g's answer adds for its reader now (db.View): signed URLs are made once
// per call with the same expiry bucket, so a list of 100 costs 200 HMACs and no queries.
func (s *Server) view(g *db.Generation) db.View {
	v := db.View{QueuePosition: g.QueuePosition, QueuePaused: g.QueuePaused, PriceUSD: s.prices(context.Background()).Price(g.Resolution)}
	if g.Status == db.StatusCompleted && g.ImageKey != "" {
		v.ImageURL = s.signedURL(kindImage, g.ID, g.UserID)
		if g.ThumbKey != "" {
			v.ThumbnailURL = s.signedURL(kindThumb, g.ID, g.UserID)
		}
	}
	v.ReferenceURLs = s.referenceURLs(g.ReferenceIDs, g.UserID)
	return v
}

// referenceURLs links a generation's references, in their order, so a page can show
// them: an upload by its signed URL, an https:// reference as it is.
func (s *Server) referenceURLs(refs []string, userID int64) []string {
	if len(refs) == 0 {
		return nil
	}
	out := make([]string, len(refs))
	for i, ref := range refs {
		if strings.HasPrefix(ref, "https://") {
			out[i] = ref
		} else {
			out[i] = s.signedURL(kindUpload, ref, userID)
		}
	}
	return out
}

// genID reads and checks the route's id. A malformed id is answered like a missing one:
// it cannot name anything.
func genID(ps httprouter.Params) (string, error) {
	id := ps.ByName("id")
	if !validID(id) {
		return "", notFound("No generation with id " + strconv.Quote(id) + ".")
	}
	return id, nil
}

// validID: ids are 32 lowercase hex characters (db.NewID).
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// genError names the generation in the queue's and db's errors about it: the code says
// what refused (generation_finished, generation_not_retryable, generation_stopping, ...),
// the db's reason says why in words; fail maps the code to the status.
func genError(id string, err error) error {
	code := db.CodeOf(err)
	switch code.Kind() {
	case db.KindNotFound:
		return notFound("No generation with id " + strconv.Quote(id) + ".")
	case db.KindConflict:
		reason := db.ReasonOf(err)
		if reason == "" {
			reason = "it cannot be changed in its current state"
		}
		return &apiError{Code: code, Detail: "Generation " + id + ": " + reason + ".", Err: err}
	}
	return err
}

// generation reads the caller's generation named by the route's id.
func (s *Server) generation(r *http.Request, p *principal, ps httprouter.Params) (*db.Generation, error) {
	id, err := genID(ps)
	if err != nil {
		return nil, err
	}
	g, err := s.db.GetGeneration(r.Context(), p.ID, id)
	if err != nil {
		return nil, genError(id, err)
	}
	return g, nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	g, err := s.generation(r, p, ps)
	if err != nil {
		return err
	}
	s.writeGeneration(w, http.StatusOK, g)
	return nil
}

// statusOriginal answers GET /api/v1/images/{id}, where the original service's clients
// read one generation: the status answer, plus the original's names for two of its
// fields, result_url (image_url) and error_message (error).
func (s *Server) statusOriginal(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	g, err := s.generation(r, p, ps)
	if err != nil {
		return err
	}
	v := s.view(g)
	writeJSONBytes(w, http.StatusOK, func(b []byte) []byte {
		b = db.AppendGeneration(b, g, &v)
		b = append(b[:len(b)-1], `,"result_url":`...) // reopen the object
		b = appendOptString(b, v.ImageURL)
		b = append(b, `,"error_message":`...)
		b = appendOptString(b, g.Error)
		return append(b, '}')
	})
	return nil
}

// writeGeneration answers g as the API shows it (db.AppendGeneration).
func (s *Server) writeGeneration(w http.ResponseWriter, status int, g *db.Generation) {
	v := s.view(g)
	writeJSONBytes(w, status, func(b []byte) []byte { return db.AppendGeneration(b, g, &v) })
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	q := r.URL.Query()
	f := db.ListFilter{Limit: 20, Cursor: q.Get("cursor"), Status: q.Get("status")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return invalid("limit", "limit must be a whole number from 1 to 100.")
		}
		f.Limit = n
	}
	switch f.Status {
	case "", db.StatusPending, db.StatusRunning, db.StatusCompleted, db.StatusFailed, db.StatusCanceled:
	default:
		return invalid("status", "status must be one of: pending, running, completed, failed, canceled.")
	}
	if err := listFilters(q, &f); err != nil {
		return err
	}
	items, next, err := s.db.ListGenerations(r.Context(), p.ID, f)
	switch {
	case db.CodeOf(err) == db.CodeInvalidCursor:
		ae := invalid("cursor", "cursor is not one this server gave out; start again without it.")
		ae.Code = db.CodeInvalidCursor
		return ae
	case err != nil:
		return err
	}
	writeJSONBytes(w, http.StatusOK, func(b []byte) []byte {
		return s.appendList(b, items, next)
	})
	return nil
}

func (s *Server) deleteGeneration(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := genID(ps)
	if err != nil {
		return err
	}
	if err := s.queue.Delete(r.Context(), p.ID, id); err != nil {
		return genError(id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := genID(ps)
	if err != nil {
		return err
	}
	g, err := s.queue.Cancel(r.Context(), p.ID, id)
	if err != nil {
		return genError(id, err)
	}
	s.writeGeneration(w, http.StatusOK, g)
	return nil
}

func (s *Server) retry(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := genID(ps)
	if err != nil {
		return err
	}
	if err := s.requireAPIKey(p); err != nil {
		return err
	}
	cur, err := s.db.GetGeneration(r.Context(), p.ID, id)
	if err != nil {
		return genError(id, err)
	}
	b, err := s.budget(r.Context(), p.User, cur.Resolution)
	if err != nil {
		return err
	}
	g, err := s.queue.Retry(r.Context(), p.ID, id, b)
	if err != nil {
		return genError(id, err)
	}
	s.writeGeneration(w, http.StatusAccepted, g)
	return nil
}
