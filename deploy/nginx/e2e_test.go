package nginx

// The whole app through the shipped site: the real nanobanana binary, the fake
// Replicate as its own process, and Debian's nginx in front, as a browser would
// meet them. The site is changed only in ports and paths (renderSite).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"nanobanana/internal/proctest"
	"nanobanana/storage/imaging"
)

// The client's own address. nginx and the app talk over 127.0.0.1, which the app
// trusts as its proxy; the client comes from another loopback address so the test
// can tell the client's address from nginx's in the app's log.
const (
	clientIP      = "127.0.0.2"
	otherClientIP = "127.0.0.3"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// startFakeReplicate runs the fake Replicate and returns its API base URL.
func startFakeReplicate(t *testing.T) string {
	t.Helper()
	// Long enough that the generation is seen pending and running, short
	// enough for a quick test.
	return proctest.StartFakeReplicate(t, "-queue-time", "150ms", "-run-time", "300ms")
}

// appProcess is a running `nanobanana serve`.
type appProcess struct {
	DataDir string
	Addr    string       // "127.0.0.1:PORT" or "unix:/path"
	Direct  *http.Client // talks to the app itself, bypassing nginx, from clientIP
	BaseURL string       // for Direct
	logs    *proctest.LockedBuffer
}

// startApp runs the real binary against the fake Replicate, listening on
// listen (a host:port, or unix:/path given as LISTEN_ADDR as an administrator
// would), and returns once /healthz answers.
//
// umask, when set, is the process's umask, as a unit's UMask= would set it.
func startApp(t *testing.T, bin, replicateURL, listen, umask string) *appProcess {
	t.Helper()
	a := &appProcess{DataDir: t.TempDir(), Addr: listen}
	env := []string{
		"REPLICATE_API_BASE=" + replicateURL,
		"REPLICATE_API_TOKEN=r8_test",
		"X_ACCEL_REDIRECT=/protected/",
		"TRUSTED_PROXIES=127.0.0.1",
		"BCRYPT_COST=10",
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
	}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	args := []string{"serve", "--data-dir", a.DataDir}
	sock, isUnix := strings.CutPrefix(listen, "unix:")
	if isUnix {
		env = append(env, "LISTEN_ADDR="+listen)
	} else {
		args = append(args, "--listen", listen)
	}
	cmd := exec.Command(bin, args...)
	if umask != "" {
		cmd = exec.Command("/bin/sh", append([]string{"-c", `umask "$0" && exec "$@"`, umask, bin}, args...)...)
	}
	// The app reads ./.env when present; the data directory has none.
	cmd.Dir = a.DataDir
	cmd.Env = env
	// Killed, not stopped gracefully, when the test ends: nothing it would do
	// on the way out is under test here.
	proc := proctest.Start(t, cmd)
	a.logs = proc.Logs

	if isUnix {
		d := &net.Dialer{}
		a.Direct = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", sock)
		}}}
		a.BaseURL = "http://nanobanana"
	} else {
		a.Direct = clientFrom(clientIP)
		a.BaseURL = "http://" + listen
	}
	t.Cleanup(a.Direct.CloseIdleConnections)
	// The bound only turns a start that hangs into a failure with the log.
	if err := proc.WaitHTTP(a.Direct, a.BaseURL+"/healthz", 20*time.Second); err != nil {
		if proc.Exited() {
			t.Fatalf("nanobanana serve exited:\n%s", a.logs)
		}
		t.Fatalf("nanobanana serve did not answer /healthz:\n%s", a.logs)
	}
	return a
}

// accessLog is the app's access log line for the request with this
// X-Request-ID. The line is written after the response, so it is waited for.
func (a *appProcess) accessLog(t *testing.T, requestID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range a.requestLines() {
			if l["request_id"] == requestID {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for request %s:\n%s", requestID, a.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requestLines are the app's access log lines so far.
func (a *appProcess) requestLines() []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(a.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// call sends one request and returns the response with its body read.
func call(t *testing.T, c *http.Client, method, url, token string, body any, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v: %q", err, b)
	}
	return m
}

func TestEndToEndThroughNginx(t *testing.T) {
	nginxBinary(t)
	appBin := proctest.Build(t, ".")
	for _, tc := range []struct {
		name   string
		listen func(t *testing.T) string
	}{
		{"tcp", func(t *testing.T) string { return proctest.FreeAddr(t) }},
		{"unix socket", func(t *testing.T) string {
			// A short directory: socket paths are limited to 108 bytes.
			dir, err := os.MkdirTemp("", "nb")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			return "unix:" + filepath.Join(dir, "nanobanana.sock")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := startApp(t, appBin, startFakeReplicate(t), tc.listen(t), "")
			n := startNginx(t, siteParams{Upstream: app.Addr, ImagesDir: filepath.Join(app.DataDir, "images")})
			endToEnd(t, app, n)
		})
	}
}

func endToEnd(t *testing.T, app *appProcess, n *nginxInstance) {
	c := clientFrom(clientIP)
	t.Cleanup(c.CloseIdleConnections)
	api := n.URL + "/api/v1"
	const password = "correct horse battery"

	// Sign up and sign in.
	resp, body := call(t, c, "POST", api+"/auth/register", "", map[string]string{
		"username": "alice", "email": "alice@example.com", "password": password}, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register through nginx: %d %s\napp log:\n%s", resp.StatusCode, body, app.logs)
	}
	resp, body = call(t, c, "POST", api+"/auth/login", "", map[string]string{"username": "alice", "password": password},
		map[string]string{"X-Request-ID": "e2e-login", "X-Forwarded-For": "203.0.113.9"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login through nginx: %d %s", resp.StatusCode, body)
	}
	token, _ := decode(t, body)["access_token"].(string)
	if token == "" {
		t.Fatalf("login answered no access_token: %s", body)
	}

	// The app believes nginx (127.0.0.1, trusted) about the client, and nginx
	// replaced the address the client claimed for itself.
	if got := app.accessLog(t, "e2e-login")["client"]; got != clientIP {
		t.Errorf("app logged a login through nginx from %v; want the client's own address %s", got, clientIP)
	}
	if !strings.HasPrefix(app.Addr, "unix:") {
		// Straight to the app, the same claim comes from an untrusted peer
		// and is ignored. (On the socket, every peer is the proxy by design:
		// docs/DEPLOY.md.)
		resp, _ = call(t, app.Direct, "GET", app.BaseURL+"/healthz", "", nil,
			map[string]string{"X-Request-ID": "e2e-direct-forged", "X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("direct /healthz: %d", resp.StatusCode)
		}
		if got := app.accessLog(t, "e2e-direct-forged")["client"]; got != clientIP {
			t.Errorf("a direct request from %s claiming X-Forwarded-For 203.0.113.9 was logged as %v", clientIP, got)
		}
	}

	// Open the event stream as the browser's EventSource does (a ticket in the query),
	// then queue.
	tresp, tbody := call(t, c, "POST", api+"/events/ticket", token, nil, nil)
	var tk struct {
		Ticket string `json:"ticket"`
	}
	if tresp.StatusCode != http.StatusOK || json.Unmarshal(tbody, &tk) != nil || tk.Ticket == "" {
		t.Fatalf("POST /events/ticket through nginx: %d %s", tresp.StatusCode, tbody)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", api+"/events?ticket="+url.QueryEscape(tk.Ticket), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	stream, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET /events through nginx: %v", err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK || !strings.HasPrefix(stream.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /events through nginx: %d %q", stream.StatusCode, stream.Header.Get("Content-Type"))
	}
	if ce := stream.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("event stream is %s-encoded; EventSource needs it plain", ce)
	}

	resp, body = call(t, c, "POST", api+"/images/generate", token,
		map[string]string{"prompt": "a banana on a loopback interface", "resolution": "1K"}, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("generate through nginx: %d %s", resp.StatusCode, body)
	}
	id, _ := decode(t, body)["image_id"].(string)
	if id == "" {
		t.Fatalf("generate answered no image_id: %s", body)
	}

	// Events arrive through nginx one by one, each with an id, until completed.
	events := bufio.NewReader(stream.Body)
	var statuses []string
	var completed map[string]any
	lastID := int64(0)
	for completed == nil {
		ev, err := proctest.NextSSEEvent(events)
		if err != nil {
			t.Fatalf("reading events through nginx after %v: %v\napp log:\n%s", statuses, err, app.logs)
		}
		if ev.Event != "generation" {
			t.Fatalf("event type %q, want generation: %+v", ev.Event, ev)
		}
		evID, err := strconv.ParseInt(ev.ID, 10, 64)
		if err != nil || evID <= lastID {
			t.Errorf("event id %q after %d; want increasing numbers for Last-Event-ID", ev.ID, lastID)
		}
		lastID = evID
		var data map[string]any
		if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
			t.Fatalf("event data is not JSON: %q", ev.Data)
		}
		if data["image_id"] != id {
			t.Fatalf("event for %v; only %s was queued", data["image_id"], id)
		}
		status, _ := data["status"].(string)
		statuses = append(statuses, status)
		switch status {
		case "completed":
			completed = data
		case "failed", "canceled":
			t.Fatalf("generation %s: %v", status, data)
		}
	}
	stream.Body.Close()
	// Every change is an event, so the stream shows the whole path.
	if want := []string{"pending", "running", "completed"}; strings.Join(statuses, ",") != strings.Join(want, ",") {
		t.Errorf("statuses through the stream: %v, want %v", statuses, want)
	}
	if w, h := completed["width"], completed["height"]; w != 1024.0 || h != 1024.0 {
		t.Errorf("completed event says %vx%v; want 1024x1024 for 1K 1:1", w, h)
	}

	resp, body = call(t, c, "GET", api+"/images/status/"+id, token, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status through nginx: %d %s", resp.StatusCode, body)
	}
	status := decode(t, body)
	wantBytes, _ := status["bytes"].(float64)
	imageURL, _ := status["image_url"].(string)
	if status["status"] != "completed" || wantBytes <= 0 || !strings.HasPrefix(imageURL, "/api/v1/images/file/"+id+"?") {
		t.Fatalf("status after the completed event: %s", body)
	}

	// What the app itself answers for the image: only a redirect into nginx's
	// internal location, naming a file in its images directory.
	resp, body = call(t, app.Direct, "GET", app.BaseURL+"/api/v1/images/file/"+id, token, nil, nil)
	accel := resp.Header.Get("X-Accel-Redirect")
	key, ok := strings.CutPrefix(accel, "/protected/")
	if resp.StatusCode != http.StatusOK || !ok || key == "" || len(body) != 0 {
		t.Fatalf("the app's own answer for the image: %d, X-Accel-Redirect %q, %d body bytes; want 200, /protected/<key>, none",
			resp.StatusCode, accel, len(body))
	}
	onDisk, err := os.ReadFile(filepath.Join(app.DataDir, "images", filepath.FromSlash(key)))
	if err != nil {
		t.Fatalf("the redirect names %s, which is not in the images directory: %v", key, err)
	}

	// Through nginx, with the token and with the signed URL <img> tags use, the
	// client gets the file itself, sent by nginx.
	for _, u := range []struct{ name, url, token, reqID string }{
		{"bearer", api + "/images/file/" + id, token, "e2e-image-bearer"},
		{"signed URL", n.URL + imageURL, "", "e2e-image-signed"},
	} {
		resp, body = call(t, c, "GET", u.url, u.token, nil, map[string]string{"X-Request-ID": u.reqID})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("image (%s) through nginx: %d %s\nnginx error log:\n%s", u.name, resp.StatusCode, body, n.errorLog())
		}
		info, err := imaging.Inspect(bytes.NewReader(body), 0)
		if err != nil || info.Format != imaging.JPEG || info.Width != 1024 || info.Height != 1024 {
			t.Errorf("image (%s) through nginx: %+v, %v; want a 1024x1024 JPEG", u.name, info, err)
		}
		if len(body) != int(wantBytes) || !bytes.Equal(body, onDisk) {
			t.Errorf("image (%s) through nginx: %d bytes; want the %v bytes of the stored file", u.name, len(body), wantBytes)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Errorf("image (%s) Content-Type %q, want the app's image/jpeg", u.name, ct)
		}
		// nginx keeps the app's say on caching and naming: a shared cache
		// must not keep someone's private image.
		if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
			t.Errorf("image (%s) Cache-Control %q; want the app's private", u.name, cc)
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != `inline; filename="nanobanana-`+id+`.jpg"` {
			t.Errorf("image (%s) Content-Disposition %q; want the app's", u.name, cd)
		}
		if h := resp.Header.Get("X-Accel-Redirect"); h != "" {
			t.Errorf("image (%s): X-Accel-Redirect %q leaked to the client", u.name, h)
		}
		// The internal location's own policy, not the app's page policy:
		// the headers of the redirected response are nginx's.
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
			t.Errorf("image (%s) Content-Security-Policy %q; want the /protected/ location's sandbox policy", u.name, csp)
		}
		// The app sent no bytes of it.
		if l := app.accessLog(t, u.reqID); l["status"] != 200.0 || l["bytes"] != 0.0 {
			t.Errorf("image (%s): the app logged status %v with %v bytes; want 200 and 0 (nginx sends the file)", u.name, l["status"], l["bytes"])
		}
	}

	// nginx serves ranges of the file, which the app no longer sees.
	resp, body = call(t, c, "GET", api+"/images/file/"+id, token, nil, map[string]string{"Range": "bytes=0-99"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, onDisk[:100]) {
		t.Errorf("ranged image request through nginx: %d, %d bytes; want 206 and the first 100 bytes", resp.StatusCode, len(body))
	}

	// The thumbnail goes the same way.
	thumbURL, _ := status["thumbnail_url"].(string)
	resp, body = call(t, c, "GET", n.URL+thumbURL, "", nil, nil)
	if info, err := imaging.Inspect(bytes.NewReader(body), 0); resp.StatusCode != http.StatusOK || err != nil || info.Width == 0 {
		t.Errorf("thumbnail through nginx: %d, %+v, %v", resp.StatusCode, info, err)
	}

	// The files are reachable only through the app's check.
	resp, _ = call(t, c, "GET", n.URL+"/protected/"+key, "", nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /protected/%s straight through nginx: %d, want 404", key, resp.StatusCode)
	}
	resp, _ = call(t, c, "GET", api+"/images/file/"+id, "", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("image without a token through nginx: %d, want 401", resp.StatusCode)
	}

	// A body over nginx's limit on /api/ is refused by nginx, in the app's JSON shape.
	resp, body = call(t, c, "PUT", api+"/users/api-key", token, map[string]string{"api_key": strings.Repeat("x", 2<<20)}, nil)
	if resp.Header.Get("X-Request-ID") != "" {
		t.Errorf("the 2 MB body reached the app: %v", resp.Header)
	}
	checkJSONError(t, "2 MB body through nginx", resp, body, http.StatusRequestEntityTooLarge, "too_large")

	// Password guessing: nginx cuts a burst of logins off with 429 before
	// the app sees them. The right password keeps the app's own failed-login
	// throttle out of it, so every 429 here is nginx's.
	before := countLogins(app)
	passed, limited := 0, 0
	for i := 0; i < 20; i++ {
		resp, body := call(t, c, "POST", api+"/auth/login", "", map[string]string{"username": "alice", "password": password}, nil)
		switch resp.StatusCode {
		case http.StatusOK:
			passed++
		case http.StatusTooManyRequests:
			limited++
			if resp.Header.Get("X-Request-ID") != "" {
				t.Errorf("a 429 that did not come from nginx's limit_req: %v %s", resp.Header, body)
			}
			checkJSONError(t, "login burst", resp, body, http.StatusTooManyRequests, "rate_limited")
		default:
			t.Errorf("login %d through nginx: %d %s", i, resp.StatusCode, body)
		}
	}
	t.Logf("20 logins in a row through nginx: %d passed, %d answered 429", passed, limited)
	if limited == 0 {
		t.Fatalf("20 logins in a row through nginx, none answered 429")
	}
	if passed == 0 {
		t.Errorf("every login of the burst was refused; the site allows a burst of 5")
	}
	// Exactly the logins nginx let through reached the app.
	deadline := time.Now().Add(5 * time.Second)
	for countLogins(app)-before != passed && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := countLogins(app) - before; got != passed {
		t.Errorf("the app logged %d logins; nginx let %d through", got, passed)
	}
	// The limit is per client address: someone else still signs in.
	resp, body = call(t, clientFrom(otherClientIP), "POST", api+"/auth/login", "", map[string]string{"username": "alice", "password": password}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("login from another address after the burst: %d %s", resp.StatusCode, body)
	}
}

// countLogins counts the login requests in the app's access log.
func countLogins(a *appProcess) int {
	n := 0
	for _, l := range a.requestLines() {
		if l["path"] == "/api/v1/auth/login" {
			n++
		}
	}
	return n
}

// docs/DEPLOY.md section 2: with X_ACCEL_REDIRECT set, the only step an
// administrator takes is to put www-data (nginx's workers) in the app's
// group; the unit keeps UMask=0077. This runs the workers really as www-data
// with the app's group and fetches a freshly generated image through them.
func TestXAccelRedirectWithWwwDataWorkers(t *testing.T) {
	nginxBinary(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run nginx's workers as www-data")
	}
	if _, err := user.Lookup("www-data"); err != nil {
		proctest.Missing(t, "no www-data user (Debian's nginx package creates it)")
	}
	grp, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	appBin := proctest.Build(t, ".")
	app := startApp(t, appBin, startFakeReplicate(t), proctest.FreeAddr(t), "0077")
	// The data directory's parent is passable, as /var/lib is.
	if err := os.Chmod(filepath.Dir(app.DataDir), 0o755); err != nil {
		t.Fatal(err)
	}
	n := startNginxAs(t, siteParams{Upstream: app.Addr, ImagesDir: filepath.Join(app.DataDir, "images")}, "www-data "+grp.Name)

	c := clientFrom(clientIP)
	t.Cleanup(c.CloseIdleConnections)
	api := n.URL + "/api/v1"
	resp, body := call(t, c, "POST", api+"/auth/register", "", map[string]string{
		"username": "bob", "email": "bob@example.com", "password": "correct horse battery"}, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register through nginx: %d %s", resp.StatusCode, body)
	}
	token, _ := decode(t, body)["access_token"].(string)
	resp, body = call(t, c, "POST", api+"/images/generate", token, map[string]string{"prompt": "a private banana", "resolution": "1K"}, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("generate through nginx: %d %s", resp.StatusCode, body)
	}
	id, _ := decode(t, body)["image_id"].(string)
	// The bound only turns a stuck generation into a failure with the log.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body = call(t, c, "GET", api+"/images/status/"+id, token, nil, nil)
		st := decode(t, body)["status"]
		if st == "completed" {
			break
		}
		if st == "failed" || st == "canceled" || time.Now().After(deadline) {
			t.Fatalf("generation: %s\napp log:\n%s", body, app.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	resp, body = call(t, app.Direct, "GET", "http://"+app.Addr+"/api/v1/images/file/"+id, token, nil, nil)
	key, ok := strings.CutPrefix(resp.Header.Get("X-Accel-Redirect"), "/protected/")
	if !ok {
		t.Fatalf("the app answered %d without X-Accel-Redirect", resp.StatusCode)
	}
	file := filepath.Join(app.DataDir, "images", filepath.FromSlash(key))
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	resp, body = call(t, c, "GET", api+"/images/file/"+id, token, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("image through nginx with www-data workers: %d (the file is %v; %s)",
			resp.StatusCode, fi.Mode().Perm(), lastLine(n.errorLog(), "Permission denied"))
	}
	if info, err := imaging.Inspect(bytes.NewReader(body), 0); err != nil || info.Width != 1024 {
		t.Errorf("image through nginx with www-data workers: %+v %v", info, err)
	}
	// What the group gets is the images, not the secrets.
	for _, name := range []string{"nanobanana.db", "secret.key"} {
		fi, err := os.Stat(filepath.Join(app.DataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v; want 0600, out of the group's reach", name, fi.Mode().Perm())
		}
	}
}

// lastLine is the last line of s that contains substr, for messages.
func lastLine(s, substr string) string {
	found := ""
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			found = l
		}
	}
	return found
}
