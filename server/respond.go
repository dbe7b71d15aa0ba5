package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// apiError is an error with the HTTP status and the sentence a person reads. Handlers
// return these; one place (fail) turns them into responses and logs server faults, so
// handlers never log and answer separately.
type apiError struct {
	Status     int
	Detail     string
	Fields     []fieldError  // for 422: which fields, and what is allowed
	RetryAfter time.Duration // for 429 and 503
	Err        error         // the cause, logged for 5xx, never sent
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Detail }
func (e *apiError) Unwrap() error { return e.Err }

func badRequest(detail string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Detail: detail}
}
func unauthorized(detail string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Detail: detail}
}
func forbidden(detail string) *apiError {
	return &apiError{Status: http.StatusForbidden, Detail: detail}
}
func notFound(detail string) *apiError { return &apiError{Status: http.StatusNotFound, Detail: detail} }
func conflict(detail string) *apiError { return &apiError{Status: http.StatusConflict, Detail: detail} }

// invalid is a 422 naming one field.
func invalid(field, message string) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Detail: message, Fields: []fieldError{{field, message}}}
}

func internal(err error) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Detail: "Internal server error; the problem was logged. Try again, and tell the administrator if it persists.", Err: err}
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// fail answers err. An *apiError is sent as it is; anything else is an internal error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = internal(err)
	}
	if ae.Status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", requestID(r.Context()), "status", ae.Status, "err", ae.Err)
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
	}
	body := map[string]any{"detail": ae.Detail}
	if len(ae.Fields) > 0 {
		body["fields"] = ae.Fields
	}
	writeJSON(w, ae.Status, body)
}

// handlerFunc is a handler that returns its error; see (*Server).h.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) wrap(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}
