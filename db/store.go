// Package db is the product's data: the domain types (User, Generation, Job, Event,
// Upload), the Store interface that server and jobs use, the error catalogue
// (errors.go), the one JSON shape of a generation (genjson.go) and the sealing of
// users' keys. It knows nothing of HTTP and holds no SQL: the engines are below it,
// db/sqlite (the default, one file) and db/postgres (several processes sharing one
// queue), each opening a Store with its own migrations; both run the queries of
// db/sqlstore, and db/storetest holds them to the same behaviour.
package db

import (
	"context"
	"encoding/json"
	"time"
)

// Options tune how a store is opened. The zero value is right for production.
type Options struct {
	// Readers is the size of the read connection pool (default: SQLite 2 x CPUs, at
	// least 4; PostgreSQL, one pool for reads and writes, 4 x CPUs, at least 8).
	Readers int
	// Now is the clock; nil means time.Now. Tests set it to control expiry.
	Now func() time.Time
}

// Store is everything server and jobs ask of the database. Every method takes the
// caller's context: a read stops when it ends; a write that has started runs to its
// end (its answer is then the truth about what was stored).
type Store interface {
	Users
	Generations
	Collections
	Queue
	Events
	Throttle
	Uploads
	AccessTokens
	Settings
	Admin
	Spending
	Shares

	// Ping checks that the database answers (/readyz).
	Ping(ctx context.Context) error
	// Now is the store's clock.
	Now() time.Time
	// Shared reports whether other processes may share this database (PostgreSQL): then
	// no process may take back another's running jobs at start, and there is no file to
	// lock or back up.
	Shared() bool
	// Describe names the database for logs, without secrets.
	Describe() string
	// Close releases the store; it is safe to call more than once.
	Close() error
}

// Users are accounts, their sessions (refresh token families) and their Replicate keys.
type Users interface {
	// CreateUser inserts an account; the first account ever is the admin. A taken
	// username or email is CodeUsernameTaken or CodeEmailTaken.
	CreateUser(ctx context.Context, username, email, passwordHash string, forceAdmin bool) (*User, error)
	UserByID(ctx context.Context, id int64) (*User, error)
	// UserForSession is UserByID for a caller holding a token of session family
	// ("" for none): a family that was ended (sign-out, reuse of a spent refresh
	// token, password change, sign out everywhere) is CodeSessionEnded, read in the
	// same query, so it takes effect at the next request in every process.
	UserForSession(ctx context.Context, id int64, family string) (*User, error)
	// UserByLogin finds an account by username or email, case-insensitively.
	UserByLogin(ctx context.Context, login string) (*User, error)
	// ListUsers returns every account, oldest first.
	ListUsers(ctx context.Context) ([]User, error)
	// SetPassword stores a new hash, ends every access token and every session but
	// keepFamily ("" for none).
	SetPassword(ctx context.Context, userID int64, hash, keepFamily string) error
	// SetDisabled enables or disables an account. Disabling ends all its sessions and,
	// in the same transaction, cancels its pending generations and flags its running
	// ones (returned: their predictions must be canceled at Replicate).
	SetDisabled(ctx context.Context, userID int64, disabled bool) ([]CancelOutcome, error)
	// SignOutEverywhere ends every access token and session of the user.
	SignOutEverywhere(ctx context.Context, userID int64) error

	AddRefreshToken(ctx context.Context, userID int64, family, token string, ttl time.Duration) error
	// RotateRefreshToken spends oldToken and records newToken in its family. Unknown,
	// expired or revoked: ErrNotFound; spent already: ErrTokenReused, and the family
	// is revoked.
	RotateRefreshToken(ctx context.Context, oldToken, newToken string, ttl time.Duration) (userID int64, family string, err error)
	// RevokeRefreshFamily ends the session token belongs to and answers its user.
	RevokeRefreshFamily(ctx context.Context, token string) (userID int64, err error)
	// RefreshFamily returns the family and user of a live token.
	RefreshFamily(ctx context.Context, token string) (userID int64, family string, err error)
	PruneRefreshTokens(ctx context.Context, olderThan time.Duration) (int64, error)

	// SetAPIKey stores the user's Replicate key sealed by s, with its last four
	// characters and whether Replicate accepted it.
	SetAPIKey(ctx context.Context, s *Sealer, userID int64, key string, verified bool) error
	ClearAPIKey(ctx context.Context, userID int64) error
	// APIKey returns the user's key in plaintext, or "" when none is set.
	APIKey(ctx context.Context, s *Sealer, userID int64) (string, error)
}

// Generations are what users asked for, as they see them.
type Generations interface {
	// CreateGeneration inserts a pending generation, queued, with its first event, in
	// one transaction, and returns it with its queue position. Past o.MaxPending
	// waiting generations of the user it is CodePendingLimit, decided in that
	// transaction. Its references (p.ReferenceIDs) are recorded in the same
	// transaction: one that is missing or another user's is ErrNotFound.
	CreateGeneration(ctx context.Context, userID int64, p Params, o CreateOptions) (*Generation, error)
	// CreateGenerations is CreateGeneration for several (a batch, at most MaxBatch):
	// all in one transaction, all or none. Two or more share a new BatchID, and are
	// queued in the order given. The pending cap counts them all: past it nothing is
	// queued. An idempotency key stored already answers every generation its request
	// made (Replayed), in order.
	CreateGenerations(ctx context.Context, userID int64, ps []Params, o CreateOptions) ([]*Generation, error)
	// Batch returns the user's generations of a batch in the order they were asked
	// for; an unknown batch, or another user's, is ErrNotFound.
	Batch(ctx context.Context, userID int64, batchID string) ([]Generation, error)
	// CancelBatch cancels every pending or running generation of the user's batch in
	// one transaction (as CancelGeneration does one). None left to cancel is
	// CodeAlreadyFinished.
	CancelBatch(ctx context.Context, userID int64, batchID string) ([]CancelOutcome, error)
	// RetryBatch queues again every failed or canceled generation of the user's batch
	// in one transaction (as RetryGeneration does one), in the batch's order. None to
	// retry is CodeNotRetryable; one still stopping is CodeStillStopping, and then
	// none is queued. b, when set, reserves their runs' cost together against its
	// limits (over one, none is queued: CodeSpendingLimit).
	RetryBatch(ctx context.Context, userID int64, batchID string, maxAttempts int, b *Budget) ([]Generation, error)
	// MoveQueued puts the user's pending generation first (front) or last in their own
	// queue; the claim takes the user's jobs in that order (fairness across users is
	// unchanged). One that is not waiting is CodeNotWaiting.
	MoveQueued(ctx context.Context, userID int64, id string, front bool) (*Generation, error)
	// SetQueuePaused pauses or resumes the user's own queue: while paused, their
	// pending generations stay pending and are not claimed. Each of them gets an event
	// (its queue position changed).
	SetQueuePaused(ctx context.Context, userID int64, paused bool) (QueueState, error)
	// QueueState reads the user's own queue.
	QueueState(ctx context.Context, userID int64) (QueueState, error)
	// GetGeneration returns the user's generation; another user's is ErrNotFound.
	GetGeneration(ctx context.Context, userID int64, id string) (*Generation, error)
	// ListGenerations returns a page, newest first, and the next page's cursor.
	ListGenerations(ctx context.Context, userID int64, f ListFilter) ([]Generation, string, error)
	// DeleteGeneration removes the user's generation and returns it as it was.
	DeleteGeneration(ctx context.Context, userID int64, id string) (*Generation, error)
	// CancelGeneration marks a pending or running generation canceled; a finished one
	// is CodeAlreadyFinished.
	CancelGeneration(ctx context.Context, userID int64, id string) (*CancelOutcome, error)
	// RetryGeneration queues a failed or canceled generation again with a fresh job. One
	// whose prediction succeeded and whose output can still be fetched (Wait) keeps
	// that prediction: the job fetches its output instead of paying for a new one. b,
	// when set, reserves the run's cost against its limits (CreateOptions.Budget).
	RetryGeneration(ctx context.Context, userID int64, id string, maxAttempts int, b *Budget) (*Generation, error)
	// QueueCounts returns the queued and running jobs of every user with any.
	QueueCounts(ctx context.Context) (map[int64][2]int, error)
	// PruneIdempotencyKeys deletes idempotency keys stored before olderThan.
	PruneIdempotencyKeys(ctx context.Context, olderThan time.Time) (int64, error)
	// SetFavorite marks or unmarks the user's generation as a favorite and returns it
	// (with an event, so other pages show the mark); another user's is ErrNotFound.
	SetFavorite(ctx context.Context, userID int64, id string, favorite bool) (*Generation, error)
}

// Collections are what a user keeps of their history: boards and prompts (issue 13).
// Another user's board or generation is ErrNotFound, exactly like a missing one.
type Collections interface {
	// Boards returns the user's boards, newest first, with their counts.
	Boards(ctx context.Context, userID int64) ([]Board, error)
	// GetBoard returns one of the user's boards.
	GetBoard(ctx context.Context, userID int64, id string) (*Board, error)
	// CreateBoard makes a board named name.
	CreateBoard(ctx context.Context, userID int64, name string) (*Board, error)
	// RenameBoard renames the user's board.
	RenameBoard(ctx context.Context, userID int64, id, name string) (*Board, error)
	// DeleteBoard removes the board (its generations stay).
	DeleteBoard(ctx context.Context, userID int64, id string) error
	// AddToBoard puts the user's generation on the user's board (again: no change).
	AddToBoard(ctx context.Context, userID int64, boardID, genID string) error
	// RemoveFromBoard takes the generation off the board (not on it: ErrNotFound).
	RemoveFromBoard(ctx context.Context, userID int64, boardID, genID string) error
	// ListBoard returns a page of the board's generations, newest first, and the next
	// page's cursor (f's Limit and Cursor; its filters are not used).
	ListBoard(ctx context.Context, userID int64, boardID string, f ListFilter) ([]Generation, string, error)
	// PromptHistory returns the user's prompts, grouped by text, last used first (of
	// the newest 5,000 generations: the counts are of those).
	PromptHistory(ctx context.Context, userID int64, limit int) ([]PromptUse, error)
	// SavedPrompts returns the user's saved prompts, newest first.
	SavedPrompts(ctx context.Context, userID int64) ([]SavedPrompt, error)
	// SavePrompt saves prompt under name.
	SavePrompt(ctx context.Context, userID int64, name, prompt string) (*SavedPrompt, error)
	// DeleteSavedPrompt removes one of the user's saved prompts.
	DeleteSavedPrompt(ctx context.Context, userID int64, id string) error
}

// CreateOptions bound a new generation's job and its user's queue.
type CreateOptions struct {
	// MaxAttempts bounds the job's claims (<= 0: DefaultMaxAttempts).
	MaxAttempts int
	// MaxPending is how many generations a user may have waiting in the queue (<= 0:
	// no bound).
	MaxPending int
	// IdempotencyKey, when set, is the client's Idempotency-Key: stored with the
	// generation in its transaction, unique per user. When the user's key is already
	// stored (within IdempotencyTTL) nothing is queued: the answer is the generation it
	// made, as it is now, or CodeIdempotencyKeyReused when RequestHash differs from
	// the one stored with it.
	IdempotencyKey string
	// RequestHash identifies the request's parameters (stored with the key).
	RequestHash string
	// Budget, when set, is the new generation's price and payer and the limits its
	// reservation is checked against, in the transaction that queues it: over a limit
	// nothing is queued and the error is CodeSpendingLimit (its cause a *SpendingLimit).
	Budget *Budget
}

// IdempotencyTTL is how long an idempotency key answers its generation.
const IdempotencyTTL = 24 * time.Hour

// Queue is the workers' side of the generations: claims, leases and outcomes.
type Queue interface {
	// ClaimJobs takes up to limit runnable jobs, fairly across users, at most
	// maxPerUser running per user, leased to owner until leaseUntil.
	ClaimJobs(ctx context.Context, owner string, leaseUntil time.Time, maxPerUser, limit int) ([]Job, error)
	ReclaimExpiredLeases(ctx context.Context) (int64, error)
	// ReclaimLeasesNotOwnedBy queues again every running job whose owner does not start
	// with ownerPrefix (a restart of the only process of a database).
	ReclaimLeasesNotOwnedBy(ctx context.Context, ownerPrefix string) (int64, error)
	ExtendLease(ctx context.Context, jobID int64, owner string, until time.Time) error
	ReleaseJob(ctx context.Context, jobID int64, owner string) error
	GetJob(ctx context.Context, jobID int64) (*Job, error)
	JobForGeneration(ctx context.Context, genID string) (*Job, error)
	JobForPrediction(ctx context.Context, predictionID string) (*Job, error)
	// GenerationForJob reads a generation without an owner check (the worker holds it).
	GenerationForJob(ctx context.Context, genID string) (*Generation, error)
	PredictionKnown(ctx context.Context, predictionID string) (bool, error)
	MarkSubmitting(ctx context.Context, jobID int64, owner string, at time.Time) error
	// SetPrediction records the job's prediction; one owned by another job is
	// CodePredictionOwned.
	SetPrediction(ctx context.Context, jobID int64, owner, genID, predictionID string) error
	SetPhase(ctx context.Context, jobID int64, owner, phase string) error
	RetryLater(ctx context.Context, jobID int64, owner string, runAfter time.Time, lastError string, newPrediction bool) error
	FailJob(ctx context.Context, jobID int64, owner, genID, message, lastError string) error
	// Wait puts a held job back in the queue, its generation still running, with a
	// sentence for its user (see db.Wait).
	Wait(ctx context.Context, jobID int64, owner string, w Wait) error
	FinishCanceled(ctx context.Context, jobID int64, owner string) error
	CompleteJob(ctx context.Context, jobID int64, owner, genID string, r Result) error
	// QueueSignal fires when another process queued jobs (nil when none can).
	QueueSignal() <-chan struct{}
}

// Wait is how a job waits in the queue while its generation stays running.
type Wait struct {
	RunAfter time.Time
	// OutputUntil, when set, is until when the job's succeeded prediction's output can
	// still be fetched (Job.OutputUntil): the job's retries are bounded by it, not by
	// its attempts, and a run again of its generation before then fetches that output.
	OutputUntil time.Time
	// Message is the generation's error meanwhile: why it waits, for its user.
	Message, LastError string
	// Uncounted gives the claim's attempt back (the wait is not the job's fault).
	Uncounted bool
}

// Events are the log of generation changes that event streams follow.
type Events interface {
	// EventsSince returns the user's events after afterID, oldest first, at most limit.
	EventsSince(ctx context.Context, userID int64, afterID int64, limit int) ([]Event, error)
	// LastEventID returns an id every later event of the user's will exceed.
	LastEventID(ctx context.Context, userID int64) (int64, error)
	PruneEvents(ctx context.Context, olderThan time.Time) (int64, error)
	// Subscribe returns a channel signalled after each commit of an event for userID,
	// and the function that ends the subscription.
	Subscribe(userID int64) (<-chan struct{}, func())
}

// Throttle limits sign-in attempts. Every attempt is counted before its password is
// checked, in the statement that decides whether it may be checked, so concurrent
// attempts (in one process or several sharing a PostgreSQL database) never check more
// passwords than the policy allows.
type Throttle interface {
	// LoginAttempt counts one attempt at account (a key such as "user:42") from addr
	// ("addr:<ip>", or "" to limit the account only) under p, at now. 0 means the
	// password may be checked: the attempt was counted as a failure of both keys, and
	// LoginSucceeded takes that back. A positive wait means it was refused and nothing
	// was counted; the caller answers 429 with it as Retry-After.
	LoginAttempt(ctx context.Context, account, addr string, p LoginPolicy, now time.Time) (time.Duration, error)
	// LoginSucceeded forgets the account's failures and takes back the one its
	// successful attempt counted on addr ("" for none).
	LoginSucceeded(ctx context.Context, account, addr string) error
	PruneLoginFailures(ctx context.Context, now time.Time) (int64, error)
}

// LoginPolicy is how many sign-in attempts are checked.
//
// Per account: AccountFree failures in a row are checked at once; after that each
// failure makes the next attempt wait, AccountBase after the AccountFree-th, doubling
// with every further one up to AccountMax. The failures are forgotten AccountMemory
// after the last. A wait refuses every attempt, the right password's too, but it is
// short after a few failures: a stranger cannot lock an account out for long.
//
// Per address: AddrLimit failures per AddrWindow (a fixed window from the first).
// Past it, an attempt from the address is checked only when its account has no
// failures to remember: one try per account, so a correct password for an account no
// one is guessing still gets in from a busy address, while guessing across many
// accounts from one address gets one guess per account per AccountMemory.
type LoginPolicy struct {
	AccountFree   int
	AccountBase   time.Duration
	AccountMax    time.Duration
	AccountMemory time.Duration
	AddrLimit     int
	AddrWindow    time.Duration
}

// AccountWait is how long an account waits after n failures in a row under p.
func (p LoginPolicy) AccountWait(n int) time.Duration {
	if n < p.AccountFree || p.AccountBase <= 0 {
		return 0
	}
	d := p.AccountBase
	for i := p.AccountFree; i < n && d < p.AccountMax; i++ {
		d *= 2
	}
	return min(d, p.AccountMax)
}

// Uploads are reference images users stored for image-to-image generations.
//
// An upload is referenced while a generation of its owner that still exists, in any
// status, uses it: CreateGeneration records the references in its transaction, and
// they go with the generation when it is deleted. Unreferenced uploads are removed by
// ExpireUploads once old enough; a referenced one never is.
type Uploads interface {
	// CreateUploads records stored reference images of one user, all or none. With
	// quota > 0 the user's uploads may hold at most quota bytes in all: past it nothing
	// is recorded and the error is CodeUploadQuota. The check and the records are one
	// write, so concurrent uploads cannot pass the quota together.
	CreateUploads(ctx context.Context, ups []Upload, quota int64) error
	// GetUploads returns the user's uploads with these ids, in order; any missing or
	// another user's makes the call ErrNotFound.
	GetUploads(ctx context.Context, userID int64, ids []string) ([]Upload, error)
	// ListUploads returns a page of the user's uploads, newest first, each with Refs,
	// and the next page's cursor ("" after the last).
	ListUploads(ctx context.Context, userID int64, limit int, cursor string) ([]Upload, string, error)
	// UploadBytes is what the user's uploads hold, as the quota counts it.
	UploadBytes(ctx context.Context, userID int64) (int64, error)
	// DeleteUpload removes the user's upload and returns it (the caller removes its
	// file); the generations that used it keep their reference_ids. Missing or another
	// user's: ErrNotFound; used by a pending or running generation: CodeUploadInUse.
	DeleteUpload(ctx context.Context, userID int64, id string) (*Upload, error)
	// ExpireUploads removes up to limit unreferenced uploads made before before, oldest
	// first, and returns them (the caller removes their files).
	ExpireUploads(ctx context.Context, before time.Time, limit int) ([]Upload, error)
}

// AccessTokens are users' personal access tokens. The store hashes the secrets: it is
// given them in clear and never keeps them so.
type AccessTokens interface {
	// CreateAccessToken stores t (its ID and CreatedAt are set) for the secret.
	CreateAccessToken(ctx context.Context, t AccessToken, secret string) (*AccessToken, error)
	// AccessTokens lists the user's tokens, newest first.
	AccessTokens(ctx context.Context, userID int64) ([]AccessToken, error)
	// DeleteAccessToken revokes the user's token; another user's is ErrNotFound.
	DeleteAccessToken(ctx context.Context, userID, id int64) error
	// UserForAccessToken finds the live (unexpired) token of secret and its user, in
	// one read; none is ErrNotFound.
	UserForAccessToken(ctx context.Context, secret string) (*User, *AccessToken, error)
	// TouchAccessToken records a use at at, unless one at or after notBefore is
	// recorded already (so a busy token costs a write at most once in a while).
	TouchAccessToken(ctx context.Context, id int64, at, notBefore time.Time) error
}

// Settings are what an admin changes without a restart, stored as JSON by key (see the
// keys in server/settings.go). The environment gives each key's first value; a stored
// value wins over it until deleted.
type Settings interface {
	// Settings returns every stored setting, by key.
	Settings(ctx context.Context) (map[string]json.RawMessage, error)
	// PutSetting stores value (valid JSON) under key, set by the admin by (0: none).
	PutSetting(ctx context.Context, key string, value json.RawMessage, by int64) error
	// DeleteSetting removes key's stored value, so the environment's applies again.
	DeleteSetting(ctx context.Context, key string) error
	// SettingsVersion changes whenever the stored settings may have changed: after a
	// write in this process, and (PostgreSQL) at once when another process wrote. Read
	// it before Settings; read Settings again when it differs.
	SettingsVersion() uint64
}

// Shares are public links to one image or one board. A link answers only while it
// exists, is unexpired, what it names exists and its owner is enabled: revoking deletes
// the row, so the next request through the link finds nothing, in every process at once.
type Shares interface {
	// CreateShare stores sh (its CreatedAt is set): sh.GenerationID or sh.BoardID names
	// the user's image or board; another user's or a missing one is ErrNotFound.
	CreateShare(ctx context.Context, sh Share) (*Share, error)
	// Shares lists the user's links, newest first, expired ones included.
	Shares(ctx context.Context, userID int64) ([]Share, error)
	// DeleteShare revokes the user's link; another user's is ErrNotFound.
	DeleteShare(ctx context.Context, userID int64, token string) error
	// LiveShare answers a live link; an unknown, expired or revoked link, or one whose
	// owner is disabled, is ErrNotFound.
	LiveShare(ctx context.Context, token string) (*Share, error)
	// SharedGeneration answers a live link and one generation it shows, in one read: an
	// image link's own image (genID "" or its id), or a board link's image genID that is
	// on the board. Anything else is ErrNotFound.
	SharedGeneration(ctx context.Context, token, genID string) (*Share, *Generation, error)
}
