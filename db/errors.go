package db

import (
	"errors"
	"fmt"
)

// The error catalogue. Every error the product answers a request with carries a Code:
// a stable word a script or the frontend can act on, whatever the sentence says. Each
// code belongs to a Kind, and the Kind alone decides the HTTP status (server maps it in
// one function). Codes are added here, never renamed: clients depend on them. The server
// uses codes of this catalogue for its own refusals too (unauthorized, rate_limited, ...),
// so there is one list.

// Kind is the class of an error: what went wrong, independent of the resource.
type Kind int

const (
	KindInternal     Kind = iota // a fault of the server: logged, never detailed to the caller
	KindInvalid                  // the request is malformed or a value is out of range
	KindUnauthorized             // no valid credentials
	KindForbidden                // valid credentials, not allowed
	KindNotFound                 // no such thing, or not the caller's
	KindConflict                 // the thing is in a state that refuses the change
	KindLimit                    // a limit, quota or rate was reached
	KindTooLarge                 // the request body is too large
	KindUnavailable              // the server cannot do it right now (try again)
	KindUpstream                 // an outside service (Replicate) refused or failed
	KindTimeout                  // the client was too slow sending its request
	KindFull                     // the server's storage is full: nothing could be saved
)

// Code is a stable error code from the catalogue below.
type Code string

// The catalogue. Each code's kind is in codeKinds.
const (
	CodeInternal             Code = "internal"
	CodeInvalid              Code = "invalid"        // a field's value is not acceptable
	CodeBadJSON              Code = "bad_json"       // the body is not the JSON asked for
	CodeBadRequest           Code = "bad_request"    // the request as a whole is malformed
	CodeInvalidCursor        Code = "invalid_cursor" // a list cursor this server did not give out
	CodeUnauthorized         Code = "unauthorized"   // not signed in, or the token is invalid or expired
	CodeSessionEnded         Code = "session_ended"  // the token's session was ended (password change, sign-out, disabled)
	CodeBadCredentials       Code = "bad_credentials"
	CodeTokenReused          Code = "refresh_token_reused"
	CodeForbidden            Code = "forbidden"
	CodeRegistrationClosed   Code = "registration_closed"
	CodeNotFound             Code = "not_found"
	CodeNoRoute              Code = "no_route" // no such endpoint
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodeConflict             Code = "conflict"
	CodeUsernameTaken        Code = "username_taken"
	CodeEmailTaken           Code = "email_taken"
	CodeAlreadyFinished      Code = "generation_finished"      // cancel of a completed, failed or canceled generation
	CodeNotRetryable         Code = "generation_not_retryable" // retry of a generation that is not failed or canceled
	CodeStillStopping        Code = "generation_stopping"      // retry while the canceled run still lets go: clears by itself
	CodePredictionOwned      Code = "prediction_owned"         // a prediction id already belongs to another job
	CodeLeaseLost            Code = "lease_lost"               // the worker no longer holds the job
	CodeCancelRequested      Code = "cancel_requested"         // the worker holds the job, but its generation was canceled
	CodeRateLimited          Code = "rate_limited"
	CodeTooManyAttempts      Code = "too_many_attempts" // sign-in attempts throttled
	CodeTooLarge             Code = "too_large"
	CodeUnavailable          Code = "unavailable"
	CodeNoAPIKey             Code = "no_api_key" // no Replicate key for this user and none shared
	CodeUpstream             Code = "upstream_error"
	CodeUnsupportedMedia     Code = "unsupported_media_type" // a body or file of a type the endpoint does not take
	CodeAccountDisabled      Code = "account_disabled"       // the account exists but an administrator disabled it
	CodeInvalidLink          Code = "invalid_link"           // a signed file link that is forged or expired
	CodePendingLimit         Code = "pending_limit"          // the account has as many generations waiting as it may
	CodeUploadQuota          Code = "upload_quota_exceeded"  // the user's uploads would hold more bytes than their quota
	CodeUploadInUse          Code = "upload_in_use"          // delete of an upload a pending or running generation uses
	CodeRequestTimeout       Code = "request_timeout"        // the request's body did not arrive in time
	CodeTooManyStreams       Code = "too_many_streams"       // why an event stream was closed: its user opened more than allowed
	CodeStorageFull          Code = "storage_full"           // the database or the image storage has no room left
	CodeInsufficientScope    Code = "insufficient_scope"     // a personal access token without the scope the route needs
	CodeIdempotencyKeyReused Code = "idempotency_key_reused" // an Idempotency-Key sent again with other parameters
	CodeInvitationRequired   Code = "invitation_required"    // sign-up without an invitation while registration is by invitation
	CodeInvitationInvalid    Code = "invitation_invalid"     // an invitation that is unknown, used, revoked or expired
	CodeNotApproved          Code = "not_approved"           // an account not yet approved for the shared token, without a key of its own
	CodeLastAdmin            Code = "last_admin"             // removing (or disabling) the last enabled administrator
	CodeNotWaiting           Code = "generation_not_waiting" // a move in the queue of a generation that is not waiting there
	CodeSpendingLimit        Code = "spending_limit"         // a generation would pass a spending limit (the user's, or the shared token's monthly cap)
)

var codeKinds = map[Code]Kind{
	CodeInternal:             KindInternal,
	CodeInvalid:              KindInvalid,
	CodeBadJSON:              KindInvalid,
	CodeBadRequest:           KindInvalid,
	CodeInvalidCursor:        KindInvalid,
	CodeUnauthorized:         KindUnauthorized,
	CodeSessionEnded:         KindUnauthorized,
	CodeBadCredentials:       KindUnauthorized,
	CodeTokenReused:          KindUnauthorized,
	CodeForbidden:            KindForbidden,
	CodeRegistrationClosed:   KindForbidden,
	CodeNotFound:             KindNotFound,
	CodeNoRoute:              KindNotFound,
	CodeMethodNotAllowed:     KindInvalid,
	CodeConflict:             KindConflict,
	CodeUsernameTaken:        KindConflict,
	CodeEmailTaken:           KindConflict,
	CodeAlreadyFinished:      KindConflict,
	CodeNotRetryable:         KindConflict,
	CodeStillStopping:        KindConflict,
	CodePredictionOwned:      KindConflict,
	CodeLeaseLost:            KindInternal, // never shown: a worker stops on it
	CodeCancelRequested:      KindInternal, // never shown: a worker stops on it
	CodeRateLimited:          KindLimit,
	CodeTooManyAttempts:      KindLimit,
	CodeTooLarge:             KindTooLarge,
	CodeUnavailable:          KindUnavailable,
	CodeNoAPIKey:             KindInvalid,
	CodeUpstream:             KindUpstream,
	CodeUnsupportedMedia:     KindInvalid,
	CodeAccountDisabled:      KindForbidden,
	CodeInvalidLink:          KindForbidden,
	CodePendingLimit:         KindLimit,
	CodeUploadQuota:          KindTooLarge, // no wait clears it: only deleting does
	CodeUploadInUse:          KindConflict,
	CodeRequestTimeout:       KindTimeout,
	CodeTooManyStreams:       KindLimit,
	CodeStorageFull:          KindFull,
	CodeInsufficientScope:    KindForbidden,
	CodeIdempotencyKeyReused: KindInvalid,
	CodeInvitationRequired:   KindForbidden,
	CodeInvitationInvalid:    KindForbidden,
	CodeNotApproved:          KindForbidden,
	CodeLastAdmin:            KindConflict,
	CodeNotWaiting:           KindConflict,
	CodeSpendingLimit:        KindLimit,
}

// Codes lists the catalogue (for documentation and tests).
func Codes() []Code {
	out := make([]Code, 0, len(codeKinds))
	for c := range codeKinds {
		out = append(out, c)
	}
	return out
}

// Kind is the code's kind; a code missing from the catalogue is internal.
func (c Code) Kind() Kind {
	if k, ok := codeKinds[c]; ok {
		return k
	}
	return KindInternal
}

// Error is an error with its code. Reason is a sentence for a person (without the
// resource's name, which the caller adds); Err is the cause, for logs and errors.Is.
type Error struct {
	Code   Code
	Reason string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Reason != "" && e.Err != nil:
		return e.Reason + ": " + e.Err.Error()
	case e.Reason != "":
		return e.Reason
	case e.Err != nil:
		return string(e.Code) + ": " + e.Err.Error()
	}
	return string(e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) (or any *Error with only a Code) match every
// error of that code, whatever its reason, and errors.Is(err, ErrConflict) match every
// code of the conflict kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Reason != "" || t.Err != nil {
		return false
	}
	if t.Code == e.Code {
		return true
	}
	// The bare kind sentinels match their whole kind.
	return kindSentinel[t.Code] && t.Code.Kind() == e.Code.Kind()
}

// Errorf returns an *Error of code whose reason is the formatted sentence.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// CodeOf returns err's code: its own if it is (or wraps) an *Error, CodeInternal else.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ReasonOf returns the sentence of err's *Error ("" when there is none).
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// StorageFull wraps an engine's error for a write refused for want of space.
func StorageFull(err error) error {
	return &Error{Code: CodeStorageFull, Reason: "the server's storage is full, so nothing was saved; try again later (the administrator has been told)", Err: err}
}

// kindSentinel marks the codes whose bare sentinel stands for their whole kind.
var kindSentinel = map[Code]bool{CodeNotFound: true, CodeConflict: true}

var (
	// ErrNotFound matches every not-found error: the row does not exist or is not the
	// caller's (the two are never told apart).
	ErrNotFound error = &Error{Code: CodeNotFound}
	// ErrConflict matches every conflict: a uniqueness or state rule refused the change.
	ErrConflict error = &Error{Code: CodeConflict}
	// ErrLeaseLost means the job is no longer held by the caller's lease: it was
	// reclaimed, canceled and retried, or deleted. The holder must stop working on it.
	ErrLeaseLost error = &Error{Code: CodeLeaseLost}
	// ErrCancelRequested means the caller still holds the job, but its generation was
	// canceled meanwhile (by its user, or with its account): it must stop and let go.
	ErrCancelRequested error = &Error{Code: CodeCancelRequested}
	// ErrTokenReused means a spent refresh token was presented: its family is revoked.
	ErrTokenReused error = &Error{Code: CodeTokenReused}
	// ErrInvalidCursor is a list cursor this package did not produce.
	ErrInvalidCursor error = &Error{Code: CodeInvalidCursor}
	// ErrStorageFull matches a write refused because the database's storage is full
	// (SQLite's SQLITE_FULL, PostgreSQL's disk_full): an engine returns it with the
	// cause, and the server answers 507 with its sentence.
	ErrStorageFull error = &Error{Code: CodeStorageFull}
	// ErrClosed is returned by a store that was closed.
	ErrClosed = errors.New("database closed")
)
