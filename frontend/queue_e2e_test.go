package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// fakeURL is the demo server's built-in fake Replicate, as its log names it: tests steer
// it (delays, throttling) through its /_fake/config, as an operator of the fake would.
func (s *server) fakeURL() string {
	s.t.Helper()
	m := regexp.MustCompile(`fake_url="?(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(s.proc.Logs.String())
	if m == nil {
		s.t.Fatalf("the server log names no fake_url:\n%s", s.proc.Logs.String())
	}
	return m[1]
}

// configureFake patches the fake's run-time knobs.
func (s *server) configureFake(knobs map[string]any) {
	s.t.Helper()
	b, _ := json.Marshal(knobs)
	res, err := http.Post(s.fakeURL()+"/_fake/config", "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		body, _ := io.ReadAll(res.Body)
		s.t.Fatalf("fake config %s: %d %s", b, res.StatusCode, body)
	}
}

// onNewDocument runs script in every document the tab opens, before the app's modules.
func onNewDocument(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	})
}

// raceRecorder records, in the page, every generation event the stream delivers
// (window.__events) and every status each queue row shows (window.__rows, by id). It
// also holds back the answer to each Generate until the stream has said that
// generation is running: the order that made the row go back to "Waiting".
const raceRecorder = `(() => {
	window.__events = [];
	window.__rows = {};
	const ES = window.EventSource;
	window.EventSource = class extends ES {
		constructor(...a) {
			super(...a);
			this.addEventListener('generation', (e) => { try { const g = JSON.parse(e.data); window.__events.push({ id: g.id, status: g.status }); } catch {} });
		}
	};
	const real = window.fetch;
	window.fetch = async (url, opts) => {
		const res = await real(url, opts);
		if (!String(url).endsWith('/images/generate') || !res.ok || !window.__holdGenerate) return res;
		const body = await res.clone().json();
		const t0 = Date.now();
		while (!window.__events.some((e) => e.id === body.id && e.status !== 'pending') && Date.now() - t0 < 20000) {
			await new Promise((r) => setTimeout(r, 20));
		}
		window.__held = (window.__held || 0) + 1;
		return res;
	};
	const watch = () => {
		const list = document.querySelector('#queue-list');
		if (!list) return setTimeout(watch, 50);
		const seen = () => {
			for (const li of list.querySelectorAll('.qitem')) {
				const st = [...li.classList].find((c) => c.startsWith('st-')).slice(3);
				const rows = window.__rows[li.dataset.id] ||= [];
				if (rows.at(-1) !== st) rows.push(st);
			}
		};
		new MutationObserver(seen).observe(list, { childList: true, subtree: true, attributes: true });
	};
	document.addEventListener('DOMContentLoaded', watch);
})()`

// rowOf is a JS expression: the queue row of the generation whose prompt is p.
func rowOf(p string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#queue-list .qitem')].find(li => li.querySelector('.qprompt')?.textContent === %q)`, p)
}

// TestBrowserQueueTellsTheTruth: a row reads running while its prediction runs and
// never goes back, even when the answer to Generate arrives after the stream said
// running; six generations queued at once show their places 1 to 6 among the user's
// own; a fast failure shows on its row at once; a retried attempt shows its number and
// its reason. UPDATE_SCREENSHOTS=1 writes queue-desktop-light.png.
func TestBrowserQueueTellsTheTruth(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t, "MAX_CONCURRENT_GENERATIONS=1")
	ctx := startBrowser(t)
	step := stepper(t, ctx)
	user, password := fmt.Sprintf("q%d", time.Now().UnixNano()%1e6), "queue password 1"

	step("sign up, with the recorder in the page",
		onNewDocument(raceRecorder),
		chromedp.Navigate(srv.base+"/"),
		chromedp.Steps(signUp(user, password)...),
		waitVisible("#view-create"),
	)
	api := &apiClient{t: t, base: srv.base + "/api/v1", token: apiLogin(t, srv.base, user, password)}

	srv.configureFake(map[string]any{"slow_run_time": "4s"})
	slow := "[[slow]] a lighthouse that takes its time"
	step("the answer to Generate arrives after the stream said running: the row still reads running",
		chromedp.Evaluate[chromedp.Void](`window.__holdGenerate = true`),
		chromedp.SendKeys(chromedp.CSS("#prompt"), slow),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(`window.__held === 1`),
		waitJS(rowOf(slow)+`?.classList.contains('st-running')`),
		chromedp.Evaluate[chromedp.Void](`window.__holdGenerate = false`),
	)
	slowID := itemByPrompt(t, api, slow)["id"].(string)
	if st := api.call("GET", "/images/status/"+slowID, nil)["status"]; st != "running" {
		t.Fatalf("the API says %v while the row reads running", st)
	}
	step("it completes in place, with its image",
		waitJS(rowOf(slow)+`?.classList.contains('st-completed')`),
		waitJS(rowOf(slow)+`.querySelector('.qthumb img')?.naturalWidth > 0`),
	)
	step("its image opens the viewer in place",
		chromedp.Evaluate[chromedp.Void](rowOf(slow)+`.querySelector('.qthumb').click()`),
		waitJS(fmt.Sprintf(`document.querySelector('#viewer').open && document.querySelector('#viewer-prompt').textContent === %q && document.querySelector('#viewer-img').naturalWidth > 0`, slow)),
		chromedp.Click(chromedp.CSS("#viewer-close")),
		waitJS(`!document.querySelector('#viewer').open`),
	)
	var rows []string
	step("read what the row showed", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
		rows, err = chromedp.Evaluate[[]string](fmt.Sprintf(`window.__rows[%q]`, slowID))(ctx, tg)
		return err
	}))
	if strings.Join(rows, ",") != "running,completed" && strings.Join(rows, ",") != "pending,running,completed" {
		t.Fatalf("the row showed %v; want it to go forward only: (pending,) running, completed", rows)
	}

	// One slot per user: a slow prediction holds it, so the next six wait.
	srv.configureFake(map[string]any{"slow_run_time": "12s"})
	holder := "[[slow]] holding the slot"
	api.call("POST", "/images/generate", map[string]any{"prompt": holder})
	var six []string
	for i := range 6 {
		six = append(six, fmt.Sprintf("waiting banana %d", i+1))
		api.call("POST", "/images/generate", map[string]any{"prompt": six[i]})
	}
	positions := func(n int) string {
		var want []string
		for i := range n {
			want = append(want, fmt.Sprintf("#%d of your %d waiting", i+1, n))
		}
		js, _ := json.Marshal(want)
		return fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('#queue-list .qitem.st-pending .qpos')].map(e => e.textContent).sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))) === %q`, js)
	}
	// The places and their order, read in one look: the first queued is #1, the last #6.
	// Each with a wait estimated from how long this user's finished one took.
	inOrder := fmt.Sprintf(`%s?.querySelector('.qpos')?.textContent === '#1 of your 6 waiting' && %s?.querySelector('.qpos')?.textContent === '#6 of your 6 waiting' && /about \S+ to wait/.test(%s.querySelector('.qinfo').textContent)`, rowOf(six[0]), rowOf(six[5]), rowOf(six[5]))
	step("six queued at once show their places 1 to 6, in the order they start",
		waitJS(rowOf(holder)+`?.classList.contains('st-running')`),
		waitJS(positions(6)+` && `+inOrder),
	)
	step("when the first starts, the others move up",
		waitJS(rowOf(six[1])+`?.querySelector('.qpos')?.textContent === '#1 of your 5 waiting' || !`+rowOf(six[1])+`?.classList.contains('st-pending')`),
		waitJS(`[...document.querySelectorAll('#queue-list .qitem.st-pending')].length === 0`),
	)
	api.waitSettledPrompts(append(six, holder))

	fast := "[[E005]] a prompt the filter refuses"
	step("a fast failure shows on its row at once, with Edit prompt instead of a blind retry",
		clearField("#prompt"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), fast),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(rowOf(fast)+`?.classList.contains('st-failed')`),
		waitJS(rowOf(fast)+`.querySelector('.qerror').textContent.includes('safety filter')`),
		waitJS(`[...`+rowOf(fast)+`.querySelectorAll('button')].some(b => b.textContent === 'Edit prompt')`),
		waitJS(`![...`+rowOf(fast)+`.querySelectorAll('button')].some(b => b.textContent === 'Retry')`),
	)
	step("Edit prompt puts it back in the form, selected for editing",
		chromedp.Evaluate[chromedp.Void](`[...`+rowOf(fast)+`.querySelectorAll('button')].find(b => b.textContent === 'Edit prompt').click()`),
		waitJS(fmt.Sprintf(`document.activeElement === document.querySelector('#prompt') && document.querySelector('#prompt').value === %q`, fast)),
	)

	step("in the viewer, the safety failure has no price and no retry, and offers Edit prompt",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile.st-failed .tile-btn`)),
		waitJS(fmt.Sprintf(`document.querySelector('#viewer').open && document.querySelector('#viewer-prompt').textContent === %q`, fast)),
		waitText("#viewer-error", "Edit the prompt"),
		waitJS(`!document.querySelector('#viewer-meta').textContent.includes('Price') && document.querySelector('#viewer-again').hidden`),
		waitJS(`document.querySelector('#viewer-edit').textContent === 'Edit prompt' && !document.querySelector('#viewer-edit').hidden`),
		chromedp.Click(chromedp.CSS("#viewer-edit")),
		waitVisible("#view-create"),
		waitJS(fmt.Sprintf(`document.activeElement === document.querySelector('#prompt') && document.querySelector('#prompt').value === %q`, fast)),
	)

	// A generation whose reference is an https:// image (the original's clients send
	// those): its settings come back with the link, and Generate takes them.
	link := "https://127.0.0.1:9/banana.png"
	linked := api.call("POST", "/images/generate", map[string]any{"prompt": "from a link", "generation_mode": "image-to-image", "reference_images": []string{link}})
	api.waitSettledPrompts([]string{"from a link"})
	step("Use these settings keeps an https:// reference, and Generate succeeds",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('#gallery-grid .tile[data-id=%q] .tile-btn').click()`, linked["id"])),
		waitJS(`document.querySelector('#viewer').open && document.querySelector('#viewer-prompt').textContent === 'from a link'`),
		chromedp.Click(chromedp.CSS("#viewer-use")),
		waitVisible("#view-create"),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#ref-list li')].map(li => li.dataset.url).join() === %q`, link)),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#toasts", "Queued."),
		waitJS(`document.querySelector('#gen-error').hidden`),
	)
	if again := newestByPrompt(t, api, "from a link", linked["id"].(string)); mustJSON(again["reference_image_ids"]) != mustJSON([]string{link}) {
		t.Fatalf("the new generation's references: %v", again["reference_image_ids"])
	}

	srv.configureFake(map[string]any{"throttle_next_creates": 1, "retry_after_seconds": 3})
	retried := "a banana retried once"
	step("a retried attempt shows its number and its reason, then completes",
		clearField("#prompt"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), retried),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(rowOf(retried)+`?.querySelector('.qattempt')?.textContent === 'attempt 2'`),
		waitJS(rowOf(retried)+`.querySelector('.qwhy').textContent === 'Attempt 2: the previous one failed (Replicate asked to slow down).'`),
		waitJS(rowOf(retried)+`.classList.contains('st-running')`),
		waitJS(rowOf(retried)+`?.classList.contains('st-completed')`),
	)

	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		queueScreenshot(t, ctx, srv, api)
	}
}

// queueScreenshot shows the queue with a failed, a retrying and a running job.
func queueScreenshot(t *testing.T, ctx context.Context, srv *server, api *apiClient) {
	step := stepper(t, ctx)
	api.call("POST", "/images/generate", map[string]any{"prompt": "[[E005]] a knight the filter dislikes"})
	time.Sleep(time.Second)
	srv.configureFake(map[string]any{"throttle_next_creates": 1, "retry_after_seconds": 120, "slow_run_time": "120s"})
	api.call("POST", "/images/generate", map[string]any{"prompt": "A banana tram in the rain, gouache"})
	step("wait for the retry", waitJS(`[...document.querySelectorAll('#queue-list .qitem')].some(li => li.querySelector('.badge').textContent === 'Retrying')`))
	api.call("POST", "/images/generate", map[string]any{"prompt": "[[slow]] A paper-cut forest at night"})
	step("wait for the running one", waitJS(`document.querySelectorAll('#queue-list .qitem.st-running').length === 2`))
	step("hide the rows of the test before, and empty the form", chromedp.Evaluate[chromedp.Void](`(() => {
		const keep = ['[[E005]] a knight the filter dislikes', 'A banana tram in the rain, gouache', '[[slow]] A paper-cut forest at night'];
		for (const li of document.querySelectorAll('#queue-list .qitem')) {
			if (!keep.includes(li.querySelector('.qprompt').textContent)) [...li.querySelectorAll('button')].find(b => b.textContent === 'Dismiss')?.click();
		}
		for (const b of document.querySelectorAll('#ref-list .remove')) b.click();
		document.querySelector('input[name=generation_mode][value=text-to-image]').click();
		const p = document.querySelector('#prompt');
		p.value = '';
		p.dispatchEvent(new Event('input'));
	})()`))
	step("queue screenshot",
		send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1280, Height: 800, DeviceScaleFactor: 1}),
		scheme("light"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#toasts').replaceChildren(); window.scrollTo(0, 0)`),
		chromedp.Sleep(300*time.Millisecond),
	)
	writeShot(t, ctx, "queue-desktop-light.png")
}

func writeShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// itemByPrompt is the user's newest generation with prompt p, from the API's list.
func itemByPrompt(t *testing.T, api *apiClient, p string) map[string]any {
	t.Helper()
	for _, it := range api.call("GET", "/images/list?limit=100", nil)["items"].([]any) {
		if g := it.(map[string]any); g["prompt"] == p {
			return g
		}
	}
	t.Fatalf("no generation with prompt %q", p)
	return nil
}

// waitSettledPrompts waits until the generations with these prompts are finished.
func (c *apiClient) waitSettledPrompts(prompts []string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		left := 0
		for _, it := range c.call("GET", "/images/list?limit=100", nil)["items"].([]any) {
			g := it.(map[string]any)
			for _, p := range prompts {
				if g["prompt"] == p && (g["status"] == "pending" || g["status"] == "running") {
					left++
				}
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("generations %v did not finish in a minute", prompts)
}

// upload sends files to POST /uploads and answers their ids.
func (c *apiClient) upload(paths ...string) []string {
	c.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			c.t.Fatal(err)
		}
		w, _ := mw.CreateFormFile("images", filepath.Base(p))
		w.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+"/uploads", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Uploads []struct {
			ID string `json:"id"`
		} `json:"uploads"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 201 {
		c.t.Fatalf("upload: %d %v", res.StatusCode, err)
	}
	var ids []string
	for _, u := range out.Uploads {
		ids = append(ids, u.ID)
	}
	return ids
}

// pixels fetches an image (a signed URL of this server) and decodes it.
func pixels(t *testing.T, base, url string) image.Image {
	t.Helper()
	if strings.HasPrefix(url, "/") {
		url = base + url
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	m, _, err := image.Decode(res.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return m
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y += 7 {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x += 7 {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				return false
			}
		}
	}
	return true
}

// swipeOn swipes a finger across the element from 80% to 20% of its width (left) or
// back (right), as real touch input.
func swipeOn(sel string, left bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		box, err := chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`, sel))(ctx, tg)
		if err != nil {
			return err
		}
		y := box[1] + box[3]/2
		from, to := box[0]+box[2]*0.8, box[0]+box[2]*0.2
		if !left {
			from, to = to, from
		}
		touch := func(typ input.DispatchTouchEventType, x float64) error {
			pts := []*input.TouchPoint{{X: x, Y: y}}
			if typ == input.DispatchTouchEventTypeTouchEnd {
				pts = []*input.TouchPoint{}
			}
			_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: typ, TouchPoints: pts})
			return err
		}
		if err := touch(input.DispatchTouchEventTypeTouchStart, from); err != nil {
			return err
		}
		for i := 1; i <= 5; i++ {
			if err := touch(input.DispatchTouchEventTypeTouchMove, from+(to-from)*float64(i)/5); err != nil {
				return err
			}
		}
		return touch(input.DispatchTouchEventTypeTouchEnd, to)
	})
}

// TestBrowserViewerPhone, on a phone-sized touch screen: the viewer fills the screen
// with its actions (Close and Download among them) in reach without scrolling; a swipe
// moves between images; delete shows the next image and keeps the focus inside; "Use
// these settings" on an image-to-image generation brings its references back and
// Generate succeeds; "Use as reference" and "Edit" queue image-to-image generations
// from the shown image. UPDATE_SCREENSHOTS=1 writes viewer-phone-light/dark.png.
func TestBrowserViewerPhone(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	user, password := fmt.Sprintf("ph%d", time.Now().UnixNano()%1e6), "phone password 1"
	api := &apiClient{t: t, base: srv.base + "/api/v1"}
	api.token = api.call("POST", "/auth/register", map[string]any{"username": user, "email": user + "@example.com", "password": password})["access_token"].(string)

	dir := t.TempDir()
	refA, refB := filepath.Join(dir, "red.png"), filepath.Join(dir, "blue.png")
	writePNG(t, refA, color.RGBA{200, 40, 40, 255})
	writePNG(t, refB, color.RGBA{40, 40, 200, 255})
	ids := api.upload(refA, refB)
	// Oldest first; the newest is shown first.
	prompts := []string{"A banana kite over dunes", "A banana submarine, blueprint", "A banana clock tower, etching"}
	for _, p := range prompts {
		api.call("POST", "/images/generate", map[string]any{"prompt": p, "output_format": "png"})
		time.Sleep(3 * time.Millisecond)
	}
	i2i := "Blend the two swatches into a banana sunset"
	src := api.call("POST", "/images/generate", map[string]any{"prompt": i2i, "generation_mode": "image-to-image", "reference_image_ids": ids})
	api.waitSettled(4)

	ctx := startBrowser(t)
	step := stepper(t, ctx)
	step("sign in on a phone-sized touch screen",
		send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}),
		send(emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}),
		chromedp.Navigate(srv.base+"/gallery"),
		chromedp.Steps(signIn(user, password)...),
		waitVisible("#view-gallery"),
		waitJS(`document.querySelectorAll('#gallery-grid .tile.st-completed img').length === 4`),
	)

	shownPrompt := `document.querySelector('#viewer-prompt').textContent`
	step("the viewer fills the screen; Close, Download and the actions are in reach without scrolling",
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile:first-child .tile-btn`)),
		waitJS(`document.querySelector('#viewer').open && document.querySelector('#viewer-img').naturalWidth > 0`),
		waitJS(fmt.Sprintf(`%s === %q`, shownPrompt, i2i)),
		waitJS(`(() => { const r = document.querySelector('#viewer').getBoundingClientRect(); return r.left === 0 && r.top === 0 && r.width === innerWidth && r.height === innerHeight; })()`),
		waitJS(`['#viewer-close-bar', '#viewer-download', '#viewer-delete', '#viewer-edit', '#viewer-ref', '#viewer-again', '#viewer-use'].every(s => {
			const r = document.querySelector(s).getBoundingClientRect();
			return r.width > 0 && r.top >= 0 && r.bottom <= innerHeight && document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)?.closest(s);
		})`),
		// Its references are thumbnails, not a count.
		waitJS(`[...document.querySelectorAll('#viewer-meta .ref-thumbs img')].filter(i => i.naturalWidth > 0).length === 2`),
	)
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		for _, colors := range []string{"light", "dark"} {
			step("viewer screenshot "+colors, scheme(colors), chromedp.Evaluate[chromedp.Void](`document.querySelector('#toasts').replaceChildren()`), chromedp.Sleep(300*time.Millisecond))
			writeShot(t, ctx, "viewer-phone-"+colors+".png")
		}
		step("back to light", scheme("light"))
	}

	step("a swipe left shows the next image, a swipe right the previous",
		swipeOn(".viewer-media", true),
		waitJS(fmt.Sprintf(`%s === %q`, shownPrompt, prompts[2])),
		swipeOn(".viewer-media", true),
		waitJS(fmt.Sprintf(`%s === %q`, shownPrompt, prompts[1])),
		swipeOn(".viewer-media", false),
		waitJS(fmt.Sprintf(`%s === %q`, shownPrompt, prompts[2])),
	)
	step("delete shows the next image, the viewer stays open with the focus inside",
		chromedp.Click(chromedp.CSS("#viewer-delete")),
		waitJS(`document.querySelector('#confirm').open`),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		waitJS(fmt.Sprintf(`%s === %q`, shownPrompt, prompts[1])),
		waitJS(`document.querySelector('#viewer').open && !!document.activeElement?.closest('#viewer')`),
		waitJS(fmt.Sprintf(`![...document.querySelectorAll('#gallery-grid .tile img')].some(i => i.alt === %q)`, prompts[2])),
	)

	step("Use these settings on the image-to-image one brings its references back",
		swipeOn(".viewer-media", false),
		waitJS(fmt.Sprintf(`%s === %q`, shownPrompt, i2i)),
		chromedp.Click(chromedp.CSS("#viewer-use")),
		waitVisible("#view-create"),
		waitJS(`document.querySelector('#gen-form').elements.generation_mode.value === 'image-to-image'`),
		waitJS(fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('#ref-list li')].map(li => li.dataset.upload)) === %q`, mustJSON(ids))),
		waitJS(`[...document.querySelectorAll('#ref-list img')].every(i => i.naturalWidth > 0)`),
	)
	step("and Generate succeeds with them",
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(`document.querySelector('#gen-error').hidden`),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#queue-list .qitem.st-completed')].some(li => li.querySelector('.qprompt').textContent === %q)`, i2i)),
	)
	again := newestByPrompt(t, api, i2i, src["id"].(string))
	if mustJSON(again["reference_image_ids"]) != mustJSON(ids) {
		t.Fatalf("the new generation's references %v, want %v", again["reference_image_ids"], ids)
	}

	// Edit: the shown image becomes the only reference, the prompt is empty and focused.
	editSrc := itemByPrompt(t, api, prompts[1])
	edit := "the same submarine, now at night"
	step("Edit on a result: image-to-image from this image with a new instruction",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile img')].find(i => i.alt === %q).closest('button').click()`, prompts[1])),
		waitJS(fmt.Sprintf(`%s === %q`, shownPrompt, prompts[1])),
		chromedp.Click(chromedp.CSS("#viewer-edit")),
		waitVisible("#view-create"),
		waitJS(`document.querySelector('#gen-form').elements.generation_mode.value === 'image-to-image' && document.querySelectorAll('#ref-list li').length === 1`),
		waitJS(`document.activeElement === document.querySelector('#prompt') && document.querySelector('#prompt').value === ''`),
		chromedp.SendKeys(chromedp.CSS("#prompt"), edit),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#queue-list .qitem.st-completed')].some(li => li.querySelector('.qprompt').textContent === %q)`, edit)),
	)
	checkRefersTo(t, srv, api, itemByPrompt(t, api, edit), editSrc)

	// Use as reference: added to the form's references.
	useSrc := itemByPrompt(t, api, prompts[0])
	use := "a kite like this one, but green"
	step("Use as reference on a result adds it to the form",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile img')].find(i => i.alt === %q).closest('button').click()`, prompts[0])),
		waitJS(fmt.Sprintf(`%s === %q`, shownPrompt, prompts[0])),
		chromedp.Click(chromedp.CSS("#viewer-ref")),
		waitVisible("#view-create"),
		waitText("#toasts", "Added as a reference image."),
		waitJS(`document.querySelectorAll('#ref-list li').length === 2 && [...document.querySelectorAll('#ref-list img')].every(i => i.naturalWidth > 0)`),
		// Only the new one is wanted: remove the reference the edit left.
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#ref-list li .remove').click()`),
		waitJS(`document.querySelectorAll('#ref-list li').length === 1`),
		clearField("#prompt"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), use),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#queue-list .qitem.st-completed')].some(li => li.querySelector('.qprompt').textContent === %q)`, use)),
	)
	checkRefersTo(t, srv, api, itemByPrompt(t, api, use), useSrc)

	step("in Russian the viewer's actions speak Russian",
		chromedp.SetValue(chromedp.CSS("#lang"), "ru"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#lang').dispatchEvent(new Event('change'))`),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile:first-child .tile-btn`)),
		waitJS(`document.querySelector('#viewer').open`),
		waitJS(`['#viewer-edit', '#viewer-ref', '#viewer-again', '#viewer-close-bar'].map(s => document.querySelector(s).textContent).join('|') === 'Изменить|Сделать образцом|Вариация|Закрыть'`),
	)
}

// checkRefersTo checks through the API that generation g is image-to-image from src's
// image: its one reference is an upload with src's pixels.
func checkRefersTo(t *testing.T, srv *server, api *apiClient, g, src map[string]any) {
	t.Helper()
	refs, _ := g["reference_image_ids"].([]any)
	urls, _ := g["reference_urls"].([]any)
	if g["generation_mode"] != "image-to-image" || len(refs) != 1 || len(urls) != 1 {
		t.Fatalf("%q: mode %v, references %v", g["prompt"], g["generation_mode"], refs)
	}
	if !samePixels(pixels(t, srv.base, urls[0].(string)), pixels(t, srv.base, src["image_url"].(string))) {
		t.Fatalf("%q: its reference is not the image of %q", g["prompt"], src["prompt"])
	}
}

// newestByPrompt is the user's generation with prompt p other than not.
func newestByPrompt(t *testing.T, api *apiClient, p, not string) map[string]any {
	t.Helper()
	for _, it := range api.call("GET", "/images/list?limit=100", nil)["items"].([]any) {
		if g := it.(map[string]any); g["prompt"] == p && g["id"] != not {
			return g
		}
	}
	t.Fatalf("no second generation with prompt %q", p)
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
