package replicatetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Config holds the knobs that may change while the server runs (Configure,
// POST /_fake/config). In JSON, durations are Go duration strings ("250ms").
type Config struct {
	// QueueTime is how long a prediction stays "starting"; RunTime how long
	// it then stays "processing"; SlowRunTime replaces RunTime for prompts
	// containing "[[slow]]".
	QueueTime   time.Duration `json:"queue_time"`
	RunTime     time.Duration `json:"run_time"`
	SlowRunTime time.Duration `json:"slow_run_time"`
	// RetentionPeriod after completion the output is removed (data_removed).
	RetentionPeriod time.Duration `json:"retention_period"`
	// ExpireOutputs removes every finished output at once (and any later one
	// as soon as it is produced).
	ExpireOutputs bool `json:"expire_outputs"`
	// OutputEarly sets output half-way through processing, as Replicate may
	// do for file outputs, while status is still "processing".
	OutputEarly bool `json:"output_early"`
	// OutputAsList answers output as ["url"] instead of "url".
	OutputAsList bool `json:"output_as_list"`
	// ListWithInput includes each prediction's input in GET /predictions. Off by
	// default: the API reference shows list entries without input, so clients
	// must Get a prediction to compare inputs.
	ListWithInput bool `json:"list_with_input"`
	// JPEGExtension is the extension of jpg outputs ("jpeg" like the real
	// service has been seen to do, or "jpg").
	JPEGExtension string `json:"jpeg_extension"`
	// PageSize of GET /predictions.
	PageSize int `json:"page_size"`

	// RejectedTokens answer 401 everywhere; NoCreditTokens answer 402 on create.
	RejectedTokens []string `json:"rejected_tokens"`
	NoCreditTokens []string `json:"no_credit_tokens"`

	// Fractions of predictions that fail: with E005, E6716, or generically.
	SafetyRate    float64 `json:"safety_rate"`
	TransientRate float64 `json:"transient_rate"`
	FailRate      float64 `json:"fail_rate"`

	// Fractions of API requests answered 429 or 5xx (500, 502 or 503).
	Rate429 float64 `json:"rate_429"`
	Rate5xx float64 `json:"rate_5xx"`
	// The next N creates answer 429 (ThrottleNextCreates) or 503
	// (UnavailableNextCreates) without creating anything.
	ThrottleNextCreates    int `json:"throttle_next_creates"`
	UnavailableNextCreates int `json:"unavailable_next_creates"`
	// RetryAfterSeconds is what a 429 names; OmitRetryAfter leaves the
	// header out so only the detail text carries it.
	RetryAfterSeconds int  `json:"retry_after_seconds"`
	OmitRetryAfter    bool `json:"omit_retry_after"`
	// LoseNextCreates: the next N creates DO create the prediction, then the
	// connection is closed without an answer.
	LoseNextCreates int `json:"lose_next_creates"`
	// Latency is added before every API call is handled.
	Latency time.Duration `json:"latency"`

	// WebhookRetries is how many times a refused delivery is retried, with
	// WebhookRetryDelay doubling between attempts.
	WebhookRetries    int           `json:"webhook_retries"`
	WebhookRetryDelay time.Duration `json:"webhook_retry_delay"`
}

// withDefaults fills zero values; a negative duration means "none".
func (c Config) withDefaults() Config {
	dur := func(d *time.Duration, def time.Duration) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			*d = 0
		}
	}
	dur(&c.QueueTime, 50*time.Millisecond)
	dur(&c.RunTime, 200*time.Millisecond)
	dur(&c.SlowRunTime, 5*time.Second)
	dur(&c.RetentionPeriod, time.Hour)
	dur(&c.WebhookRetryDelay, 50*time.Millisecond)
	if c.JPEGExtension == "" {
		c.JPEGExtension = "jpeg"
	}
	if c.PageSize <= 0 {
		c.PageSize = 100
	}
	if c.RetryAfterSeconds <= 0 {
		c.RetryAfterSeconds = 1
	}
	if c.WebhookRetries == 0 {
		c.WebhookRetries = 3
	} else if c.WebhookRetries < 0 {
		c.WebhookRetries = 0
	}
	return c
}

var durationType = reflect.TypeFor[time.Duration]()

// MarshalJSON writes durations as strings so a person can read them.
func (c Config) MarshalJSON() ([]byte, error) {
	v := reflect.ValueOf(c)
	out := make(map[string]any, v.NumField())
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := jsonName(f)
		if f.Type == durationType {
			out[name] = time.Duration(v.Field(i).Int()).String()
		} else {
			out[name] = v.Field(i).Interface()
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON patches: only the keys present change. Durations take a Go
// duration string or a number of nanoseconds; unknown keys are an error so
// a typo in a test does not silently do nothing.
func (c *Config) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	v := reflect.ValueOf(c).Elem()
	fields := map[string]int{}
	for i := range v.NumField() {
		fields[jsonName(v.Type().Field(i))] = i
	}
	for k, raw := range m {
		i, ok := fields[k]
		if !ok {
			return fmt.Errorf("unknown knob %q", k)
		}
		fv := v.Field(i)
		if fv.Type() == durationType {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				d, err := time.ParseDuration(s)
				if err != nil {
					return fmt.Errorf("knob %q: %w", k, err)
				}
				fv.SetInt(int64(d))
				continue
			}
			var n int64
			if err := json.Unmarshal(raw, &n); err != nil {
				return fmt.Errorf("knob %q: want a duration string", k)
			}
			fv.SetInt(n)
			continue
		}
		if err := json.Unmarshal(raw, fv.Addr().Interface()); err != nil {
			return fmt.Errorf("knob %q: %w", k, err)
		}
	}
	return nil
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// Stats counts what the server saw since start or the last Reset.
type Stats struct {
	Requests       int            `json:"requests"`
	Created        int            `json:"created"`
	CreatedByToken map[string]int `json:"created_by_token"`
	// Charged predictions reached "processing" (Replicate bills those).
	Charged   int `json:"charged"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Canceled  int `json:"canceled"`
	Aborted   int `json:"aborted"`
	// Active predictions are starting or processing now; MaxActive is the
	// most seen at once.
	Active          int `json:"active"`
	MaxActive       int `json:"max_active"`
	Gets            int `json:"gets"`
	Lists           int `json:"lists"`
	CancelCalls     int `json:"cancel_calls"`
	Accounts        int `json:"accounts"`
	FilesUploaded   int `json:"files_uploaded"`
	Downloads       int `json:"downloads"`
	Unauthorized    int `json:"unauthorized"`
	Throttled       int `json:"throttled"`
	ServerErrors    int `json:"server_errors"`
	LostResponses   int `json:"lost_responses"`
	Invalid         int `json:"invalid"`
	WebhookAttempts int `json:"webhook_attempts"`
	WebhooksSent    int `json:"webhooks_sent"`
	WebhooksFailed  int `json:"webhooks_failed"`
	WebhooksDropped int `json:"webhooks_dropped"`
}

func (s Stats) clone() Stats {
	m := make(map[string]int, len(s.CreatedByToken))
	for k, v := range s.CreatedByToken {
		m[k] = v
	}
	s.CreatedByToken = m
	return s
}
