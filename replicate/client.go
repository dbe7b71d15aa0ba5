// Package replicate owns the conversation with Replicate's HTTP API for the
// google/nano-banana-pro model: creating, reading, listing and canceling
// predictions, uploading input files, downloading outputs, and checking
// webhook signatures. It turns every failure into a typed error that says
// whether a retry can help and what a person should do (UserMessage).
//
// It never retries on its own: a create has no idempotency key, so only the
// caller (which records that it tried) may decide to look for an orphan and
// retry. It never logs, and no error it returns contains the API token.
package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL and DefaultModel are Replicate's API root and our model.
const (
	DefaultBaseURL = "https://api.replicate.com/v1"
	DefaultModel   = "google/nano-banana-pro"
)

// maxJSONBody bounds an API answer; predictions and lists are small.
const maxJSONBody = 8 << 20

// Options configures a Client.
type Options struct {
	BaseURL    string       // default DefaultBaseURL (a trailing slash is dropped)
	Model      string       // "owner/name", default DefaultModel
	HTTPClient *http.Client // default: a private client with dial, TLS, header and overall timeouts
	UserAgent  string       // default "nanobanana"
	// Now is the clock for Retry-After dates; nil means time.Now.
	Now func() time.Time
}

// Client talks to one Replicate API base. It is safe for concurrent use.
// The token is passed per call because every user may bring their own.
type Client struct {
	base  *url.URL
	model string
	hc    *http.Client
	ua    string
	now   func() time.Time
}

// New returns a Client. An unparseable BaseURL makes every call fail.
func New(o Options) *Client {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.Model == "" {
		o.Model = DefaultModel
	}
	if o.HTTPClient == nil {
		o.HTTPClient = newHTTPClient()
	}
	if o.UserAgent == "" {
		o.UserAgent = "nanobanana"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		u = nil
	}
	c := &Client{base: u, model: o.Model, ua: o.UserAgent, now: o.Now}
	c.hc = c.guardRedirects(o.HTTPClient)
	return c
}

// guardRedirects returns a copy of hc that drops the Authorization header on a redirect
// to any host tokenHost does not trust. net/http keeps it for the same host name on
// another port and for subdomains of the first host, which is not our rule. The
// caller's client is left as it was.
func (c *Client) guardRedirects(hc *http.Client) *http.Client {
	cp := *hc
	next := hc.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !c.tokenHost(req.URL) {
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 { // net/http's own default
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cp
}

// newHTTPClient has no global state and bounded waits everywhere. The
// header timeout must exceed the 60 s a "Prefer: wait" may hold a create.
func newHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 90 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   16,
		ForceAttemptHTTP2:     true,
	}
	// The overall limit covers a large 4K download on a slow link too.
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}
}

// BaseURL returns the API root the client talks to.
func (c *Client) BaseURL() string {
	if c.base == nil {
		return ""
	}
	return c.base.String()
}

// Model returns the "owner/name" the client creates predictions for.
func (c *Client) Model() string { return c.model }

func (c *Client) endpoint(path string) (string, error) {
	if c.base == nil {
		return "", errors.New("replicate: invalid base URL")
	}
	return c.base.String() + path, nil
}

type createBody struct {
	Input               Input    `json:"input"`
	Webhook             string   `json:"webhook,omitempty"`
	WebhookEventsFilter []string `json:"webhook_events_filter,omitempty"`
}

// Create starts a prediction. On a *NetworkError the prediction may exist
// anyway (there is no idempotency key): look for it with List before
// creating again.
func (c *Client) Create(ctx context.Context, token string, in Input, o CreateOptions) (*Prediction, error) {
	owner, name, ok := strings.Cut(c.model, "/")
	if !ok || owner == "" || name == "" {
		return nil, fmt.Errorf("replicate: model %q is not owner/name", c.model)
	}
	body, err := json.Marshal(createBody{Input: in, Webhook: o.Webhook, WebhookEventsFilter: o.WebhookEvents})
	if err != nil {
		return nil, fmt.Errorf("replicate: encode input: %w", err)
	}
	u, err := c.endpoint("/models/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/predictions")
	if err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if o.Wait > 0 {
		h.Set("Prefer", "wait="+strconv.Itoa(waitSeconds(o.Wait)))
	}
	if o.CancelAfter > 0 {
		h.Set("Cancel-After", FormatCancelAfter(o.CancelAfter))
	}
	var p Prediction
	if err := c.doJSON(ctx, "create prediction", token, http.MethodPost, u, h, bytes.NewReader(body), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func waitSeconds(d time.Duration) int {
	n := int((d + time.Second - 1) / time.Second)
	return min(max(n, 1), 60)
}

// FormatCancelAfter renders a duration the way Replicate's Cancel-After
// takes it ("45s", "30m", "1h30m"), whole seconds, at least 5 s.
func FormatCancelAfter(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	secs = max(secs, 5)
	h, m, s := secs/3600, secs%3600/60, secs%60
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

// Get reads a prediction.
func (c *Client) Get(ctx context.Context, token, id string) (*Prediction, error) {
	if id == "" {
		return nil, errors.New("replicate: empty prediction id")
	}
	u, err := c.endpoint("/predictions/" + url.PathEscape(id))
	if err != nil {
		return nil, err
	}
	var p Prediction
	if err := c.doJSON(ctx, "get prediction", token, http.MethodGet, u, nil, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Cancel asks Replicate to stop a prediction and returns it as it then is.
func (c *Client) Cancel(ctx context.Context, token, id string) (*Prediction, error) {
	if id == "" {
		return nil, errors.New("replicate: empty prediction id")
	}
	u, err := c.endpoint("/predictions/" + url.PathEscape(id) + "/cancel")
	if err != nil {
		return nil, err
	}
	var p Prediction
	if err := c.doJSON(ctx, "cancel prediction", token, http.MethodPost, u, nil, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// List reads one page of the account's predictions, newest first. Pass ""
// for the first page, then the returned next until it is "". A cursor URL
// must be on the API's own host so the token is never sent elsewhere.
func (c *Client) List(ctx context.Context, token, cursorURL string) ([]Prediction, string, error) {
	u, err := c.endpoint("/predictions")
	if err != nil {
		return nil, "", err
	}
	if cursorURL != "" {
		cu, err := url.Parse(cursorURL)
		if err != nil || !strings.EqualFold(cu.Host, c.base.Host) || cu.Scheme != c.base.Scheme {
			return nil, "", errors.New("replicate: list cursor is not on the API host")
		}
		u = cu.String()
	}
	var page struct {
		Next     *string      `json:"next"`
		Previous *string      `json:"previous"`
		Results  []Prediction `json:"results"`
	}
	if err := c.doJSON(ctx, "list predictions", token, http.MethodGet, u, nil, nil, &page); err != nil {
		return nil, "", err
	}
	next := ""
	if page.Next != nil {
		next = *page.Next
	}
	return page.Results, next, nil
}

// Account reads the token's account; a 401 means the token is bad.
func (c *Client) Account(ctx context.Context, token string) (*Account, error) {
	u, err := c.endpoint("/account")
	if err != nil {
		return nil, err
	}
	var a Account
	if err := c.doJSON(ctx, "get account", token, http.MethodGet, u, nil, nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// WebhookSecret returns the account's signing secret ("whsec_...").
func (c *Client) WebhookSecret(ctx context.Context, token string) (string, error) {
	u, err := c.endpoint("/webhooks/default/secret")
	if err != nil {
		return "", err
	}
	var s struct {
		Key string `json:"key"`
	}
	if err := c.doJSON(ctx, "get webhook secret", token, http.MethodGet, u, nil, nil, &s); err != nil {
		return "", err
	}
	if s.Key == "" {
		return "", errors.New("replicate: get webhook secret: empty key")
	}
	return s.Key, nil
}

// UploadFile streams r to POST /files; pass the result's URLs.Get as an
// input URI. It returns only once it has stopped reading r (on success, on an
// error and on ctx's end alike), so the caller may close r then; a Read that
// blocks delays the return until it comes back.
func (c *Client) UploadFile(ctx context.Context, token, filename, contentType string, r io.Reader) (*File, error) {
	u, err := c.endpoint("/files")
	if err != nil {
		return nil, err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	written := make(chan struct{})
	go func() {
		defer close(written)
		pw.CloseWithError(writeUpload(mw, filename, contentType, r))
	}()
	h := http.Header{"Content-Type": {mw.FormDataContentType()}}
	var f File
	err = c.doJSON(ctx, "upload file", token, http.MethodPost, u, h, pr, &f)
	// The request is over, but the transport may still hold the body (net/http closes
	// it asynchronously) and the writer may be in the middle of a write: closing the
	// pipe fails that write, and waiting for the writer means nothing reads r once
	// UploadFile has returned.
	pr.CloseWithError(errUploadOver)
	<-written
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// errUploadOver ends the upload's body writer once the request has been answered.
var errUploadOver = errors.New("replicate: upload file: request over")

func writeUpload(mw *multipart.Writer, filename, contentType string, r io.Reader) error {
	ph := textproto.MIMEHeader{}
	ph.Set("Content-Disposition", fmt.Sprintf(`form-data; name="content"; filename=%q`, filename))
	ph.Set("Content-Type", contentType)
	part, err := mw.CreatePart(ph)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, r); err != nil {
		return err
	}
	if err := mw.WriteField("filename", filename); err != nil {
		return err
	}
	if err := mw.WriteField("type", contentType); err != nil {
		return err
	}
	return mw.Close()
}

// Download streams an output URL. The body is capped at maxBytes (<= 0: no
// cap): reading past it fails with ErrOutputTooLarge. A 404 or 410 means
// retention removed the output: ErrOutputExpired. The content type is the
// server's, so callers should still sniff the bytes.
func (c *Client) Download(ctx context.Context, token, rawURL string, maxBytes int64) (io.ReadCloser, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", errors.New("replicate: download: output is not an http(s) URL")
	}
	resp, err := c.get(ctx, token, u)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		drainClose(resp.Body)
		return nil, "", ErrOutputExpired
	}
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		drainClose(resp.Body)
		return nil, "", parseError("download output", resp.StatusCode, resp.Header, body, c.now())
	}
	if maxBytes > 0 && resp.ContentLength > maxBytes {
		drainClose(resp.Body)
		return nil, "", fmt.Errorf("%w: %d bytes, limit %d", ErrOutputTooLarge, resp.ContentLength, maxBytes)
	}
	var body io.ReadCloser = resp.Body
	if maxBytes > 0 {
		body = &cappedBody{rc: resp.Body, left: maxBytes, limit: maxBytes}
	}
	return body, resp.Header.Get("Content-Type"), nil
}

// get fetches an output URL. The token goes only to Replicate's own hosts (tokenHost);
// any other host is asked without it, and if it demands auth (401/403) the download
// fails rather than hand the user's key to a host Replicate does not run, whatever the
// prediction named as its output.
func (c *Client) get(ctx context.Context, token string, u *url.URL) (*http.Response, error) {
	trusted := c.tokenHost(u)
	if !trusted {
		token = ""
	}
	req, err := c.newRequest(ctx, token, http.MethodGet, u.String(), nil, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &NetworkError{Op: "download output", Err: stripURL(err)}
	}
	if !trusted && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		drainClose(resp.Body)
		return nil, fmt.Errorf("%w (%s answered HTTP %d)", ErrOutputNeedsAuth, u.Host, resp.StatusCode)
	}
	return resp, nil
}

// replicateDomains are the domains Replicate serves its API and its output files from.
var replicateDomains = []string{"replicate.com", "replicate.delivery"}

// tokenHost tells whether the token may be sent to u: the API's own origin as
// configured (scheme, host and port, so a test's or a proxy's base works), or an https
// URL on replicate.com or replicate.delivery or one of their subdomains. Outputs need
// no auth in practice (REPLICATE.md, unconfirmed), so sending it there is harmless and
// covers the case where they do; no other host ever gets it.
func (c *Client) tokenHost(u *url.URL) bool {
	if c.base != nil && strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host) {
		return true
	}
	if u.Scheme != "https" {
		return false
	}
	h := strings.ToLower(u.Hostname())
	for _, d := range replicateDomains {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}

// cappedBody fails instead of silently truncating, so a too-large image is
// never stored as a cut-off file.
type cappedBody struct {
	rc    io.ReadCloser
	left  int64
	limit int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells "exactly at the limit" from "over it".
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: limit %d bytes", ErrOutputTooLarge, b.limit)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

func (c *Client) newRequest(ctx context.Context, token, method, u string, h http.Header, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("replicate: build request: %w", stripURL(err))
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", c.ua)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	return req, nil
}

// doJSON sends one API call and decodes a 2xx JSON answer into out.
func (c *Client) doJSON(ctx context.Context, op, token, method, u string, h http.Header, body io.Reader, out any) error {
	req, err := c.newRequest(ctx, token, method, u, h, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) && errors.Is(ctxErr, context.Canceled) {
			return fmt.Errorf("replicate: %s: %w", op, ctxErr)
		}
		return &NetworkError{Op: op, Err: stripURL(err)}
	}
	defer drainClose(resp.Body)
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return parseError(op, resp.StatusCode, resp.Header, data, c.now())
	}
	data, err := readAll(resp.Body, maxJSONBody+1, resp.ContentLength)
	if err != nil {
		return &NetworkError{Op: op, Err: stripURL(err)}
	}
	if len(data) > maxJSONBody {
		return fmt.Errorf("replicate: %s: answer larger than %d bytes", op, maxJSONBody)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("replicate: %s: decode answer (HTTP %d): %w", op, resp.StatusCode, err)
	}
	return nil
}

// readAll reads r up to limit bytes, into one buffer of the announced size when the
// answer gives it (Content-Length), rather than growing one from 512 bytes.
func readAll(r io.Reader, limit, size int64) ([]byte, error) {
	r = io.LimitReader(r, limit)
	if size < 0 || size >= limit {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, size+1) // +1: room to see the end
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) { // longer than announced
			rest, err := io.ReadAll(r)
			return append(buf, rest...), err
		}
	}
}

// stripURL drops the *url.Error wrapper's URL from messages: it is not
// secret, but keeping messages short keeps logs readable. The cause stays
// reachable through errors.Is/As.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &opError{msg: ue.Op + ": " + ue.Err.Error(), err: ue}
	}
	return err
}

type opError struct {
	msg string
	err error
}

func (e *opError) Error() string { return e.msg }
func (e *opError) Unwrap() error { return e.err }

func drainClose(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	_ = rc.Close()
}
