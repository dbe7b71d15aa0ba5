package apache

// The whole app behind the shipped .htaccess, as a Beget-style customer runs it: the
// real nanobanana binary in the customer's home, started by the cron line of
// docs/DEPLOY.md as the customer, on a unix socket in that home; Debian's Apache 2.4 in
// front with the host's configuration, its workers running as the web server's own user;
// the fake Replicate as its own process. As root the test creates the customer, the web
// server's user (in the customer's group, as such hosts do) and another customer; without
// root everything runs as the test's user and the checks between users are left out.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nanobanana/internal/proctest"
	"nanobanana/storage/imaging"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// The client's own address; Apache reaches the app over the socket, so the app can
// only learn it from the X-Forwarded-For that mod_proxy adds.
const clientIP = "127.0.0.2"

// docsCronLine is the command of the one crontab line of docs/DEPLOY.md (and of its
// Russian translation, which must carry the same line).
func docsCronLine(t *testing.T) string {
	t.Helper()
	var found []string
	for _, doc := range []string{"../../docs/DEPLOY.md", "../../docs/DEPLOY.ru.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "* * * * * "); ok {
				lines = append(lines, rest)
			}
		}
		if len(lines) != 1 {
			t.Fatalf("%s has %d crontab lines (\"* * * * * ...\"), want 1: %q", doc, len(lines), lines)
		}
		found = append(found, lines[0])
	}
	if found[0] != found[1] {
		t.Fatalf("the Russian guide's cron line differs:\n%s\n%s", found[0], found[1])
	}
	return found[0]
}

// customer is the shared host's customer and the layout of docs/DEPLOY.md in its home.
type customer struct {
	*proctest.User
	App    string // ~/nanobanana: the binary, .env, data/, the socket
	Socket string
	Site   string // the domain's public_html, holding only .htaccess
	Log    string // the app's log
}

// cron runs the docs' crontab line as cron would: through sh, as the customer, in its home.
func (c *customer) cron(t *testing.T, line string) string {
	t.Helper()
	cmd := c.Command("/bin/sh", "-c", line)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cron line %q: %v\n%s\napp log:\n%s", line, err, out, c.log())
	}
	return string(out)
}

func (c *customer) log() string {
	b, _ := os.ReadFile(c.Log)
	return string(b)
}

// accessLog is the app's access log line for the request with this X-Request-ID.
func (c *customer) accessLog(t *testing.T, requestID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, l := range strings.Split(c.log(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" && m["request_id"] == requestID {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for request %s:\n%s", requestID, c.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clientFrom is an HTTP client whose connections come from the loopback address ip.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, url, token string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
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

func jsonBody(v any) (io.Reader, map[string]string) {
	raw, _ := json.Marshal(v)
	return bytes.NewReader(raw), map[string]string{"Content-Type": "application/json"}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v: %q", err, b)
	}
	return m
}

// noisePNG is a PNG of random pixels, which does not compress: about 3 bytes a pixel.
func noisePNG(t *testing.T, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xff
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func smallJPEG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range 64 {
		img.Set(i, i%48, color.RGBA{200, 180, 40, 255})
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// canConnect tries to open the socket as u, in a process of u's; false when the kernel
// refuses. It needs Debian's python3 (scripts/test-deps.sh installs it).
func canConnect(t *testing.T, u *proctest.User, socket string) (bool, string) {
	t.Helper()
	// Debian's own, which any account may run (root's PATH may lead to a private one).
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		proctest.Missing(t, "python3 not installed (Debian: apt-get install -y python3): the test of who may open the socket needs it")
	}
	cmd := u.Command(py, "-c", "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])", socket)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		return false, err.Error() + ": " + string(out)
	}
	return true, ""
}

func TestEndToEndThroughApache(t *testing.T) {
	apacheBinary(t)
	cronLine := docsCronLine(t)
	appBin := proctest.Build(t, ".")
	api := proctest.StartFakeReplicate(t, "-queue-time", "150ms", "-run-time", "300ms")

	// The customer, the web server's account (in the customer's group), and a neighbour.
	var cust *customer
	var webRun string
	var neighbour *proctest.User
	root := os.Geteuid() == 0
	if root {
		u := proctest.AddUser(t, "nbtest-cust")
		web := proctest.AddUser(t, "nbtest-web", u.Name)
		neighbour = proctest.AddUser(t, "nbtest-other")
		cust = &customer{User: u}
		webRun = web.Name + " " + web.Name
	} else {
		cust = &customer{User: proctest.CurrentUser(t)}
	}
	home := cust.Home
	cust.App = filepath.Join(home, "nanobanana")
	cust.Socket = filepath.Join(cust.App, "nanobanana.sock")
	cust.Site = filepath.Join(home, "nanobanana.example.com", "public_html")
	cust.Log = filepath.Join(cust.App, "data", "nanobanana.log")

	// What the customer uploads over SSH: the binary, .env, the .htaccess.
	mkdir := func(dir string, mode os.FileMode) {
		if err := os.MkdirAll(dir, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, mode)
		cust.Own(t, dir)
	}
	put := func(path string, data []byte, mode os.FileMode) {
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
		cust.Own(t, path)
	}
	mkdir(cust.App, 0o750)
	mkdir(filepath.Dir(cust.Site), 0o750)
	mkdir(cust.Site, 0o750)
	raw, err := os.ReadFile(appBin)
	if err != nil {
		t.Fatal(err)
	}
	put(filepath.Join(cust.App, "nanobanana"), raw, 0o755)
	apache := startApache(t, cust.Site, webRun)
	put(filepath.Join(cust.App, ".env"), []byte(strings.Join([]string{
		"DATA_DIR=" + filepath.Join(cust.App, "data"),
		"LISTEN_ADDR=unix:" + cust.Socket,
		"PUBLIC_URL=" + apache.URL,
		"REPLICATE_API_BASE=" + api,
		"REPLICATE_API_TOKEN=r8_apache_test",
		"MEMORY_LIMIT=400MiB",
		"BCRYPT_COST=10",
		"LOG_FORMAT=json",
	}, "\n")+"\n"), 0o600)
	ht, err := renderHtaccess(shippedHtaccess(t), cust.Socket)
	if err != nil {
		t.Fatal(err)
	}
	put(filepath.Join(cust.Site, ".htaccess"), []byte(ht), 0o640)
	t.Cleanup(func() {
		// Whatever happened, the server the cron line started goes with the test.
		cmd := cust.Command(filepath.Join(cust.App, "nanobanana"), "stop", "--env-file", filepath.Join(cust.App, ".env"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("stop at cleanup: %v %s", err, out)
		}
	})

	// The crontab line starts it.
	out := cust.cron(t, cronLine)
	if !strings.HasPrefix(out, "started nanobanana (pid ") || !strings.Contains(out, "listening on unix:"+cust.Socket) {
		t.Fatalf("the cron line said %q", out)
	}
	if again := cust.cron(t, cronLine); again != "" {
		t.Errorf("the cron line with the server running said %q; want nothing (cron mails what it prints)", again)
	}
	if !strings.Contains(cust.log(), `"MEMORY_LIMIT":419430400`) {
		t.Errorf("the app did not log its MEMORY_LIMIT:\n%s", cust.log())
	}

	c := clientFrom(clientIP)
	t.Cleanup(c.CloseIdleConnections)
	api1 := apache.URL + "/api/v1"

	resp, body := do(t, c, "GET", apache.URL+"/healthz", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz through Apache: %d %s\nApache's error log:\n%s", resp.StatusCode, body, apache.errorLog())
	}
	resp, body = do(t, c, "GET", apache.URL+"/", "", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("<html")) {
		t.Errorf("the app's page through Apache: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, _ = do(t, c, "GET", apache.URL+"/.htaccess", "", nil, nil)
	if resp.StatusCode == http.StatusOK {
		t.Errorf("GET /.htaccess answered 200")
	}

	// Sign up and sign in, the client forging its address.
	const password = "correct horse battery"
	b, h := jsonBody(map[string]string{"username": "alice", "email": "alice@example.com", "password": password})
	resp, body = do(t, c, "POST", api1+"/auth/register", "", b, h)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register through Apache: %d %s\nApache:\n%s\napp:\n%s", resp.StatusCode, body, apache.errorLog(), cust.log())
	}
	b, h = jsonBody(map[string]string{"username": "alice", "password": password})
	h["X-Request-ID"], h["X-Forwarded-For"] = "apache-login", "203.0.113.9"
	resp, body = do(t, c, "POST", api1+"/auth/login", "", b, h)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login through Apache: %d %s", resp.StatusCode, body)
	}
	token, _ := decode(t, body)["access_token"].(string)
	if got := cust.accessLog(t, "apache-login")["client"]; got != clientIP {
		t.Errorf("the app logged a login through Apache from %v; want the client's own %s (not the forged 203.0.113.9)", got, clientIP)
	}

	// Two references, one of them 3 MB: bodies past the 1 MB that front-end proxies often
	// allow by default reach the app.
	big, small := noisePNG(t, 1024, 1024), smallJPEG(t)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, f := range []struct {
		name string
		data []byte
	}{{"noise.png", big}, {"small.jpg", small}} {
		w, err := mw.CreateFormFile("images", f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	mw.Close()
	resp, body = do(t, c, "POST", api1+"/images/uploads", token, &form, map[string]string{"Content-Type": mw.FormDataContentType()})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload of two references (%d bytes) through Apache: %d %s", form.Len(), resp.StatusCode, body)
	}
	// Stored as re-encoded pixels (the server strips metadata), so compared by size in
	// pixels, not bytes.
	var up struct {
		Uploads []struct {
			ID     string `json:"id"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
			Bytes  int64  `json:"bytes"`
		} `json:"uploads"`
	}
	if err := json.Unmarshal(body, &up); err != nil || len(up.Uploads) != 2 || up.Uploads[0].Width != 1024 ||
		up.Uploads[0].Height != 1024 || up.Uploads[1].Width != 64 || up.Uploads[1].Height != 48 || up.Uploads[0].Bytes <= 0 {
		t.Fatalf("uploads answered %s; want the two files, 1024x1024 and 64x48", body)
	}

	// The event stream, opened as EventSource does (with a ticket) and asking for
	// compression, then a generation from the two references.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tresp, tbody := do(t, c, "POST", api1+"/events/ticket", token, nil, nil)
	var tk struct {
		Ticket string `json:"ticket"`
	}
	if tresp.StatusCode != http.StatusOK || json.Unmarshal(tbody, &tk) != nil || tk.Ticket == "" {
		t.Fatalf("POST /events/ticket through Apache: %d %s", tresp.StatusCode, tbody)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", api1+"/events?ticket="+url.QueryEscape(tk.Ticket), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	// Set by hand, so the transport neither asks for gzip itself nor hides an answer's.
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	stream, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET /events through Apache: %v", err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK || !strings.HasPrefix(stream.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /events through Apache: %d %q", stream.StatusCode, stream.Header.Get("Content-Type"))
	}
	if ce := stream.Header.Get("Content-Encoding"); ce != "" {
		t.Fatalf("the event stream came %s-encoded through Apache; the .htaccess must keep it plain", ce)
	}
	b, h = jsonBody(map[string]any{"prompt": "a banana behind Apache", "resolution": "1K",
		"generation_mode": "image-to-image", "reference_image_ids": []string{up.Uploads[0].ID, up.Uploads[1].ID}})
	resp, body = do(t, c, "POST", api1+"/images/generate", token, b, h)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("generate through Apache: %d %s", resp.StatusCode, body)
	}
	id, _ := decode(t, body)["image_id"].(string)

	// The events arrive one by one while the stream stays open: a buffering proxy would
	// hold them until it closed, which it never does.
	events := bufio.NewReader(stream.Body)
	var statuses []string
	for len(statuses) == 0 || statuses[len(statuses)-1] != "completed" {
		ev, err := proctest.NextSSEEvent(events)
		if err != nil {
			t.Fatalf("reading events through Apache after %v: %v\napp log:\n%s", statuses, err, cust.log())
		}
		var data map[string]any
		if err := json.Unmarshal([]byte(ev.Data), &data); err != nil || ev.Event != "generation" || data["image_id"] != id {
			t.Fatalf("event %+v", ev)
		}
		st, _ := data["status"].(string)
		if st == "failed" || st == "canceled" {
			t.Fatalf("generation %s: %v", st, data)
		}
		statuses = append(statuses, st)
	}
	stream.Body.Close()
	if strings.Join(statuses, ",") != "pending,running,completed" {
		t.Errorf("statuses through the stream: %v, want pending, running, completed", statuses)
	}

	// The image, by the absolute link under PUBLIC_URL that the answer carries.
	resp, body = do(t, c, "GET", api1+"/images/status/"+id, token, nil, nil)
	status := decode(t, body)
	imageURL, _ := status["image_url"].(string)
	wantBytes, _ := status["bytes"].(float64)
	if !strings.HasPrefix(imageURL, apache.URL+"/api/v1/images/file/"+id+"?") {
		t.Fatalf("image_url %q; want an absolute link under PUBLIC_URL %s", imageURL, apache.URL)
	}
	resp, body = do(t, c, "GET", imageURL, "", nil, nil)
	if resp.StatusCode != http.StatusOK || len(body) != int(wantBytes) {
		t.Fatalf("image through Apache: %d, %d bytes; want 200 and %v", resp.StatusCode, len(body), wantBytes)
	}
	if info, err := imaging.Inspect(bytes.NewReader(body), 0); err != nil || info.Width == 0 {
		t.Errorf("image through Apache: %+v %v", info, err)
	}
	// Replicate's webhook came back through Apache too (PUBLIC_URL is Apache's address).
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(cust.log(), `"path":"/api/v1/webhooks/replicate","status":204`) {
		if time.Now().After(deadline) {
			t.Errorf("no webhook reached the app through Apache:\n%s", cust.log())
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The socket: the customer and its group, which holds the web server; not the
	// neighbour, who would have had a loopback port.
	fi, err := os.Stat(cust.Socket)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket %s: %v %v; want mode 0660", cust.Socket, fi, err)
	}
	if root {
		if ok, out := canConnect(t, cust.User, cust.Socket); !ok {
			t.Errorf("the customer cannot open its own socket: %s", out)
		}
		if ok, _ := canConnect(t, neighbour, cust.Socket); ok {
			t.Errorf("another customer of the host opened the socket")
		}
	}

	// Stopped, Apache answers the .htaccess's 503; the next cron minute brings it back.
	stop := cust.Command(filepath.Join(cust.App, "nanobanana"), "stop", "--env-file", filepath.Join(cust.App, ".env"))
	if out, err := stop.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "stopped nanobanana") {
		t.Fatalf("stop: %v %s", err, out)
	}
	resp, body = do(t, c, "GET", apache.URL+"/healthz", "", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "started again within a minute") {
		t.Errorf("with the app stopped, Apache answered %d %q", resp.StatusCode, body)
	}
	if out := cust.cron(t, cronLine); !strings.HasPrefix(out, "started nanobanana") {
		t.Fatalf("the cron line after a stop said %q", out)
	}
	resp, body = do(t, c, "GET", api1+"/images/status/"+id, token, nil, nil)
	if resp.StatusCode != http.StatusOK || decode(t, body)["status"] != "completed" {
		t.Errorf("after the restart: %d %s", resp.StatusCode, body)
	}
}
