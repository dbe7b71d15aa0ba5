package replicate

import (
	"encoding/json"
	"time"
)

// Status is a prediction's lifecycle state as Replicate reports it.
type Status string

const (
	StatusStarting   Status = "starting"
	StatusProcessing Status = "processing"
	StatusSucceeded  Status = "succeeded"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
	// StatusAborted only happens with Cancel-After reached before the run
	// started; a client that does not know it would poll forever.
	StatusAborted Status = "aborted"
)

// Terminal reports whether a prediction in this state will never change again.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCanceled, StatusAborted:
		return true
	}
	return false
}

// Model input values, named so callers need not repeat the strings.
const (
	AspectMatchInput = "match_input_image"

	Resolution1K = "1K"
	Resolution2K = "2K"
	Resolution4K = "4K"

	FormatJPG = "jpg"
	FormatPNG = "png"

	SafetyLowAndAbove    = "block_low_and_above"
	SafetyMediumAndAbove = "block_medium_and_above"
	SafetyOnlyHigh       = "block_only_high"
)

// AspectRatios lists the aspect_ratio values the model accepts.
var AspectRatios = []string{AspectMatchInput, "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}

// Resolutions, OutputFormats and SafetyLevels list the other enum inputs.
var (
	Resolutions   = []string{Resolution1K, Resolution2K, Resolution4K}
	OutputFormats = []string{FormatJPG, FormatPNG}
	SafetyLevels  = []string{SafetyLowAndAbove, SafetyMediumAndAbove, SafetyOnlyHigh}
)

// MaxImageInputs is the model's limit on reference images.
const MaxImageInputs = 14

// Input holds google/nano-banana-pro's input fields. Empty optional fields are
// left out so Replicate applies its own defaults.
type Input struct {
	Prompt            string   `json:"prompt"`
	ImageInput        []string `json:"image_input,omitempty"`
	AspectRatio       string   `json:"aspect_ratio,omitempty"`
	Resolution        string   `json:"resolution,omitempty"`
	OutputFormat      string   `json:"output_format,omitempty"`
	SafetyFilterLevel string   `json:"safety_filter_level,omitempty"`
}

// CreateOptions are the per-create protocol knobs.
type CreateOptions struct {
	// Wait > 0 sends "Prefer: wait=N" (rounded up to whole seconds, 1..60).
	Wait time.Duration
	// CancelAfter > 0 sends "Cancel-After"; values under 5 s are raised to 5 s
	// because Replicate refuses less.
	CancelAfter time.Duration
	// Webhook, when set, asks Replicate to POST the prediction there.
	Webhook string
	// WebhookEvents filters the webhook (start, output, logs, completed).
	WebhookEvents []string
}

// Prediction is Replicate's prediction object.
type Prediction struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Version string          `json:"version"`
	Input   json.RawMessage `json:"input"`
	// Output is kept raw: for this model it is one URI string, but a list of
	// strings has been seen from other models and is accepted too (OutputURL).
	Output      json.RawMessage `json:"output"`
	Error       string          `json:"error"`
	Logs        string          `json:"logs"`
	Status      Status          `json:"status"`
	Source      string          `json:"source,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   time.Time       `json:"started_at"`
	CompletedAt time.Time       `json:"completed_at"`
	Deadline    time.Time       `json:"deadline"`
	DataRemoved bool            `json:"data_removed"`
	Metrics     Metrics         `json:"metrics"`
	URLs        PredictionURLs  `json:"urls"`
}

// Metrics carries compute time; PredictTime is in seconds.
type Metrics struct {
	PredictTime float64 `json:"predict_time"`
}

// PredictionURLs are the API links Replicate returns with a prediction.
type PredictionURLs struct {
	Get    string `json:"get"`
	Cancel string `json:"cancel"`
	Web    string `json:"web"`
	Stream string `json:"stream,omitempty"`
}

// Terminal reports whether the prediction has ended.
func (p *Prediction) Terminal() bool { return p != nil && p.Status.Terminal() }

// OutputURL returns the output URI: the string itself, or the first string of
// a list. It is "" while there is no output (or after data removal).
func (p *Prediction) OutputURL() string {
	if p == nil || len(p.Output) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(p.Output, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(p.Output, &list) == nil && len(list) > 0 {
		return list[0]
	}
	return ""
}

// Account is GET /account's answer.
type Account struct {
	Type      string `json:"type"` // "user" or "organization"
	Username  string `json:"username"`
	Name      string `json:"name"`
	GithubURL string `json:"github_url,omitempty"`
}

// File is an uploaded file; pass URLs.Get as an input URI.
type File struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	ContentType string            `json:"content_type"`
	Size        int64             `json:"size"`
	Etag        string            `json:"etag,omitempty"`
	Checksums   map[string]string `json:"checksums,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	ExpiresAt   time.Time         `json:"expires_at"`
	URLs        struct {
		Get string `json:"get"`
	} `json:"urls"`
}
