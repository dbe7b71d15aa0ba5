package replicatetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Failure texts, as Replicate words them.
const (
	MsgSensitive = "The input or output was flagged as sensitive. (E005)"
	MsgDirector  = "Director: unexpected error handling prediction (E6716)"
	MsgPA        = "interrupted (code: PA)"
	MsgGeneric   = "Prediction failed: the model raised an error (fake failure)."
	MsgTimedOut  = "Prediction timed out"
)

// The fake's version id for the official model; any stable string will do.
const fakeVersion = "f0a1e2d3c4b5a697887766554433221100ffeeddccbbaa998877665544332211"

type pred struct {
	id, token string
	seq       uint64
	model     string
	input     json.RawMessage
	status    string
	errMsg    string
	logs      string
	output    string
	created   time.Time
	started   time.Time
	completed time.Time
	deadline  time.Time
	removed   bool

	webhook string
	filter  map[string]bool

	img     imageSpec
	runTime time.Duration
	failMsg string // how it will end; "" = success
	stuck   bool   // never leaves "starting" on its own

	done   chan struct{} // closed when terminal
	events []*event
}

func (p *pred) terminal() bool {
	switch p.status {
	case "succeeded", "failed", "canceled", "aborted":
		return true
	}
	return false
}

func (p *pred) cancelEvents() {
	for _, ev := range p.events {
		ev.canceled = true
	}
	p.events = nil
}

type wirePred struct {
	ID          string            `json:"id"`
	Model       string            `json:"model"`
	Version     string            `json:"version"`
	Input       json.RawMessage   `json:"input"`
	Logs        string            `json:"logs"`
	Output      any               `json:"output"`
	DataRemoved bool              `json:"data_removed"`
	Error       *string           `json:"error"`
	Status      string            `json:"status"`
	Source      string            `json:"source"`
	CreatedAt   string            `json:"created_at"`
	StartedAt   *string           `json:"started_at"`
	CompletedAt *string           `json:"completed_at"`
	Deadline    *string           `json:"deadline,omitempty"`
	Metrics     map[string]any    `json:"metrics,omitempty"`
	URLs        map[string]string `json:"urls"`
}

func ts(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// wireLocked renders p after applying retention.
func (s *Server) wireLocked(p *pred) wirePred {
	s.expireLocked(p)
	w := wirePred{
		ID: p.id, Model: p.model, Version: fakeVersion, Input: p.input, Logs: p.logs,
		DataRemoved: p.removed, Status: p.status, Source: "api",
		CreatedAt: *ts(p.created), StartedAt: ts(p.started), CompletedAt: ts(p.completed), Deadline: ts(p.deadline),
		URLs: map[string]string{
			"get":    s.URL() + "/predictions/" + p.id,
			"cancel": s.URL() + "/predictions/" + p.id + "/cancel",
			"web":    s.base + "/p/" + p.id,
		},
	}
	if p.errMsg != "" {
		e := p.errMsg
		w.Error = &e
	}
	if p.output != "" && !p.removed {
		if s.cfg.OutputAsList {
			w.Output = []string{p.output}
		} else {
			w.Output = p.output
		}
	}
	if !p.completed.IsZero() && !p.started.IsZero() {
		w.Metrics = map[string]any{"predict_time": p.completed.Sub(p.started).Seconds()}
	}
	return w
}

// expireLocked applies retention lazily: whoever looks next sees it.
func (s *Server) expireLocked(p *pred) {
	if p.removed || p.completed.IsZero() {
		return
	}
	if s.cfg.ExpireOutputs || !s.nowLocked().Before(p.completed.Add(s.cfg.RetentionPeriod)) {
		p.removed = true
		p.output = ""
		p.input = json.RawMessage(`{}`)
	}
}

// ---- create ----

var knownEvents = []string{"start", "output", "logs", "completed"}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, token string) {
	model := r.PathValue("owner") + "/" + r.PathValue("name")
	s.mu.Lock()
	if model != s.opts.Model {
		s.mu.Unlock()
		writeProblem(w, http.StatusNotFound, "Model not found", "Model not found", nil)
		return
	}
	fault := 0
	switch {
	case s.cfg.ThrottleNextCreates > 0:
		s.cfg.ThrottleNextCreates--
		fault = 429
	case s.cfg.UnavailableNextCreates > 0:
		s.cfg.UnavailableNextCreates--
		fault = 503
	}
	noCredit := slices.Contains(s.cfg.NoCreditTokens, token)
	s.mu.Unlock()
	if fault != 0 {
		s.writeFault(w, fault)
		return
	}
	if noCredit {
		writeProblem(w, http.StatusPaymentRequired, "Insufficient credit",
			"You have insufficient credit to run this model. Go to https://replicate.com/account/billing#billing to purchase credit. Once you purchase credit, please wait a few minutes before trying to run the model again.", nil)
		return
	}

	var req struct {
		Input   json.RawMessage `json:"input"`
		Webhook *string         `json:"webhook"`
		Filter  []string        `json:"webhook_events_filter"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.countInvalid()
		writeProblem(w, http.StatusBadRequest, "Invalid request body", "The request body is not valid JSON.", nil)
		return
	}
	in, fields := validateInput(req.Input)
	if req.Webhook != nil {
		u, err := url.Parse(*req.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fields = append(fields, invalidField{"format", "webhook", "webhook must be an absolute http or https URL"})
		}
	}
	for _, e := range req.Filter {
		if !slices.Contains(knownEvents, e) {
			fields = append(fields, invalidField{"enum", "webhook_events_filter", fmt.Sprintf("%q is not one of start, output, logs, completed", e)})
		}
	}
	wait, waitErr := parsePrefer(r.Header.Get("Prefer"))
	if waitErr != "" {
		fields = append(fields, invalidField{"format", "header.Prefer", waitErr})
	}
	cancelAfter, caErr := parseCancelAfter(r.Header.Get("Cancel-After"))
	if caErr != "" {
		fields = append(fields, invalidField{"format", "header.Cancel-After", caErr})
	}
	if len(fields) > 0 {
		s.countInvalid()
		var d strings.Builder
		for _, f := range fields {
			fmt.Fprintf(&d, "- %s: %s\n", f.Field, f.Description)
		}
		writeProblem(w, http.StatusUnprocessableEntity, "Input validation failed", d.String(), fields)
		return
	}

	s.mu.Lock()
	now := s.nowLocked()
	s.seq++
	p := &pred{
		id: newID(), token: token, seq: s.seq, model: model, input: req.Input,
		status: "starting", created: now, done: make(chan struct{}),
	}
	s.planLocked(p, in)
	if req.Webhook != nil {
		p.webhook = *req.Webhook
		p.filter = map[string]bool{}
		for _, e := range req.Filter {
			p.filter[e] = true
		}
		if len(p.filter) == 0 {
			for _, e := range knownEvents {
				p.filter[e] = true
			}
		}
	}
	s.preds[p.id] = p
	s.stats.Created++
	s.stats.CreatedByToken[token]++
	s.stats.Active++
	s.stats.MaxActive = max(s.stats.MaxActive, s.stats.Active)
	if !p.stuck {
		p.events = append(p.events, s.scheduleLocked(s.cfg.QueueTime, func() { s.startLocked(p) }))
	}
	if cancelAfter > 0 {
		p.deadline = now.Add(cancelAfter)
		p.events = append(p.events, s.scheduleLocked(cancelAfter, func() { s.deadlineLocked(p) }))
	}
	s.hookLocked(p, "start")
	lose := s.cfg.LoseNextCreates > 0
	if lose {
		s.cfg.LoseNextCreates--
		s.stats.LostResponses++
	}
	var timeout chan struct{}
	if wait > 0 && !lose {
		timeout = make(chan struct{})
		s.scheduleLocked(wait, func() { close(timeout) })
	}
	s.mu.Unlock()
	s.log.Info("fake replicate: prediction created", "id", p.id, "lost_response", lose)

	if lose {
		_ = loseResponse(w)
		return
	}
	if timeout != nil {
		select {
		case <-p.done:
		case <-timeout:
		case <-r.Context().Done():
			return
		case <-s.closing:
		}
	}
	s.mu.Lock()
	out := s.wireLocked(p)
	s.mu.Unlock()
	w.Header().Set("Location", out.URLs["get"])
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) countInvalid() {
	s.mu.Lock()
	s.stats.Invalid++
	s.mu.Unlock()
}

// planLocked decides at create time how the prediction will go, from
// markers in the prompt first, then the random failure fractions.
func (s *Server) planLocked(p *pred, in modelInput) {
	p.runTime = s.cfg.RunTime
	switch {
	case strings.Contains(in.Prompt, "[[E005]]"):
		p.failMsg = MsgSensitive
	case strings.Contains(in.Prompt, "[[E6716]]"):
		p.failMsg = MsgDirector
	case strings.Contains(in.Prompt, "[[PA]]"):
		p.failMsg = MsgPA
	case strings.Contains(in.Prompt, "[[fail]]"):
		p.failMsg = MsgGeneric
	case s.cfg.SafetyRate > 0 && s.rng.Float64() < s.cfg.SafetyRate:
		p.failMsg = MsgSensitive
	case s.cfg.TransientRate > 0 && s.rng.Float64() < s.cfg.TransientRate:
		p.failMsg = MsgDirector
	case s.cfg.FailRate > 0 && s.rng.Float64() < s.cfg.FailRate:
		p.failMsg = MsgGeneric
	}
	if strings.Contains(in.Prompt, "[[slow]]") {
		p.runTime = s.cfg.SlowRunTime
	}
	p.stuck = strings.Contains(in.Prompt, "[[stuck]]")
	p.img = s.imageSpecLocked(in)
}

func (s *Server) startLocked(p *pred) {
	if p.status != "starting" {
		return
	}
	p.status = "processing"
	p.started = s.nowLocked()
	p.logs = "Using seed: 42\nGenerating image...\n"
	s.stats.Charged++
	s.hookLocked(p, "logs")
	if s.cfg.OutputEarly && p.failMsg == "" {
		p.events = append(p.events, s.scheduleLocked(p.runTime/2, func() {
			if p.status == "processing" {
				s.setOutputLocked(p)
			}
		}))
	}
	// Replicate stops a run after 30 minutes on its own.
	run, msg := p.runTime, p.failMsg
	if run > 30*time.Minute {
		run, msg = 30*time.Minute, MsgTimedOut
	}
	p.events = append(p.events, s.scheduleLocked(run, func() { s.finishLocked(p, msg) }))
}

func (s *Server) setOutputLocked(p *pred) {
	if p.output != "" {
		return
	}
	p.output = fmt.Sprintf("%s/delivery/xezq/%s/tmp%s.%s", s.base, p.id, p.id[:8], p.img.ext)
	s.hookLocked(p, "output")
}

func (s *Server) finishLocked(p *pred, failMsg string) {
	if p.status != "processing" {
		return
	}
	if failMsg != "" {
		p.errMsg = failMsg
		p.output = ""
		p.logs += "Error: " + failMsg + "\n"
		s.endLocked(p, "failed")
		return
	}
	s.setOutputLocked(p)
	p.logs += "Done.\n"
	s.endLocked(p, "succeeded")
}

// deadlineLocked is Cancel-After: aborted when the run never started (not
// charged), canceled when it was running (charged).
func (s *Server) deadlineLocked(p *pred) {
	switch p.status {
	case "starting":
		s.endLocked(p, "aborted")
	case "processing":
		s.endLocked(p, "canceled")
	}
}

func (s *Server) endLocked(p *pred, status string) {
	p.status = status
	p.completed = s.nowLocked()
	p.cancelEvents()
	s.stats.Active--
	switch status {
	case "succeeded":
		s.stats.Succeeded++
	case "failed":
		s.stats.Failed++
	case "canceled":
		s.stats.Canceled++
	case "aborted":
		s.stats.Aborted++
	}
	close(p.done)
	s.hookLocked(p, "completed")
}

// parsePrefer reads "wait" or "wait=N" (1..60) among the preferences; a
// malformed wait is refused with 422 rather than ignored, so a client bug
// shows up in tests instead of as a silent non-wait.
func parsePrefer(h string) (time.Duration, string) {
	for part := range strings.SplitSeq(h, ",") {
		part = strings.TrimSpace(part)
		name, val, hasVal := strings.Cut(part, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "wait") {
			continue
		}
		if !hasVal {
			return 60 * time.Second, ""
		}
		n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`))
		if err != nil || n < 1 || n > 60 {
			return 0, "wait must be a whole number of seconds from 1 to 60"
		}
		return time.Duration(n) * time.Second, ""
	}
	return 0, ""
}

var cancelAfterRe = regexp.MustCompile(`^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$`)

// parseCancelAfter takes "30s", "5m", "1h30m" or bare seconds. Under 5 s is
// refused with 422 (not clamped) so a client that sends less finds out.
func parseCancelAfter(h string) (time.Duration, string) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, ""
	}
	var d time.Duration
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		d = time.Duration(n) * time.Second
	} else if m := cancelAfterRe.FindStringSubmatch(h); m != nil {
		for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
			if m[i+1] != "" {
				n, _ := strconv.ParseInt(m[i+1], 10, 64)
				d += time.Duration(n) * unit
			}
		}
	} else {
		return 0, "Cancel-After must look like 30s, 5m, 1h30m or a number of seconds"
	}
	if d < 5*time.Second {
		return 0, "Cancel-After must be at least 5s"
	}
	return d, ""
}

// ---- read, list, cancel ----

func (s *Server) lookupLocked(token, id string) *pred {
	p := s.preds[id]
	if p == nil || p.token != token {
		// Another account's prediction is as invisible as a missing one.
		return nil
	}
	return p
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, token string) {
	s.mu.Lock()
	s.stats.Gets++
	p := s.lookupLocked(token, r.PathValue("id"))
	if p == nil {
		s.mu.Unlock()
		writeProblem(w, http.StatusNotFound, "Not found", "Prediction not found", nil)
		return
	}
	out := s.wireLocked(p)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request, token string) {
	s.mu.Lock()
	s.stats.CancelCalls++
	p := s.lookupLocked(token, r.PathValue("id"))
	if p == nil {
		s.mu.Unlock()
		writeProblem(w, http.StatusNotFound, "Not found", "Prediction not found", nil)
		return
	}
	if !p.terminal() {
		s.endLocked(p, "canceled")
	}
	out := s.wireLocked(p)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, token string) {
	var before uint64 = 1<<63 - 1
	if c := r.URL.Query().Get("cursor"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.ParseUint(strings.TrimPrefix(string(raw), "s:"), 10, 64)
		if err != nil || err2 != nil || !bytes.HasPrefix(raw, []byte("s:")) {
			writeProblem(w, http.StatusBadRequest, "Invalid cursor", "The cursor is not valid.", nil)
			return
		}
		before = n
	}
	s.mu.Lock()
	s.stats.Lists++
	var mine []*pred
	for _, p := range s.preds {
		if p.token == token && p.seq < before {
			mine = append(mine, p)
		}
	}
	slices.SortFunc(mine, func(a, b *pred) int { return int(b.seq) - int(a.seq) })
	page := s.cfg.PageSize
	var next *string
	if len(mine) > page {
		mine = mine[:page]
		cur := base64.RawURLEncoding.EncodeToString([]byte("s:" + strconv.FormatUint(mine[len(mine)-1].seq, 10)))
		n := s.URL() + "/predictions?cursor=" + cur
		next = &n
	}
	results := make([]wirePred, 0, len(mine))
	for _, p := range mine {
		wp := s.wireLocked(p)
		if !s.cfg.ListWithInput {
			wp.Input = nil
		}
		results = append(results, wp)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"next": next, "previous": nil, "results": results})
}

func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request, token string) {
	s.mu.Lock()
	s.stats.Accounts++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"type": "user", "username": "fake-user", "name": "Fake User", "github_url": "",
	})
}

func (s *Server) handleSecret(w http.ResponseWriter, r *http.Request, token string) {
	writeJSON(w, http.StatusOK, map[string]string{"key": s.secret})
}

// handleDelivery serves output bytes like the delivery CDN: no auth, and
// 404 once retention has removed the output.
func (s *Server) handleDelivery(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.PathValue("path"), "/")
	s.mu.Lock()
	var p *pred
	if len(parts) == 3 {
		p = s.preds[parts[1]]
	}
	if p != nil {
		s.expireLocked(p)
	}
	if p == nil || p.output == "" || !strings.HasSuffix(p.output, "/"+strings.Join(parts, "/")) {
		s.mu.Unlock()
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	spec := p.img
	s.stats.Downloads++
	s.mu.Unlock()
	data, err := s.images.get(spec)
	if err != nil {
		http.Error(w, "encode failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", spec.contentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(data)
}
