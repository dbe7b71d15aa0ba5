package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestBrowserBatch: with the user's queue paused (so nothing starts meanwhile), a
// batch of 4 is queued from the Create form, shown together under one heading with
// each image marked paused, canceled with one click, and then shown as four canceled
// images of one batch in the gallery. UPDATE_SCREENSHOTS=1 also writes
// docs/screenshots/batch-{desktop,phone}-light.png.
func TestBrowserBatch(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	ctx := startBrowser(t)
	step := stepper(t, ctx)
	user := fmt.Sprintf("batch%d", time.Now().UnixNano()%1e6)
	password := "four bananas at once"
	prompt := "four bananas in a row, woodcut"

	step("sign up", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.base + "/")}, signUp(user, password)...)...)
	step("pause my queue",
		waitVisible("#view-create"),
		waitText("#queue-pause", "Pause my queue"),
		chromedp.Click(chromedp.CSS("#queue-pause")),
		waitText("#queue-pause", "Resume my queue"),
		waitVisible("#queue-paused-note"),
	)
	step("queue a batch of 4",
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#gen-count'); s.value = '4'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		waitText("#gen-total", "4 predictions, $0.60 in all"), // 2K at $0.15 each
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#queue-list .batch-head", "Batch of 4"),
		waitJS(`document.querySelectorAll('#queue-list li.in-batch').length === 4`),
		waitJS(`[...document.querySelectorAll('#queue-list li.in-batch')].every(li => li.textContent.includes('Paused') && li.textContent.includes(`+jsString(prompt)+`))`),
		// One heading, and the four right after it.
		waitJS(`(() => { const h = document.querySelector('#queue-list .batch-head'); let n = 0, el = h.nextElementSibling; while (el && el.classList.contains('in-batch')) { n++; el = el.nextElementSibling; } return n === 4; })()`),
	)
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		batchScreenshot(t, ctx, "batch-desktop-light", 1280, 800, false, "#gen-form")
		batchScreenshot(t, ctx, "batch-phone-light", 390, 844, true, "#queue-title")
	}
	step("cancel the batch in one click",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#queue-list .batch-cancel').scrollIntoView({block: 'center'})`),
		chromedp.Click(chromedp.CSS("#queue-list .batch-cancel")),
		// The rows stay on Create, canceled, under their heading, which now offers Retry.
		waitJS(`(() => { const l = [...document.querySelectorAll('#queue-list li.in-batch')]; return l.length === 4 && l.every(li => li.classList.contains('st-canceled')); })()`),
		waitJS(`!!document.querySelector('#queue-list .batch-head .batch-retry') && !document.querySelector('#queue-list .batch-head .batch-cancel')`),
	)
	step("the gallery shows the four canceled together",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitVisible("#view-gallery"),
		waitJS(`document.querySelectorAll('#gallery-grid .tile.in-batch.st-canceled').length === 4`),
		waitJS(`[...document.querySelectorAll('#gallery-grid .tile.in-batch')].every(el => el.textContent.includes('Canceled'))`),
		waitJS(`[...document.querySelectorAll('#gallery-grid .tile.in-batch .batch-badge')].map(b => b.textContent).sort().join(',') === '1 / 4,2 / 4,3 / 4,4 / 4'`),
		waitJS(`document.querySelectorAll('#gallery-grid .tile.in-batch .batch-retry').length === 1`),
	)
	step("retry the batch in one click; resumed, the four run",
		chromedp.Click(chromedp.CSS("#gallery-grid .batch-retry")),
		waitJS(`document.querySelectorAll('#gallery-grid .tile.in-batch').length === 0`),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)),
		waitVisible("#view-create"),
		waitJS(`document.querySelectorAll('#queue-list li.in-batch').length === 4`),
		waitJS(`[...document.querySelectorAll('#queue-list li.in-batch')].every(li => li.textContent.includes('Paused'))`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#queue-pause').scrollIntoView({block: 'center'})`),
		chromedp.Click(chromedp.CSS("#queue-pause")),
		waitText("#queue-pause", "Pause my queue"),
		waitJS(`document.querySelector('#queue-paused-note').hidden`),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitJS(`document.querySelectorAll('#gallery-grid .tile.in-batch.st-completed img').length === 4`),
		// Together, in the order asked for.
		waitJS(`[...document.querySelectorAll('#gallery-grid .tile')].map(el => el.querySelector('.batch-badge')?.textContent).join(',') === '1 / 4,2 / 4,3 / 4,4 / 4'`),
	)
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		batchScreenshot(t, ctx, "batch-gallery-desktop-light", 1280, 800, false, "#gallery-grid")
	}

	// And the server agrees: four generations of one batch, all completed.
	tok := apiLogin(t, srv.base, user, password)
	req, _ := http.NewRequest("GET", srv.base+"/api/v1/images/list?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Items []struct {
			Status  string  `json:"status"`
			BatchID *string `json:"batch_id"`
		} `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	batches := map[string]int{}
	for _, g := range out.Items {
		if g.Status != "completed" || g.BatchID == nil {
			t.Fatalf("a generation %s, batch %v; want four completed of one batch", g.Status, g.BatchID)
		}
		batches[*g.BatchID]++
	}
	if len(out.Items) != 4 || len(batches) != 1 {
		t.Fatalf("%d generations in %d batches, want 4 in 1", len(out.Items), len(batches))
	}
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// batchScreenshot saves the page at one size, light, scrolled to sel, as
// docs/screenshots/name.png.
func batchScreenshot(t *testing.T, ctx context.Context, name string, width, height int64, mobile bool, sel string) {
	t.Helper()
	out := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := chromedp.Do(sctx,
		send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile}),
		scheme("light"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#toasts').replaceChildren(); (el => window.scrollTo(0, el.getBoundingClientRect().top + scrollY - document.querySelector('.topbar').getBoundingClientRect().height - 16))(document.querySelector(`+jsString(sel)+`))`),
		chromedp.Sleep(300*time.Millisecond))
	var png []byte
	if err == nil {
		png, err = chromedp.Run(sctx, chromedp.CaptureScreenshot())
	}
	if err == nil {
		err = chromedp.Do(sctx, send(emulation.ClearDeviceMetricsOverride, cdp.Empty{}))
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(out, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// inLine is a JavaScript expression: the batch's items in the queue as shown, their
// ids and whether they show three places in line one after the other (#k, #k+1, #k+2).
const inLine = `(() => {
	const items = [...document.querySelectorAll('#queue-list li.in-batch')];
	const pos = items.map(li => Number(li.querySelector('.qinfo').textContent.match(/#(\d+)/)?.[1]));
	return { ids: items.map(li => li.dataset.id), ok: pos.length === 3 && pos[0] >= 1 && pos[1] === pos[0] + 1 && pos[2] === pos[1] + 1 };
})()`

// TestBrowserQueueControl: with one generation at a time per user and the first one
// never ending, a batch of three waits in line; "to the front" on its last puts that
// one first in line (#1) and the others after it, as the server counts them.
func TestBrowserQueueControl(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t, "MAX_CONCURRENT_GENERATIONS=1")
	ctx := startBrowser(t)
	step := stepper(t, ctx)
	user := fmt.Sprintf("order%d", time.Now().UnixNano()%1e6)
	step("sign up", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.base + "/")}, signUp(user, "first in line please")...)...)
	step("one runs, a batch of three waits in line",
		waitVisible("#view-create"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), "[[stuck]] the one running"),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#queue-list", "the one running"),
		clearField("#prompt"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), "[[stuck]] waiting"),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#gen-count'); s.value = '3'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(`document.querySelectorAll('#queue-list li.in-batch').length === 3`),
		waitJS(inLine+`.ok`),
	)
	step("to the front: the last of the three is first in line",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const li = [...document.querySelectorAll('#queue-list li.in-batch')].at(-1);
			window.__moved = li.dataset.id;
			li.querySelector('.move-front').click();
		})()`),
		waitText("#toasts", "Moved to the front."),
		waitJS(`((l) => l.ok && l.ids[0] === window.__moved)(`+inLine+`)`),
	)
	step("to the back: it is last again",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#queue-list li.in-batch .move-back').click()`),
		waitText("#toasts", "Moved to the back."),
		waitJS(`((l) => l.ok && l.ids[2] === window.__moved)(`+inLine+`)`),
	)
}
