package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json and rendered
// at /docs. It is built from the route table (paths, methods, who may call, scopes) and
// the request and answer types (schemas by reflection over their json tags); apiDocs
// below adds what neither says: a summary, the answers' statuses, examples. Tests hold
// the document to the table both ways and validate every answer of the server's test
// suite against it, so it cannot drift from what the server does.

// opDoc is what the document says of one route beyond the table.
type opDoc struct {
	summary string
	tag     string
	body    any // the JSON request body's type (a zero value); nil: none
	example any // an example of the body
	// multipart: the body may (or, with body nil, must) be multipart/form-data.
	multipart bool
	query     []queryParam
	headers   []queryParam // request headers the route reads
	answers   map[int]any  // status -> the answer's type; nil for no body
}

type queryParam struct{ name, description string }

// Answers that are not JSON objects of a Go type.
type (
	noBody     struct{} // 204 and the like
	fileAnswer struct{} // an image
	zipAnswer  struct{} // a zip of images
	sseAnswer  struct{} // text/event-stream
	csvAnswer  struct{} // text/csv
)

// generationDoc is the one shape of a generation (db/genjson.go appends it by hand).
type generationDoc struct {
	ID                string      `json:"id"`
	ImageID           string      `json:"image_id"`
	Status            string      `json:"status" enum:"pending,running,completed,failed,canceled"`
	Prompt            string      `json:"prompt"`
	Resolution        string      `json:"resolution"`
	AspectRatio       string      `json:"aspect_ratio"`
	OutputFormat      string      `json:"output_format"`
	SafetyFilterLevel string      `json:"safety_filter_level"`
	GenerationMode    string      `json:"generation_mode" enum:"text-to-image,image-to-image"`
	ReferenceImageIDs []string    `json:"reference_image_ids"`
	BatchID           *string     `json:"batch_id"`
	Error             *string     `json:"error"`
	CreatedAt         time.Time   `json:"created_at"`
	StartedAt         *time.Time  `json:"started_at"`
	CompletedAt       *time.Time  `json:"completed_at"`
	Width             *int        `json:"width"`
	Height            *int        `json:"height"`
	Bytes             *int64      `json:"bytes"`
	CostUSD           float64     `json:"cost_usd"`
	PaidBy            *string     `json:"paid_by" enum:"shared,own"`
	BookedUSD         float64     `json:"booked_usd"`
	Metrics           *metricsDoc `json:"metrics"`
	// QueuedAt is when the current run was queued: a user's queued generations start
	// in this order, so a client tells each one's place among them.
	QueuedAt *time.Time `json:"queued_at"`
	// Attempt is the attempt running now, or next while a retry waits (1 for a new
	// generation); for a finished one, the attempts it took.
	Attempt int `json:"attempt"`
	// RetryReason says why the previous attempt of a pending or running generation did
	// not finish, as a code: replicate_throttled, replicate_error, replicate_unreachable,
	// model_start_failed, storage_full, temporary; null when there was none.
	RetryReason *string `json:"retry_reason"`
	// RetryAt is when a running generation waiting between attempts tries again.
	RetryAt *time.Time `json:"retry_at"`
	// ErrorCode names a failure a client may treat on its own (safety_filter: edit the
	// prompt rather than run it again); null otherwise.
	ErrorCode     *string `json:"error_code"`
	Favorite      bool    `json:"favorite"`
	QueuePaused   *bool   `json:"queue_paused,omitempty"`
	QueuePosition *int    `json:"queue_position,omitempty"`
	ImageURL      *string `json:"image_url"`
	ThumbnailURL  *string `json:"thumbnail_url"`
	PriceUSD      float64 `json:"price_usd"`
	// ReferenceURLs link the reference images in the order of reference_image_ids: an
	// upload's signed URL, an https:// reference as it was given.
	ReferenceURLs []string `json:"reference_urls"`
}

// metricsDoc is Replicate's metrics of a generation's prediction.
type metricsDoc struct {
	PredictTime float64 `json:"predict_time"`
}

// generateDoc is generate's answer: one generation, and with count or prompts every
// generation made, in order.
type generateDoc struct {
	generationDoc
	Generations []generationDoc `json:"generations,omitempty"`
}

// batchDoc is a batch: its id and its generations in order.
type batchDoc struct {
	BatchID string          `json:"batch_id"`
	Items   []generationDoc `json:"items"`
}

// originalGenerationDoc is GET /images/{id}: the original service's names added.
type originalGenerationDoc struct {
	generationDoc
	ResultURL    *string `json:"result_url"`
	ErrorMessage *string `json:"error_message"`
}

type generationListDoc struct {
	Items      []generationDoc `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

// uploadListDoc is GET /api/v1/uploads's answer.
type uploadListDoc struct {
	Items      []uploadJSON   `json:"items"`
	NextCursor string         `json:"next_cursor"`
	Usage      uploadUsageDoc `json:"usage"`
}

// uploadUsageDoc is what a user's uploads hold against the quota (0: no quota).
type uploadUsageDoc struct {
	Bytes      int64 `json:"bytes"`
	QuotaBytes int64 `json:"quota_bytes"`
}

type uploadsDoc struct {
	Uploads []uploadJSON `json:"uploads"`
}

type ticketDoc struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expires_in"`
}

type healthDoc struct {
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
	Demo    bool   `json:"demo,omitempty"`
}

type metaDoc struct {
	Version            string             `json:"version"`
	Demo               bool               `json:"demo"`
	RegistrationOpen   bool               `json:"registration_open"`
	Registration       string             `json:"registration" enum:"open,invite,closed"`
	HasGlobalAPIKey    bool               `json:"has_global_api_key"`
	Model              string             `json:"model"`
	PricesUSD          map[string]float64 `json:"prices_usd"`
	Resolutions        []string           `json:"resolutions"`
	AspectRatios       []string           `json:"aspect_ratios"`
	OutputFormats      []string           `json:"output_formats"`
	SafetyFilterLevels []string           `json:"safety_filter_levels"`
	GenerationModes    []string           `json:"generation_modes"`
	MaxReferenceImages int                `json:"max_reference_images"`
	MaxPromptLength    int                `json:"max_prompt_length"`
	MaxUploadBytes     int64              `json:"max_upload_bytes"`
	// MaxConcurrentGenerations is how many of one user's generations run at once
	// (MAX_CONCURRENT_GENERATIONS): a page estimates a queued one's wait from it.
	MaxConcurrentGenerations int `json:"max_concurrent_generations"`
}

// apiDocs is keyed "METHOD /path" as in the route table.
var apiDocs = map[string]opDoc{
	"GET /healthz":             {tag: "health", summary: "The process is up", answers: map[int]any{200: healthDoc{}}},
	"GET /health":              {tag: "health", summary: "The original service's health check: {\"status\": \"ok\"}", answers: map[int]any{200: healthDoc{}}},
	"GET /readyz":              {tag: "health", summary: "The database answers", answers: map[int]any{200: healthDoc{}}},
	"GET /api/v1/meta":         {tag: "health", summary: "What this server offers: prices, the model's choices, sign-up", answers: map[int]any{200: metaDoc{}}},
	"GET /api/v1/openapi.json": {tag: "health", summary: "This document", answers: map[int]any{200: map[string]any{}}},

	"POST /api/v1/auth/register": {tag: "auth", summary: "Create an account and sign in",
		body: registerRequest{}, example: registerRequest{Username: "alice", Email: "alice@example.com", Password: "correct horse battery"},
		answers: map[int]any{201: tokenPair{}}},
	"POST /api/v1/auth/login": {tag: "auth", summary: "Sign in with username (or email) and password; also the OAuth2 password form",
		body: loginRequest{}, example: loginRequest{Username: "alice", Password: "correct horse battery"},
		answers: map[int]any{200: tokenPair{}}},
	"GET /api/v1/auth/me":          {tag: "auth", summary: "The signed-in user", answers: map[int]any{200: userJSON{}}},
	"POST /api/v1/auth/refresh":    {tag: "auth", summary: "A new token pair for a refresh token (which is spent)", body: refreshRequest{}, answers: map[int]any{200: tokenPair{}}},
	"POST /api/v1/auth/logout":     {tag: "auth", summary: "End the refresh token's session", body: refreshRequest{}, answers: map[int]any{204: noBody{}}},
	"POST /api/v1/auth/logout-all": {tag: "auth", summary: "End every session of the user", answers: map[int]any{204: noBody{}}},
	"PUT /api/v1/auth/password":    {tag: "auth", summary: "Change the password; every other session ends", body: passwordRequest{}, answers: map[int]any{204: noBody{}}},

	"POST /api/v1/tokens": {tag: "tokens", summary: "Create a personal access token; its secret (token) is answered only here",
		body: accessTokenRequest{}, example: accessTokenRequest{Name: "nightly backup", Scopes: []string{"read"}, ExpiresInDays: 90},
		answers: map[int]any{201: accessTokenJSON{}}},
	"GET /api/v1/tokens":        {tag: "tokens", summary: "The user's personal access tokens, without their secrets", answers: map[int]any{200: accessTokenList{}}},
	"DELETE /api/v1/tokens/:id": {tag: "tokens", summary: "Revoke a personal access token: refused from its next request", answers: map[int]any{204: noBody{}}},

	"PUT /api/v1/users/api-key": {tag: "api key", summary: "Set the user's Replicate API token (checked with Replicate, stored sealed)",
		body: apiKeyRequest{}, example: apiKeyRequest{APIKey: "r8_..."}, answers: map[int]any{200: apiKeyJSON{}}},
	"GET /api/v1/users/api-key":    {tag: "api key", summary: "Whether a key is set, and its last four characters", answers: map[int]any{200: apiKeyJSON{}}},
	"DELETE /api/v1/users/api-key": {tag: "api key", summary: "Remove the user's key", answers: map[int]any{204: noBody{}}},

	"GET /api/v1/users/usage": {tag: "spending", summary: "What the user's next generations may spend: limits, what was spent this UTC day and month, what is left, when each resets",
		answers: map[int]any{200: usageJSON{}}},
	"PUT /api/v1/users/limits": {tag: "spending", summary: "Set the limits the user chooses for themselves (they apply whoever pays, own key included); null is no limit",
		body: db.Limits{}, example: map[string]any{"day_usd": 2, "month_usd": nil, "day_images": nil, "month_images": 100},
		answers: map[int]any{200: usageJSON{}}},
	"GET /api/v1/admin/limits/:id": {tag: "admin", summary: "A user's limits (override, the defaults, their own) and usage",
		answers: map[int]any{200: adminLimitsJSON{}}},
	"PUT /api/v1/admin/limits/:id": {tag: "admin", summary: "Override the install's default limits for a user (on the shared token); null is no limit",
		body: db.Limits{}, example: map[string]any{"day_usd": 1.5, "month_usd": 20, "day_images": nil, "month_images": nil},
		answers: map[int]any{200: adminLimitsJSON{}}},
	"DELETE /api/v1/admin/limits/:id": {tag: "admin", summary: "The install's default limits apply to the user again",
		answers: map[int]any{200: adminLimitsJSON{}}},
	"GET /api/v1/admin/usage": {tag: "admin", summary: "Images and money per UTC day, by user and payer and in total (reserved or booked)",
		query:   []queryParam{{"from", "first day, YYYY-MM-DD (default 29 days before to)"}, {"to", "last day, YYYY-MM-DD (default today, UTC)"}, {"user_id", "one user only"}},
		answers: map[int]any{200: adminUsageJSON{}}},
	"GET /api/v1/admin/usage.csv": {tag: "admin", summary: "The same rows as GET /api/v1/admin/usage, as CSV",
		query:   []queryParam{{"from", "first day, YYYY-MM-DD"}, {"to", "last day, YYYY-MM-DD"}, {"user_id", "one user only"}},
		answers: map[int]any{200: csvAnswer{}}},

	"POST /api/v1/images/generate": {tag: "images", summary: "Queue a generation (JSON, or multipart with the reference images attached); with count (1 to 4 variations) or prompts (1 to 4, one generation each) a batch, all queued or none, answered as the first generation plus generations (every one, in order, with their batch_id)",
		body: generateRequest{}, multipart: true,
		headers: []queryParam{{"Idempotency-Key", "1 to 255 printable ASCII characters (a UUID per submission): sent again by the same user within 24 hours, it answers the generation (or the batch) the first request made, as it is now, and queues nothing; with other parameters it is 422 idempotency_key_reused; malformed, 400"}},
		example: map[string]any{"prompt": "A banana lighthouse at dusk, watercolor", "resolution": "2K", "aspect_ratio": "16:9", "output_format": "png"},
		answers: map[int]any{202: generateDoc{}}},
	"GET /api/v1/images/status/:id": {tag: "images", summary: "One generation", answers: map[int]any{200: generationDoc{}}},
	"GET /api/v1/images/list": {tag: "images", summary: "The user's generations, newest first, in pages",
		query: []queryParam{{"limit", "page size, 1 to 100 (default 20)"}, {"cursor", "next_cursor of the previous page"}, {"status", "only generations in this status"},
			{"q", "words the prompt holds (the last also as a word's start), case and Latin accents aside"},
			{"from", "made at or after this date (2026-01-31) or time (RFC 3339)"}, {"to", "made before this time, or on or before this date"},
			{"resolution", "only this resolution"}, {"aspect_ratio", "only this aspect ratio"}, {"mode", "text-to-image or image-to-image"},
			{"favorite", "true: only favorites"}},
		answers: map[int]any{200: generationListDoc{}}},
	"DELETE /api/v1/images/:id":                  {tag: "images", summary: "Delete a generation (canceling it if it runs) and its files", answers: map[int]any{204: noBody{}}},
	"GET /api/v1/images/:id":                     {tag: "images", summary: "One generation, as the original service answered it (result_url, error_message)", answers: map[int]any{200: originalGenerationDoc{}}},
	"POST /api/v1/images/cancel/:id":             {tag: "images", summary: "Cancel a pending or running generation", answers: map[int]any{200: generationDoc{}}},
	"PUT /api/v1/images/favorite/:id":            {tag: "images", summary: "Mark or unmark a generation as a favorite", body: favoriteRequest{}, example: favoriteRequest{Favorite: true}, answers: map[int]any{200: generationDoc{}}},
	"GET /api/v1/boards":                         {tag: "boards", summary: "The user's boards, newest first, with how many generations each holds", answers: map[int]any{200: boardList{}}},
	"POST /api/v1/boards":                        {tag: "boards", summary: "Create a board", body: boardRequest{}, example: boardRequest{Name: "Lighthouses"}, answers: map[int]any{201: boardJSON{}}},
	"GET /api/v1/boards/:board_id":               {tag: "boards", summary: "A board and a page of its generations, newest first", query: []queryParam{{"limit", "page size, 1 to 100 (default 20)"}, {"cursor", "next_cursor of the previous page"}}, answers: map[int]any{200: boardPageDoc{}}},
	"PATCH /api/v1/boards/:board_id":             {tag: "boards", summary: "Rename a board", body: boardRequest{}, answers: map[int]any{200: boardJSON{}}},
	"DELETE /api/v1/boards/:board_id":            {tag: "boards", summary: "Delete a board (its generations stay)", answers: map[int]any{204: noBody{}}},
	"PUT /api/v1/boards/:board_id/images/:id":    {tag: "boards", summary: "Put a generation on a board (again: no change)", answers: map[int]any{204: noBody{}}},
	"DELETE /api/v1/boards/:board_id/images/:id": {tag: "boards", summary: "Take a generation off a board", answers: map[int]any{204: noBody{}}},
	"GET /api/v1/prompts/history":                {tag: "prompts", summary: "The user's past prompts, grouped by text, last used first, with counts", query: []queryParam{{"limit", "1 to 100 (default 50)"}}, answers: map[int]any{200: promptHistoryDoc{}}},
	"GET /api/v1/prompts/saved":                  {tag: "prompts", summary: "The user's saved prompts, newest first", answers: map[int]any{200: savedPromptList{}}},
	"POST /api/v1/prompts/saved":                 {tag: "prompts", summary: "Save a prompt under a name", body: savedPromptRequest{}, example: savedPromptRequest{Name: "Lighthouse", Prompt: "A banana lighthouse at dusk, watercolor"}, answers: map[int]any{201: savedPromptJSON{}}},
	"DELETE /api/v1/prompts/saved/:id":           {tag: "prompts", summary: "Delete a saved prompt", answers: map[int]any{204: noBody{}}},
	"POST /api/v1/images/retry/:id":              {tag: "images", summary: "Queue a failed or canceled generation again (409 generation_stopping with Retry-After while its run stops)", answers: map[int]any{202: generationDoc{}}},

	"GET /api/v1/batches/:id":         {tag: "batches", summary: "A batch (generate with count or prompts): its generations in the order asked for", answers: map[int]any{200: batchDoc{}}},
	"POST /api/v1/batches/cancel/:id": {tag: "batches", summary: "Cancel every pending or running generation of a batch (409 generation_finished when none is left)", answers: map[int]any{200: batchDoc{}}},
	"POST /api/v1/batches/retry/:id":  {tag: "batches", summary: "Queue every failed or canceled generation of a batch again (409 generation_not_retryable when none is, generation_stopping while one stops)", answers: map[int]any{202: batchDoc{}}},
	"GET /api/v1/queue/state":         {tag: "queue", summary: "Your own queue: paused or not, your waiting and running jobs", answers: map[int]any{200: queueStateJSON{}}},
	"POST /api/v1/queue/pause":        {tag: "queue", summary: "Pause your queue: your pending generations stay pending and are not started (queue_paused) until you resume", answers: map[int]any{200: queueStateJSON{}}},
	"POST /api/v1/queue/resume":       {tag: "queue", summary: "Resume your queue", answers: map[int]any{200: queueStateJSON{}}},
	"POST /api/v1/queue/front/:id":    {tag: "queue", summary: "Move your pending generation to the front of your own queue (409 generation_not_waiting once it runs)", answers: map[int]any{200: generationDoc{}}},
	"POST /api/v1/queue/back/:id":     {tag: "queue", summary: "Move your pending generation to the back of your own queue", answers: map[int]any{200: generationDoc{}}},

	"POST /api/v1/images/uploads":          {tag: "images", summary: "Store reference images (multipart field images) for image-to-image; the older path of POST /api/v1/uploads", multipart: true, answers: map[int]any{201: uploadsDoc{}}},
	"POST /api/v1/uploads":                 {tag: "uploads", summary: "Store reference images (multipart field images): checked to their end, turned upright, stripped of metadata; counted against the quota", multipart: true, answers: map[int]any{201: uploadsDoc{}}},
	"GET /api/v1/uploads":                  {tag: "uploads", summary: "The user's reference images, newest first, with how many generations use each, and the quota's use", query: []queryParam{{"limit", "1 to 100 (default 50)"}, {"cursor", "next_cursor of the previous page"}}, answers: map[int]any{200: uploadListDoc{}}},
	"POST /api/v1/uploads/generation/:id":  {tag: "uploads", summary: "Make a completed generation's image a reference image (for image-to-image from a result); answers like POST /api/v1/uploads", answers: map[int]any{201: uploadsDoc{}}},
	"DELETE /api/v1/uploads/:id":           {tag: "uploads", summary: "Delete a reference image (refused while a pending or running generation uses it)", answers: map[int]any{204: noBody{}}},
	"GET /api/v1/uploads/file/:id":         {tag: "files", summary: "A reference image", answers: map[int]any{200: fileAnswer{}, 206: fileAnswer{}, 304: noBody{}}},
	"HEAD /api/v1/uploads/file/:id":        {tag: "files", summary: "A reference image's headers", answers: map[int]any{200: noBody{}, 304: noBody{}}},
	"GET /api/v1/images/uploads/file/:id":  {tag: "files", summary: "A reference image", answers: map[int]any{200: fileAnswer{}, 206: fileAnswer{}, 304: noBody{}}},
	"HEAD /api/v1/images/uploads/file/:id": {tag: "files", summary: "A reference image's headers", answers: map[int]any{200: noBody{}, 304: noBody{}}},
	"GET /api/v1/images/file/:id":          {tag: "files", summary: "A generation's image (?download=1: as an attachment with its prompt and settings inside: PNG iTXt, JPEG comment and XMP)", query: []queryParam{{"download", "1: save it, with the recipe inside the file"}}, answers: map[int]any{200: fileAnswer{}, 206: fileAnswer{}, 304: noBody{}}},
	"HEAD /api/v1/images/file/:id":         {tag: "files", summary: "A generation's image's headers", answers: map[int]any{200: noBody{}, 304: noBody{}}},
	"GET /api/v1/images/thumbnail/:id":     {tag: "files", summary: "A generation's thumbnail", answers: map[int]any{200: fileAnswer{}, 206: fileAnswer{}, 304: noBody{}}},
	"HEAD /api/v1/images/thumbnail/:id":    {tag: "files", summary: "A generation's thumbnail's headers", answers: map[int]any{200: noBody{}, 304: noBody{}}},
	"POST /api/v1/images/zip": {tag: "files", summary: "Several of the user's images as one zip, each entry carrying its recipe: a selection (ids, at most 200; any id not the user's or without an image: 404, nothing zipped) or a whole board (board_id: its images, however many)",
		body: zipRequest{}, example: zipRequest{IDs: []string{"0192f0c1a2b34c5d6e7f8091a2b3c4d5"}}, answers: map[int]any{200: zipAnswer{}}},
	"POST /api/v1/zips": {tag: "files", summary: "A short-lived link (5 minutes) that downloads the selection (ids) or the board (board_id) as a zip, for browsers; checked now",
		body: zipRequest{}, example: zipRequest{IDs: []string{"0192f0c1a2b34c5d6e7f8091a2b3c4d5"}}, answers: map[int]any{201: zipLinkJSON{}}},
	"GET /api/v1/zips/:token": {tag: "files", summary: "The zip of a link from POST /api/v1/zips (the link is its credential)", answers: map[int]any{200: zipAnswer{}}},
	"POST /api/v1/shares": {tag: "shares", summary: "Make a public, read-only link to one of the user's images (image_id) or boards (board_id), with an optional expiry in hours",
		body: shareRequest{}, example: shareRequest{ImageID: "0192f0c1a2b34c5d6e7f8091a2b3c4d5", ExpiresInHours: 168}, answers: map[int]any{201: shareJSON{}}},
	"GET /api/v1/shares":              {tag: "shares", summary: "The user's share links, newest first, expired ones included", answers: map[int]any{200: shareList{}}},
	"DELETE /api/v1/shares/:token":    {tag: "shares", summary: "Revoke a share link: 404 through it from the next request on", answers: map[int]any{204: noBody{}}},
	"GET /api/v1/shared/info/:token":  {tag: "shares", summary: "Public: what a link shows (no account needed; no-store): an image with its prompt, size and URLs, or a board's name and a page of its images", query: []queryParam{{"cursor", "a board link's next_cursor"}}, answers: map[int]any{200: sharedJSON{}}},
	"GET /api/v1/shared/file/:token":  {tag: "shares", summary: "Public: the shared image (?download=1: as an attachment with its recipe)", query: []queryParam{{"image", "on a board link: which of its images (its image_url has it)"}, {"download", "1: save it, with the prompt and settings inside the file"}}, answers: map[int]any{200: fileAnswer{}, 206: fileAnswer{}, 304: noBody{}}},
	"GET /api/v1/events":              {tag: "events", summary: "Server-Sent Events of the user's generations (Last-Event-ID replays)", query: []queryParam{{"ticket", "a stream ticket, for browsers' EventSource"}, {"last_event_id", "where to resume, for clients that cannot send Last-Event-ID"}}, answers: map[int]any{200: sseAnswer{}}},
	"POST /api/v1/events/ticket":      {tag: "events", summary: "A short-lived ticket that opens the event stream from a browser", answers: map[int]any{200: ticketDoc{}}},
	"POST /api/v1/webhooks/replicate": {tag: "webhooks", summary: "Replicate's deliveries (signed by Replicate)", answers: map[int]any{204: noBody{}}},
}

// openAPIPath turns httprouter's :id into OpenAPI's {id}.
func openAPIPath(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// schemaBuilder turns Go types into JSON Schemas (2020-12, as OpenAPI 3.1 has them),
// named structs becoming components.
type schemaBuilder struct{ defs map[string]any }

func schemaName(t reflect.Type) string {
	n := strings.TrimSuffix(strings.TrimSuffix(t.Name(), "JSON"), "Doc")
	return strings.ToUpper(n[:1]) + n[1:]
}

var timeType = reflect.TypeOf(time.Time{})

func (b *schemaBuilder) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == reflect.TypeOf(json.RawMessage(nil)):
		return map[string]any{} // any JSON value
	case t == reflect.TypeOf(db.Code("")):
		codes := db.Codes()
		slices.Sort(codes)
		return map[string]any{"type": "string", "enum": codes}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := b.schema(t.Elem())
		if ref, ok := s["$ref"]; ok {
			return map[string]any{"oneOf": []any{map[string]any{"$ref": ref}, map[string]any{"type": "null"}}}
		}
		s["type"] = []any{s["type"], "null"}
		return s
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": b.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": b.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := schemaName(t)
		if _, ok := b.defs[name]; !ok {
			b.defs[name] = nil // a recursion guard
			props, required := map[string]any{}, []string{}
			b.fields(t, props, &required)
			sort.Strings(required)
			b.defs[name] = map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// fields adds t's fields (and its embedded structs') as properties.
func (b *schemaBuilder) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			b.fields(f.Type, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := b.schema(f.Type)
		if enum := f.Tag.Get("enum"); enum != "" {
			values := []any{}
			for _, v := range strings.Split(enum, ",") {
				values = append(values, v)
			}
			if f.Type.Kind() == reflect.Pointer {
				values = append(values, nil) // a nullable field's enum holds null too
			}
			s["enum"] = values
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") {
			*required = append(*required, name)
		}
	}
}

// requestSchema is the schema of a request body: its fields are all optional (the
// handler answers a missing one by name).
func (b *schemaBuilder) requestSchema(v any) map[string]any {
	t := reflect.TypeOf(v)
	if t.Kind() != reflect.Struct {
		return map[string]any{"type": "object"}
	}
	props, required := map[string]any{}, []string{}
	b.fields(t, props, &required) // required is dropped: see above
	return map[string]any{"type": "object", "properties": props}
}

// openAPI answers the document, built once.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	s.openAPIOnce.Do(func() { s.openAPIJSON, _ = json.Marshal(s.openAPIDocument()) })
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(s.openAPIJSON)
	return nil
}

// openAPIDocument builds the document from the route table and apiDocs.
func (s *Server) openAPIDocument() map[string]any {
	b := &schemaBuilder{defs: map[string]any{}}
	errRef := b.schema(reflect.TypeOf(errorJSON{}))
	errorAnswer := map[string]any{
		"description": "An error: detail is a sentence for a person (in the language of Accept-Language), code a stable word from the catalogue for scripts; fields on 422. 429, 503 and conflicts that clear by themselves carry Retry-After.",
		"content":     map[string]any{"application/json": map[string]any{"schema": errRef}},
	}
	paths := map[string]any{}
	for _, rt := range s.routeTable() {
		key := rt.method + " " + rt.path
		d, ok := apiDocs[key]
		if !ok {
			d = opDoc{summary: key}
		}
		op := map[string]any{
			"summary":     d.summary,
			"operationId": operationID(rt.method, rt.path),
		}
		if d.tag != "" {
			op["tags"] = []string{d.tag}
		}
		var params []any
		for _, seg := range strings.Split(rt.path, "/") {
			if strings.HasPrefix(seg, ":") {
				params = append(params, map[string]any{"name": seg[1:], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
			}
		}
		for _, q := range d.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.description, "schema": map[string]any{"type": "string"}})
		}
		for _, h := range d.headers {
			params = append(params, map[string]any{"name": h.name, "in": "header", "description": h.description, "schema": map[string]any{"type": "string", "minLength": 1, "maxLength": 255}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if d.body != nil || d.multipart {
			content := map[string]any{}
			if d.body != nil {
				c := map[string]any{"schema": b.requestSchema(d.body)}
				if d.example != nil {
					c["example"] = d.example
				}
				content["application/json"] = c
			}
			if d.multipart {
				content["multipart/form-data"] = map[string]any{"schema": map[string]any{"type": "object",
					"properties": map[string]any{"images": map[string]any{"type": "array", "items": map[string]any{"type": "string", "contentEncoding": "binary"}}}}}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		answers := map[string]any{"4XX": errorAnswer, "5XX": errorAnswer}
		for status, a := range d.answers {
			answers[strconv.Itoa(status)] = answerDoc(b, a)
		}
		op["responses"] = answers
		switch {
		case rt.who == whoPublic:
			op["security"] = []any{}
		default:
			scopes := []string{}
			if rt.scope != "" {
				scopes = append(scopes, rt.scope)
			}
			sec := []any{map[string]any{"bearer": scopes}}
			if rt.creds != nil {
				switch {
				case strings.Contains(rt.path, "/events"):
					sec = append(sec, map[string]any{"ticket": []string{}})
				case strings.Contains(rt.path, "/zips/"):
					sec = append(sec, map[string]any{}) // the token in the path is the credential
				default:
					sec = append(sec, map[string]any{"signedLink": []string{}})
				}
			}
			op["security"] = sec
			desc := "Needs a session's access token"
			if rt.scope != "" {
				desc += ", or a personal access token with the \"" + rt.scope + "\" scope."
			} else {
				desc += " (personal access tokens are refused)."
			}
			if rt.who == whoAdmin {
				desc += " Administrators only."
			}
			op["description"] = desc
		}
		p, _ := paths[openAPIPath(rt.path)].(map[string]any)
		if p == nil {
			p = map[string]any{}
			paths[openAPIPath(rt.path)] = p
		}
		p[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "nanobanana",
			"version":     s.version,
			"description": "Image generation with Google's Nano Banana Pro on Replicate, for several users. Errors are JSON {\"detail\", \"code\"}; scripts authenticate with a personal access token (Settings) sent as Authorization: Bearer.",
		},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": b.defs,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer",
					"description": "A session's access token (a JWT from login, register or refresh), or a personal access token (nbp_...) limited to its scopes: read, generate, admin."},
				"ticket": map[string]any{"type": "apiKey", "in": "query", "name": "ticket",
					"description": "A stream ticket from POST /api/v1/events/ticket, for a browser's EventSource."},
				"signedLink": map[string]any{"type": "apiKey", "in": "query", "name": "sig",
					"description": "A signed, short-lived file link (u, exp and sig), as image_url and thumbnail_url carry."},
			},
		},
	}
}

func answerDoc(b *schemaBuilder, a any) map[string]any {
	switch a := a.(type) {
	case noBody:
		return map[string]any{"description": "No body."}
	case fileAnswer:
		return map[string]any{"description": "The file.", "content": map[string]any{
			"image/*": map[string]any{"schema": map[string]any{"type": "string", "contentEncoding": "binary"}}}}
	case csvAnswer:
		return map[string]any{"description": "CSV, one line per day, user and payer: date,user_id,username,paid_by,usd,images.",
			"content": map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}}
	case zipAnswer:
		return map[string]any{"description": "A zip of the images (Stored entries, each with its recipe), streamed as it is written.", "content": map[string]any{
			"application/zip": map[string]any{"schema": map[string]any{"type": "string", "contentEncoding": "binary"}}}}
	case sseAnswer:
		return map[string]any{"description": "Server-Sent Events: each event's data is a generation (see Generation), or a last end event.",
			"content": map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}}
	default:
		return map[string]any{"description": "OK", "content": map[string]any{
			"application/json": map[string]any{"schema": b.schema(reflect.TypeOf(a))}}}
	}
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.Split(strings.TrimPrefix(strings.TrimPrefix(path, "/api/v1"), "/"), "/") {
		seg = strings.TrimPrefix(seg, ":")
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '.' || r == '_' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
