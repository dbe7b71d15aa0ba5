package db

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
	"unicode"
)

// User is an account. PasswordHash never leaves the server.
type User struct {
	ID           int64
	Username     string
	Email        string
	PasswordHash string
	IsAdmin      bool
	Disabled     bool
	// Approved: the account may use the shared Replicate token (see NewAccount).
	Approved       bool
	TokenVersion   int64
	HasAPIKey      bool
	APIKeyLast4    string
	APIKeyVerified bool
	CreatedAt      time.Time
}

// Generation statuses (the seed's words, plus canceled).
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Generation modes.
const (
	ModeTextToImage  = "text-to-image"
	ModeImageToImage = "image-to-image"
)

// Params are what the user asked for; the server validates them before they get here.
type Params struct {
	Prompt            string
	Resolution        string
	AspectRatio       string
	OutputFormat      string
	SafetyFilterLevel string
	Mode              string   // ModeTextToImage or ModeImageToImage
	ReferenceIDs      []string // upload ids, for image-to-image
}

// Generation is one requested image and what became of it. It is the one type of a
// generation: the status and list answers and the event stream all encode it
// (genjson.go).
type Generation struct {
	ID     string
	UserID int64
	Status string
	Params
	Error        string // a sentence a person can act on
	PredictionID string
	ImageKey     string // storage key of the image, once completed
	ImageType    string // its content type, sniffed from the bytes
	ThumbKey     string
	Width        int
	Height       int
	Bytes        int64
	SHA256       string
	CreatedAt    time.Time
	StartedAt    time.Time
	CompletedAt  time.Time
	UpdatedAt    time.Time
	Favorite     bool // marked by its user
	// QueuePosition is set for pending generations read from the store: an estimate
	// (1 = next) of where this one stands in the fair claim order; 0 otherwise.
	QueuePosition int
	// CostMicros is one prediction's price (millionths of a US dollar), PaidBy who pays
	// (PaidShared, PaidOwn; "" before the books existed), BookedMicros what it holds
	// of the budget now (its reservation while waiting, then what Replicate accepted;
	// 0 when released), Metrics Replicate's metrics of its prediction (JSON, or nil).
	CostMicros   int64
	PaidBy       string
	BookedMicros int64
	Metrics      []byte
	// Replayed is set by CreateGeneration when an idempotency key answered this
	// generation, made by an earlier request: nothing was queued.
	Replayed bool

	// The job's part the shape shows (genjson.go): the attempts claimed so far, the
	// queue state, the technical cause of the last retry or failure (never shown as it
	// is: RetryReason and FailureCode turn it into a code) and when a queued attempt
	// may start, and when its current run was queued (the order of a user's queued
	// generations: QueuedAt, then ID).
	Attempts  int
	JobState  string
	LastError string
	RunAfter  time.Time
	QueuedAt  time.Time
	// BatchID is the batch the generation was asked for in ("" for none): 2 to 4
	// generations made by one request (CreateGenerations).
	BatchID string
	// QueuePaused is set for a pending generation read from the store whose user has
	// paused their queue: it is not claimed, and QueuePosition is 0.
	QueuePaused bool
}

// MaxBatch is how many generations one request may ask for.
const MaxBatch = 4

// QueueState is a user's own queue: paused or not, and their jobs in it.
type QueueState struct {
	Paused  bool
	Waiting int // queued jobs (pending generations, and running ones between tries)
	Running int
}

// Terminal reports whether the generation will not change again on its own.
func (g *Generation) Terminal() bool {
	switch g.Status {
	case StatusCompleted, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// DefaultMaxAttempts bounds a job's claims when the caller does not say.
const DefaultMaxAttempts = 5

// ListFilter selects a page of a user's generations.
type ListFilter struct {
	Status string // "" for all
	Limit  int    // default 20, at most 100
	Cursor string // "" for the first page, else a next cursor from a previous page

	// The filters of search (issue 13), all optional and combined with AND.
	// Query: words the prompt must hold, the last also as the start of one (the word
	// being typed), case and Latin accents aside (SearchWords splits it).
	Query string
	// From and To bound created_at: From <= created_at < To (zero: unbounded).
	From, To time.Time
	// Resolution, AspectRatio and Mode select one value of the setting ("": any).
	Resolution, AspectRatio, Mode string
	// Favorite keeps only the generations marked favorite.
	Favorite bool
}

// Filtered reports whether f uses a filter beyond the status.
func (f ListFilter) Filtered() bool {
	return f.Query != "" || !f.From.IsZero() || !f.To.IsZero() || f.Resolution != "" ||
		f.AspectRatio != "" || f.Mode != "" || f.Favorite
}

// SearchWords splits a search into its words: runs of letters and digits, at most 16
// (the rest is ignored). Everything else separates words, as the engines' tokenizers
// split prompts.
func SearchWords(q string) []string {
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	if len(words) > 16 {
		words = words[:16]
	}
	return words
}

// Board is a user's named set of generations.
type Board struct {
	ID        string
	UserID    int64
	Name      string
	Count     int // generations on it
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PromptUse is one prompt of a user's history: how many generations used it, and when
// the last one was made.
type PromptUse struct {
	Prompt   string
	Count    int
	LastUsed time.Time
}

// SavedPrompt is a prompt the user named to use again.
type SavedPrompt struct {
	ID        string
	Name      string
	Prompt    string
	CreatedAt time.Time
}

// Queue states (generations.state) and phases (generations.phase); see the first
// migrations for what each means. A job is columns of its generation's row.
const (
	JobQueued   = "queued"
	JobRunning  = "running"
	JobDone     = "done"
	JobFailed   = "failed"
	JobCanceled = "canceled"

	PhaseNone        = ""
	PhaseSubmitting  = "submitting"
	PhaseSubmitted   = "submitted"
	PhaseDownloading = "downloading"
)

// Job is the queue's part of a generation's row: the attempt chain that runs it.
type Job struct {
	ID              int64 // job_id: a new one when the generation is run again
	GenerationID    string
	UserID          int64
	State           string
	Phase           string
	CancelRequested bool
	Attempts        int
	MaxAttempts     int
	RunAfter        time.Time
	LeaseUntil      time.Time
	LeaseOwner      string
	LastError       string
	PredictionID    string
	SubmitStartedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// OutputUntil is set (Store.Wait) when the job's prediction succeeded but its output
	// could not be stored yet: until then Replicate keeps it, so the job is retried
	// until then however many attempts it took. Zero when unknown.
	OutputUntil time.Time

	// SubmitClaimed is set by ClaimJobs when the claim's own commit recorded phase
	// 'submitting' (and SubmitStartedAt) for this attempt: the job had no prediction and
	// no phase, so the holder may send its create without a MarkSubmitting commit of
	// its own. Phase still tells what the previous attempt left behind.
	SubmitClaimed bool

	// Generation is set by ClaimJobs when its own commit moved the job's generation from
	// pending to running: the row as that commit left it (not canceled, not deleted).
	// Nil otherwise (a resumed job whose generation was already running): read it.
	Generation *Generation
}

// Result is what a finished generation stored.
type Result struct {
	ImageKey, ImageType, ThumbKey string
	Width, Height                 int
	Bytes                         int64
	SHA256                        string
	Metrics                       []byte // Replicate's metrics of the prediction (JSON), if any
}

// CancelOutcome says what CancelGeneration found, so the caller knows whether a
// prediction at Replicate needs canceling too.
type CancelOutcome struct {
	Generation   *Generation
	WasRunning   bool   // a worker holds (or held) the job: it will cancel the prediction
	PredictionID string // the job's prediction, if one is recorded
}

// Event is one change of a generation, written in the same transaction as the change.
// Data is the generation's stored part at that moment (AppendStored): what depends
// neither on the reader nor on the clock. The server adds the rest at delivery
// (AppendView), so an event carries the same object as a status answer.
type Event struct {
	ID           int64
	UserID       int64
	GenerationID string
	Type         string // the generation's new status, or EventDeleted
	Data         []byte
	CreatedAt    time.Time
}

// EventDeleted is the Type of the event written when a generation is deleted.
const EventDeleted = "deleted"

// Upload is a reference image a user stored for image-to-image generations.
type Upload struct {
	ID          string // NewID(); the caller sets it
	UserID      int64
	Key         string // storage key
	ContentType string
	Width       int
	Height      int
	Bytes       int64
	SHA256      string
	CreatedAt   time.Time
	// Refs is how many generations use the upload (ListUploads fills it).
	Refs int
}

// NewID returns a random 128-bit id as 32 lowercase hex characters: unguessable, so an
// id alone never reveals or grants anything.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// NewTimeID returns a generation id: 32 lowercase hex characters like NewID's, of which
// the first 12 are the current Unix time in milliseconds and the other 20 are 80 random
// bits. 80 random bits per millisecond still cannot be guessed or enumerated; the id
// does tell when it was made, which the generation shows its owner anyway. Ids that grow
// with time put each insert into the index keyed by them on the last page, the one the
// previous inserts touched, instead of a random page each: one page fewer written per
// index and commit under load.
func NewTimeID() string {
	var b [16]byte
	t := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(t)
		t >>= 8
	}
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// AccessToken is a personal access token: a user's long-lived credential for scripts,
// limited to its scopes. The secret itself is shown once, when it is created, and
// stored only as a hash.
type AccessToken struct {
	ID         int64
	UserID     int64
	Name       string
	Prefix     string   // the secret's first characters, to tell tokens apart
	Scopes     []string // e.g. "read", "generate", "admin"
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never expires
	LastUsedAt time.Time // zero: never used
}

// Share is a public, read-only link to one of a user's images or boards: whoever holds
// the token may see that image (or the board's images) and the prompts, nothing else of
// the owner's, until the link expires or its owner revokes it.
type Share struct {
	Token        string // 128 random bits (NewID): the link's only secret
	UserID       int64
	GenerationID string // the image shared, or ""
	BoardID      string // the board shared, or ""
	CreatedAt    time.Time
	ExpiresAt    time.Time // zero: never expires
}
