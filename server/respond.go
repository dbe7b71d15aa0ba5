package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"nanobanana/db"
)

// apiError is an error answer: a code from db's catalogue (db/errors.go), which alone
// decides the HTTP status (httpStatus), and the sentence a person reads. Handlers return
// these, or db's errors as they are; one place (fail) turns them into responses and logs
// server faults, so handlers never log and answer separately.
type apiError struct {
	Code       db.Code
	Detail     string
	Fields     []fieldError  // for 422: which fields, and what is allowed
	RetryAfter time.Duration // for 429 and 503; conflicts that clear by themselves get retryAfter's
	Err        error         // the cause, logged for 5xx, never sent
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Detail }
func (e *apiError) Unwrap() error { return e.Err }

// Status is the HTTP status the error is answered with.
func (e *apiError) Status() int { return httpStatus(e.Code) }

// newError is an error answer of code; the constructors below name the common ones.
func newError(code db.Code, detail string) *apiError {
	return &apiError{Code: code, Detail: detail}
}

func badRequest(detail string) *apiError   { return newError(db.CodeBadRequest, detail) }
func badJSON(detail string) *apiError      { return newError(db.CodeBadJSON, detail) }
func unauthorized(detail string) *apiError { return newError(db.CodeUnauthorized, detail) }
func forbidden(detail string) *apiError    { return newError(db.CodeForbidden, detail) }
func notFound(detail string) *apiError     { return newError(db.CodeNotFound, detail) }

// invalid is a 422 naming one field.
func invalid(field, message string) *apiError {
	return &apiError{Code: db.CodeInvalid, Detail: message, Fields: []fieldError{{field, message}}}
}

// tooLarge is the 413 of a body over limit bytes.
func tooLarge(limit int64) *apiError {
	return newError(db.CodeTooLarge, "The request body is too large; the limit is "+humanBytes(limit)+".")
}

func internal(err error) *apiError {
	return &apiError{Code: db.CodeInternal, Detail: "Internal server error; the problem was logged. Try again, and tell the administrator if it persists.", Err: err}
}

// httpStatus is the one place a code becomes an HTTP status: its kind decides, except for
// the few codes HTTP has a status of its own for.
func httpStatus(code db.Code) int {
	switch code {
	case db.CodeBadJSON, db.CodeBadRequest:
		return http.StatusBadRequest
	case db.CodeNoAPIKey:
		return http.StatusBadRequest // API.md: a generate with no key anywhere is a 400
	case db.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case db.CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	}
	switch code.Kind() {
	case db.KindInvalid:
		return http.StatusUnprocessableEntity
	case db.KindUnauthorized:
		return http.StatusUnauthorized
	case db.KindForbidden:
		return http.StatusForbidden
	case db.KindNotFound:
		return http.StatusNotFound
	case db.KindConflict:
		return http.StatusConflict
	case db.KindLimit:
		return http.StatusTooManyRequests
	case db.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case db.KindUnavailable:
		return http.StatusServiceUnavailable
	case db.KindUpstream:
		return http.StatusBadGateway
	case db.KindTimeout:
		return http.StatusRequestTimeout
	case db.KindFull:
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

// retryAfter is how soon a refusal of code clears by itself when nothing else says:
// a retry right after a cancel waits while the worker lets go of the run.
func retryAfter(code db.Code) time.Duration {
	if code == db.CodeStillStopping {
		return 2 * time.Second
	}
	return 0
}

// answerOf is the one place an error becomes an answer: an *apiError as it is; an error
// of db's catalogue with its code and its reason as the sentence (a handler that knows
// the resource names it first, as genError does); anything else is internal.
func answerOf(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var de *db.Error
	if errors.As(err, &de) && de.Code.Kind() != db.KindInternal {
		return &apiError{Code: de.Code, Detail: sentence(de.Reason, de.Code), Err: err}
	}
	return internal(err)
}

// sentence makes a db reason ("it is already completed") a sentence; a bare code (a
// sentinel such as db.ErrNotFound) gets its kind's.
func sentence(reason string, code db.Code) string {
	if reason == "" {
		switch code.Kind() {
		case db.KindNotFound:
			return "Not found: it does not exist or is not yours."
		case db.KindConflict:
			return "The change conflicts with the current state; reload and try again."
		}
		return "The request was refused (" + string(code) + ")."
	}
	reason = strings.ToUpper(reason[:1]) + reason[1:]
	if !strings.HasSuffix(reason, ".") {
		reason += "."
	}
	return reason
}

// errorJSON is the body of every error answer: detail (FastAPI's field name, which the
// seed's clients read), the stable code, and for 422 the fields.
type errorJSON struct {
	Detail string       `json:"detail"`
	Code   db.Code      `json:"code"`
	Fields []fieldError `json:"fields,omitempty"`
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

// fail answers err (see answerOf) and logs server faults with the request's attributes.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := answerOf(err)
	status := ae.Status()
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", requestID(r.Context()), "status", status, "code", ae.Code, "err", ae.Err)
	}
	wait := ae.RetryAfter
	if wait == 0 {
		now := time.Now
		if s.now != nil {
			now = s.now
		}
		wait = spendingRetryAfter(err, now())
	}
	if wait == 0 {
		wait = retryAfter(ae.Code)
	}
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
	if ae.Code == db.CodeRequestTimeout {
		// The rest of the body is not worth waiting for.
		w.Header().Set("Connection", "close")
	}
	w.Header().Add("Vary", "Accept-Language")
	if wantsRussian(r) {
		w.Header().Set("Content-Language", "ru")
	}
	writeJSON(w, status, errorJSON{Detail: localize(r, ae), Code: ae.Code, Fields: ae.Fields})
}
