package server

import (
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// writeBatchAnswer answers a generate that asked for count or prompts: the first
// generation's object, where a script written for one generation reads image_id,
// status and queue_position, with "generations" added: every generation made, in order
// (each with the batch_id they share when there are two or more).
func (s *Server) writeBatchAnswer(w http.ResponseWriter, status int, gs []*db.Generation) {
	views := make([]db.View, len(gs))
	for i, g := range gs {
		views[i] = s.view(g)
	}
	writeJSONBytes(w, status, func(b []byte) []byte {
		b = db.AppendGeneration(b, gs[0], &views[0])
		b = append(b[:len(b)-1], `,"generations":[`...) // reopen the object
		for i, g := range gs {
			if i > 0 {
				b = append(b, ',')
			}
			b = db.AppendGeneration(b, g, &views[i])
		}
		return append(b, "]}"...)
	})
}

// writeBatch answers a batch: {"batch_id", "items": its generations in order}.
func (s *Server) writeBatch(w http.ResponseWriter, status int, batchID string, gs []db.Generation) {
	writeJSONBytes(w, status, func(b []byte) []byte {
		b = append(b, `{"batch_id":`...)
		b = appendOptString(b, batchID)
		b = append(b, `,"items":[`...)
		for i := range gs {
			if i > 0 {
				b = append(b, ',')
			}
			v := s.view(&gs[i])
			b = db.AppendGeneration(b, &gs[i], &v)
		}
		return append(b, "]}"...)
	})
}

// batchID reads and checks the route's batch id; a malformed one is answered like a
// missing one.
func batchID(ps httprouter.Params) (string, error) {
	id := ps.ByName("id")
	if !validID(id) {
		return "", batchNotFound(id)
	}
	return id, nil
}

func batchNotFound(id string) error {
	return notFound("No batch with id " + strconv.Quote(id) + ".")
}

// batchError names the batch in the store's errors about it, as genError does a
// generation.
func batchError(id string, err error) error {
	code := db.CodeOf(err)
	switch code.Kind() {
	case db.KindNotFound:
		return batchNotFound(id)
	case db.KindConflict:
		reason := db.ReasonOf(err)
		if reason == "" {
			reason = "it cannot be changed in its current state"
		}
		return &apiError{Code: code, Detail: "Batch " + id + ": " + reason + ".", Err: err}
	}
	return err
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := batchID(ps)
	if err != nil {
		return err
	}
	gs, err := s.db.Batch(r.Context(), p.ID, id)
	if err != nil {
		return batchError(id, err)
	}
	s.writeBatch(w, http.StatusOK, id, gs)
	return nil
}

func (s *Server) cancelBatch(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := batchID(ps)
	if err != nil {
		return err
	}
	if err := s.queue.CancelBatch(r.Context(), p.ID, id); err != nil {
		return batchError(id, err)
	}
	gs, err := s.db.Batch(r.Context(), p.ID, id)
	if err != nil {
		return batchError(id, err)
	}
	s.writeBatch(w, http.StatusOK, id, gs)
	return nil
}

func (s *Server) retryBatch(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	id, err := batchID(ps)
	if err != nil {
		return err
	}
	if err := s.requireAPIKey(p); err != nil {
		return err
	}
	cur, err := s.db.Batch(r.Context(), p.ID, id)
	if err != nil {
		return batchError(id, err)
	}
	// A batch shares its settings: one image's price and payer for all.
	b, err := s.budget(r.Context(), p.User, cur[0].Resolution)
	if err != nil {
		return err
	}
	gs, err := s.queue.RetryBatch(r.Context(), p.ID, id, b)
	if err != nil {
		return batchError(id, err)
	}
	s.writeBatch(w, http.StatusAccepted, id, gs)
	return nil
}

// queueStateJSON is the user's own queue as the API shows it.
type queueStateJSON struct {
	Paused  bool `json:"paused"`
	Waiting int  `json:"waiting"`
	Running int  `json:"running"`
}

func (s *Server) writeQueueState(w http.ResponseWriter, st db.QueueState) {
	writeJSON(w, http.StatusOK, queueStateJSON{Paused: st.Paused, Waiting: st.Waiting, Running: st.Running})
}

func (s *Server) queueState(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	st, err := s.db.QueueState(r.Context(), p.ID)
	if err != nil {
		return err
	}
	s.writeQueueState(w, st)
	return nil
}

// pauseQueue and resumeQueue hold or release the user's own pending generations.
func (s *Server) pauseQueue(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	st, err := s.queue.SetQueuePaused(r.Context(), p.ID, true)
	if err != nil {
		return err
	}
	s.writeQueueState(w, st)
	return nil
}

func (s *Server) resumeQueue(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	st, err := s.queue.SetQueuePaused(r.Context(), p.ID, false)
	if err != nil {
		return err
	}
	s.writeQueueState(w, st)
	return nil
}

// moveQueued answers POST /api/v1/queue/front/:id and /queue/back/:id: the generation,
// with its new queue position.
func (s *Server) moveQueued(front bool) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
		id, err := genID(ps)
		if err != nil {
			return err
		}
		g, err := s.db.MoveQueued(r.Context(), p.ID, id, front)
		if err != nil {
			return genError(id, err)
		}
		s.writeGeneration(w, http.StatusOK, g)
		return nil
	}
}
