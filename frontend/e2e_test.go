package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"nanobanana/internal/proctest"
)

const chromiumPath = "/usr/bin/chromium"

// TestBrowser drives the real binary (serve --demo: the in-process fake Replicate) from a
// real headless Chromium, one user's whole day in order: every step asserts on what the
// page shows. NANOBANANA_E2E_BIN names a prebuilt binary; otherwise the test builds one.
// UPDATE_SCREENSHOTS=1 also writes docs/screenshots/.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		proctest.Missing(t, "end-to-end browser test skipped: "+chromiumPath+" is absent (run .ci/install-chromium.sh)")
	}
	if testing.Short() {
		t.Skip("end-to-end browser test skipped in -short mode")
	}
	base := startServer(t).base
	ctx := startBrowser(t)

	user := fmt.Sprintf("e2e%d", time.Now().UnixNano()%1e6)
	step := stepper(t, ctx)

	step("open the app",
		chromedp.Navigate(base+"/"),
		waitVisible("#view-auth"),
		waitText("#demo-banner", "Demo mode"),
		chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`),
	)
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		screenshots(t, ctx, true)
	}

	step("sign up",
		chromedp.Click(chromedp.CSS("#tab-signup")),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=email]`), user+"@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`#form-signup button[type=submit]`)),
		waitVisible("#view-create"),
		waitText("#whoami", user),
	)

	step("save a Replicate key",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)),
		waitVisible("#view-settings"),
		waitText("#key-state", "No key"),
		chromedp.SendKeys(chromedp.CSS(`#key-form [name=api_key]`), "r8_e2etoken1234wxyz"),
		chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`)),
		waitText("#key-state", "…wxyz"),
		waitVisible("#key-remove"),
	)

	prompt1 := "A banana lighthouse at dusk, watercolor"
	step("generate text-to-image and see it in the gallery without a reload",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)),
		waitVisible("#view-create"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt1),
		waitText("#prompt-count", fmt.Sprint(len(prompt1))),
		waitText("#price", "$"),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#queue-list", prompt1),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile.st-completed img')].some(i => i.alt === %q && i.complete && i.naturalWidth > 0)`, prompt1)),
		waitJS(`window.__sameDocument === true`),
	)

	// Two references plus one file that only pretends to be an image.
	dir := t.TempDir()
	refA, refB, fake := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png"), filepath.Join(dir, "notes.png")
	writePNG(t, refA, color.RGBA{200, 40, 40, 255})
	writePNG(t, refB, color.RGBA{40, 40, 200, 255})
	if err := os.WriteFile(fake, []byte("plain text, not a picture"), 0o600); err != nil {
		t.Fatal(err)
	}
	prompt2 := "Blend these two swatches into a sunset"
	step("image-to-image with two uploaded references",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)),
		chromedp.Click(chromedp.CSS(`input[name=generation_mode][value=image-to-image]`)),
		waitVisible("#dropzone"),
		chromedp.SetUploadFiles(chromedp.CSS("#ref-input"), []string{refA, fake, refB}),
		waitJS(`document.querySelectorAll('#ref-list li').length === 2`),
		waitText("#ref-errors", "notes.png: not a JPEG, PNG or WebP image"),
		waitJS(`document.querySelector('#aspect_ratio').value === 'match_input_image'`),
		clearField("#prompt"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt2),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#queue-list", prompt2),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile.st-completed img')].some(i => i.alt === %q && i.naturalWidth > 0)`, prompt2)),
	)

	prompt3 := "[[slow]] a very patient banana"
	step("cancel a queued one: its row says so, with a Retry",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)),
		chromedp.Click(chromedp.CSS(`input[name=generation_mode][value=text-to-image]`)),
		clearField("#prompt"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt3),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#queue-list .qitem')].some(li => li.querySelector('.qprompt').textContent === %q && li.querySelector('.elapsed'))`, prompt3)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll('#queue-list .qitem')].find(li => li.querySelector('.qprompt').textContent === %q).querySelector('.qactions button').click()`, prompt3)),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#queue-list .qitem.st-canceled')].some(li => li.querySelector('.qprompt').textContent === %q && li.textContent.includes('Canceled: it will not run.'))`, prompt3)),
	)

	prompt4 := "[[E005]] something the filter dislikes"
	var failure string
	step("a safety failure reads as a sentence, with Edit prompt rather than a retry of the same prompt",
		clearField("#prompt"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt4),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(`document.querySelector('#queue-list .qitem.st-failed .qerror') !== null`),
		readText(`#queue-list .qitem.st-failed .qerror`, &failure),
		waitJS(`[...document.querySelectorAll('#queue-list .qitem.st-failed button')].some(b => b.textContent === 'Edit prompt')`),
		waitJS(`![...document.querySelectorAll('#queue-list .qitem.st-failed button')].some(b => b.textContent === 'Retry')`),
	)
	// A retry right after a cancel meets 409 generation_stopping with Retry-After: the
	// page waits and sends it again instead of showing an error. The first answer is
	// made here, in the page, as the server gives it while a run still stops.
	step("a 409 with Retry-After is waited out, not shown",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const real = window.fetch;
			window.__stopping = 0;
			window.fetch = (url, opts) => {
				if (String(url).includes('/images/retry/') && window.__stopping === 0) {
					window.__stopping = Date.now();
					return Promise.resolve(new Response(JSON.stringify({detail: 'The generation is still stopping.', code: 'generation_stopping'}),
						{status: 409, headers: {'Content-Type': 'application/json', 'Retry-After': '1'}}));
				}
				if (String(url).includes('/images/retry/') && !window.__resent) window.__resent = Date.now();
				return real(url, opts);
			};
		})()`),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('#queue-list .qitem.st-canceled button')].find(b => b.textContent === 'Retry').click()`),
		waitText("#toasts", "Queued again."),
		waitJS(`window.__resent - window.__stopping >= 900 && ![...document.querySelectorAll('#toasts .toast-error')].length`),
	)
	if words := strings.Fields(failure); len(words) < 5 || !strings.Contains(strings.ToLower(failure), "sensitive") && !strings.Contains(strings.ToLower(failure), "safety") {
		t.Errorf("the safety failure shows %q; want a sentence about the safety filter", failure)
	}

	var viewerPrompt, nextPrompt string
	step("open the viewer, move with the arrow keys, close with Escape",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile.st-completed .tile-btn`)),
		waitJS(`document.querySelector('#viewer').open && document.querySelector('#viewer-img').naturalWidth > 0`),
		readText("#viewer-prompt", &viewerPrompt),
		waitText("#viewer-meta", "Time taken"),
		waitJS(`document.querySelector('#viewer-download').getAttribute('href').length > 0`),
		chromedp.KeyEvent(kb.ArrowRight),
		readText("#viewer-prompt", &nextPrompt),
		chromedp.KeyEvent(kb.Escape),
		waitJS(`!document.querySelector('#viewer').open`),
	)
	if viewerPrompt != prompt2 || nextPrompt != prompt1 {
		t.Errorf("viewer showed %q then (ArrowRight) %q; want the newest %q then %q", viewerPrompt, nextPrompt, prompt2, prompt1)
	}

	step("delete with confirmation",
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile img')].find(i => i.alt === %q).closest('button').click()`, prompt1)),
		waitJS(`document.querySelector('#viewer').open`),
		chromedp.Click(chromedp.CSS("#viewer-delete")),
		waitJS(`document.querySelector('#confirm').open`),
		waitText("#confirm-text", "cannot be undone"),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		waitJS(fmt.Sprintf(`![...document.querySelectorAll('#gallery-grid .tile img')].some(i => i.alt === %q)`, prompt1)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#viewer').open && document.querySelector('#viewer').close()`),
	)

	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		// Fill the gallery and leave one running so the screens show what a user sees.
		for _, p := range []string{"A lemon-yellow tram in a rainy Lisbon street", "Isometric tiny island with a banana tree", "Portrait of a cat astronaut, oil painting", "[[slow]] A paper-cut forest at night"} {
			step("queue "+p, chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)), clearField("#prompt"), chromedp.SendKeys(chromedp.CSS("#prompt"), p), chromedp.Click(chromedp.CSS("#gen-submit")))
		}
		step("wait for the gallery", waitJS(`document.querySelectorAll('#gallery-grid .tile.st-completed img').length >= 4`))
		screenshots(t, ctx, false)
	}

	step("switch language to Russian; it survives a reload, and so does the session",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitVisible("#view-gallery"),
		chromedp.SetValue(chromedp.CSS("#lang"), "ru"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#lang').dispatchEvent(new Event('change'))`),
		waitText(`#nav a[data-nav=gallery]`, "Галерея"),
		waitJS(`document.documentElement.lang === 'ru'`),
		chromedp.Reload(),
		waitVisible("#view-gallery"),
		waitText(`#nav a[data-nav=settings]`, "Настройки"),
		waitText("#whoami", user),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile img')].some(i => i.alt === %q)`, prompt2)),
	)

	step("sign out; a reload stays signed out",
		chromedp.Click(chromedp.CSS("#signout")),
		waitVisible("#view-auth"),
		waitText("#tab-signin", "Войти"),
		chromedp.Reload(),
		waitVisible("#view-auth"),
		waitJS(`document.querySelector('#view-create').hidden && document.querySelector('#gallery-grid').children.length === 0`),
	)

	step("sign in again with the same account; the server's sentence is in the page's language",
		chromedp.SendKeys(chromedp.CSS(`#form-signin [name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`#form-signin [name=password]`), "wrong password!"),
		chromedp.Click(chromedp.CSS(`#form-signin button[type=submit]`)),
		waitText(`#form-signin [data-error]`, "Неверное имя пользователя или пароль."),
		clearField(`#form-signin [name=password]`),
		chromedp.SendKeys(chromedp.CSS(`#form-signin [name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`#form-signin button[type=submit]`)),
		waitText("#whoami", user),
	)
}

// TestBrowserSessions: a password change keeps this tab signed in (it renews through
// its refresh cookie) and ends the other sessions; "sign out everywhere" ends another
// browser's session at its next action.
func TestBrowserSessions(t *testing.T) {
	skipWithoutBrowser(t)
	base := startServer(t).base
	a := startBrowser(t)
	b := secondSession(t, a)
	stepA, stepB := stepper(t, a), stepper(t, b)
	user := fmt.Sprintf("pw%d", time.Now().UnixNano()%1e6)
	const oldPW, newPW = "first password here", "second password here"

	stepA("sign up in the first browser", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/settings")}, signUp(user, oldPW)...)...)
	stepB("sign in as the same user in a second browser", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/")}, signIn(user, oldPW)...)...)

	stepA("a wrong current password is refused with a sentence",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)),
		waitVisible("#view-settings"),
		chromedp.SendKeys(chromedp.CSS(`#pw-form [name=current_password]`), "not my password"),
		chromedp.SendKeys(chromedp.CSS(`#pw-form [name=new_password]`), newPW),
		chromedp.Click(chromedp.CSS(`#pw-form button[type=submit]`)),
		waitText(`#pw-form [data-error]`, "current password is not correct"),
		waitJS(`document.querySelector('#pw-form [name=current_password]').getAttribute('aria-invalid') === 'true'`),
	)
	stepA("change the password; this tab keeps working",
		clearField(`#pw-form [name=current_password]`),
		clearField(`#pw-form [name=new_password]`),
		chromedp.SendKeys(chromedp.CSS(`#pw-form [name=current_password]`), oldPW),
		chromedp.SendKeys(chromedp.CSS(`#pw-form [name=new_password]`), newPW),
		chromedp.Click(chromedp.CSS(`#pw-form button[type=submit]`)),
		waitText("#toasts", "Password changed."),
		waitJS(`document.querySelector('#pw-form [data-error]').hidden && document.querySelector('#pw-form [name=new_password]').value === ''`),
		// An authenticated call after the change: the token it carries is the renewed one.
		chromedp.SendKeys(chromedp.CSS(`#key-form [name=api_key]`), "r8_afterchange9876"),
		chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`)),
		waitText("#key-state", "…9876"),
		waitVisible("#view-settings"),
		// And the session survives a reload, through the rotated cookie.
		chromedp.Reload(),
		waitVisible("#view-settings"),
		waitText("#whoami", user),
		waitText("#key-state", "…9876"),
	)
	stepB("the other browser was signed out by the change; its old password is refused, the new one works",
		chromedp.Reload(),
		waitVisible("#view-auth"),
		chromedp.SendKeys(chromedp.CSS(`#form-signin [name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`#form-signin [name=password]`), oldPW),
		chromedp.Click(chromedp.CSS(`#form-signin button[type=submit]`)),
		waitText(`#form-signin [data-error]`, "Incorrect username or password."),
		clearField(`#form-signin [name=password]`),
		chromedp.SendKeys(chromedp.CSS(`#form-signin [name=password]`), newPW),
		chromedp.Click(chromedp.CSS(`#form-signin button[type=submit]`)),
		waitText("#whoami", user),
		waitVisible("#view-create"),
	)

	stepA("sign out everywhere, after a confirmation",
		chromedp.Click(chromedp.CSS("#signout-all")),
		waitJS(`document.querySelector('#confirm').open`),
		waitText("#confirm-text", "every device"),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		waitVisible("#view-auth"),
		waitText("#toasts", "Signed out."),
		chromedp.Reload(),
		waitVisible("#view-auth"),
	)
	stepB("the other browser is signed out at once: its event stream ends with the session",
		waitVisible("#view-auth"),
		waitText("#toasts", "Your session ended; sign in again."),
		waitJS(`document.querySelector('#whoami').hidden && document.querySelector('#view-create').hidden`),
	)
	stepB("signing in again in the same page shows the form without an old error, and nothing was queued",
		chromedp.Steps(signIn(user, newPW)...),
		waitVisible("#view-create"),
		waitJS(`document.querySelector('#gen-error').hidden`),
		waitText("#queue-empty", "Nothing queued"),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitText("#gallery-empty", "No images yet."),
	)
}

// TestBrowserTokens: a personal access token is made in Settings, shown once, works for
// a script within its scopes, and stops at once when revoked in the page.
func TestBrowserTokens(t *testing.T) {
	skipWithoutBrowser(t)
	base := startServer(t).base
	ctx := startBrowser(t)
	step := stepper(t, ctx)
	user := fmt.Sprintf("tok%d", time.Now().UnixNano()%1e6)
	step("sign up and open Settings", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/settings")}, signUp(user, "token password 1")...)...)

	var secret string
	step("create a read-only token; the secret is shown once",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)),
		waitVisible("#view-settings"),
		waitText("#tok-empty", "No tokens yet."),
		chromedp.SendKeys(chromedp.CSS(`#tok-form [name=name]`), "backup script"),
		chromedp.Click(chromedp.CSS(`#tok-form button[type=submit]`)),
		waitVisible("#tok-new"),
		waitJS(`document.querySelector('#tok-secret').value.startsWith('nbp_')`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.Evaluate[string](`document.querySelector('#tok-secret').value`)(ctx, tg)
			secret = v
			return err
		}),
		waitText("#tok-list", "backup script"),
		waitText("#tok-list", "read"),
		waitText("#tok-list", "never used"),
	)
	script := func(method, path string) int {
		req, _ := http.NewRequest(method, base+"/api/v1"+path, strings.NewReader(`{"prompt":"a banana"}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := script("GET", "/images/list"); got != 200 {
		t.Fatalf("a script lists with the token: %d", got)
	}
	if got := script("POST", "/images/generate"); got != 403 {
		t.Fatalf("a script generates with a read-only token: %d, want 403", got)
	}
	step("the list shows its use; revoke it after a confirmation",
		chromedp.Reload(),
		waitVisible("#view-settings"),
		waitJS(`!document.querySelector('#tok-list').textContent.includes('never used')`),
		waitJS(`document.querySelector('#tok-new').hidden`),
		chromedp.Click(chromedp.CSS(`#tok-list button.danger`)),
		waitJS(`document.querySelector('#confirm').open`),
		waitText("#confirm-text", "backup script"),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		waitText("#toasts", "Token revoked."),
		waitJS(`document.querySelectorAll('#tok-list li').length === 0 && !document.querySelector('#tok-empty').hidden`),
	)
	if got := script("GET", "/images/list"); got != 401 {
		t.Fatalf("a script with the revoked token: %d, want 401", got)
	}
}

// TestBrowserDocs opens the API reference at /docs: it renders the document's
// operations with no console error, no CSP violation (watchConsole) and no request to
// any host but this one.
func TestBrowserDocs(t *testing.T) {
	skipWithoutBrowser(t)
	base := startServer(t).base
	ctx := startBrowser(t)
	step := stepper(t, ctx)
	var mu sync.Mutex
	var requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	step("the reference lists the operations",
		chromedp.Navigate(base+"/docs"),
		waitJS(`document.querySelectorAll('.opblock').length >= 30`),
		waitText("#swagger-ui", "/api/v1/images/generate"),
		waitText("#swagger-ui", "/api/v1/tokens"),
		waitJS(`!!document.querySelector('.btn.authorize')`),
	)
	step("an operation opens with its answer's schema",
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('.opblock')].find(b => b.querySelector('.opblock-summary-path')?.textContent.includes('/api/v1/images/status/')).querySelector('.opblock-summary-control').click()`),
		waitJS(`[...document.querySelectorAll('.opblock.is-open')].some(b => b.textContent.includes('queue_position') || b.textContent.includes('Generation'))`),
	)
	mu.Lock()
	defer mu.Unlock()
	if len(requests) < 4 {
		t.Fatalf("saw only %d requests: %v", len(requests), requests)
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the reference sent a request off the host: %s", u)
		}
	}
}

// TestBrowserOffline stops the server mid-session: the page says the server cannot be
// reached, and once it runs again on the same address and data the page recovers on its
// own, still signed in.
func TestBrowserOffline(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	ctx := startBrowser(t)
	step := stepper(t, ctx)
	user := fmt.Sprintf("off%d", time.Now().UnixNano()%1e6)

	step("sign up", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.base + "/")}, signUp(user, "offline password 1")...)...)
	step("the page is live", waitVisible("#view-create"), waitJS(`document.querySelector('#offline-banner').hidden && document.querySelector('#stream-state').hidden`))

	srv.stop()
	step("with the server gone the banner appears by itself",
		waitVisible("#offline-banner"),
		waitText("#offline-banner", "The server cannot be reached"),
	)
	prompt := "queued while the server is away"
	step("an action meanwhile reads as a sentence",
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#gen-error", "The server cannot be reached; check your connection."),
	)

	srv.start()
	step("with the server back the banner goes away by itself, and the session is still there",
		waitJS(`document.querySelector('#offline-banner').hidden`),
		waitJS(`document.querySelector('#stream-state').hidden`),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(`document.querySelector('#gen-error').hidden`),
		waitText("#queue-list", prompt),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile.st-completed img')].some(i => i.alt === %q && i.naturalWidth > 0)`, prompt)),
		waitText("#whoami", user),
	)
}

// TestBrowserGallery: more generations than one page load as the gallery scrolls, and
// the viewer's "use these settings", "run again" (a new generation, or a retry of a
// failed one) and "copy prompt" do what they say.
func TestBrowserGallery(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	user, password := fmt.Sprintf("gal%d", time.Now().UnixNano()%1e6), "gallery password 1"
	api := &apiClient{t: t, base: srv.base + "/api/v1"}
	api.token = api.call("POST", "/auth/register", map[string]any{"username": user, "email": user + "@example.com", "password": password})["access_token"].(string)

	// Oldest first: a failed one, a page and a half of plain ones, and the newest with
	// settings that are nobody's default.
	const total, pageSize = 50, 24
	failedPrompt, specialPrompt := "[[fail]] a prompt the model fails on", "A banana zeppelin over Lisbon, linocut"
	// Creation times have millisecond precision; the pauses keep the first and the last
	// apart from the rest, so newest-first has one answer.
	api.call("POST", "/images/generate", map[string]any{"prompt": failedPrompt})
	time.Sleep(3 * time.Millisecond)
	for i := 2; i < total; i++ {
		api.call("POST", "/images/generate", map[string]any{"prompt": fmt.Sprintf("plain banana number %d", i)})
	}
	time.Sleep(3 * time.Millisecond)
	api.call("POST", "/images/generate", map[string]any{"prompt": specialPrompt, "resolution": "4K", "aspect_ratio": "16:9", "output_format": "png", "safety_filter_level": "block_low_and_above"})
	api.waitSettled(total)

	ctx := startBrowser(t)
	step := stepper(t, ctx)
	// Phone width: two columns, so a page of tiles is taller than the screen and the next
	// page waits for the scroll.
	step("sign in on a phone-sized screen",
		send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}),
		chromedp.Navigate(srv.base+"/gallery"),
		chromedp.Steps(signIn(user, password)...),
		waitVisible("#view-gallery"),
	)
	tiles := `document.querySelectorAll('#gallery-grid .tile').length`
	distinct := `new Set([...document.querySelectorAll('#gallery-grid .tile')].map(li => li.dataset.id)).size`
	// scrolledTo keeps scrolling to the bottom, as a reader does, until the grid holds n
	// tiles: one scroll can land above the end when images still loading grow the page
	// after it (on a busy machine), and the next page then never comes into view.
	scrolledTo := func(n int) chromedp.Action[chromedp.Void] {
		return waitJS(fmt.Sprintf(`(window.scrollTo(0, document.documentElement.scrollHeight), %s === %d)`, tiles, n))
	}
	var first, second, all int
	step("the first page only, until the end of the grid is reached",
		waitJS(fmt.Sprintf(`%s === %d && document.querySelector('#gallery-loading').hidden`, tiles, pageSize)),
		waitJS(`document.querySelector('#gallery-sentinel').getBoundingClientRect().top > window.innerHeight + 400`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			first, err = chromedp.Evaluate[int](tiles)(ctx, tg)
			return err
		}),
		scrolledTo(2*pageSize),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			second, err = chromedp.Evaluate[int](tiles)(ctx, tg)
			return err
		}),
		scrolledTo(total),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			all, err = chromedp.Evaluate[int](distinct)(ctx, tg)
			return err
		}),
		// Newest first: the failed one, made first, is last.
		waitJS(fmt.Sprintf(`document.querySelector('#gallery-grid .tile:last-child').classList.contains('st-failed') && document.querySelector('#gallery-grid .tile:first-child img')?.alt === %q`, specialPrompt)),
	)
	if first != pageSize || second != 2*pageSize || all != total {
		t.Errorf("tiles: %d, after one scroll %d, after two %d distinct; want %d, %d, %d", first, second, all, pageSize, 2*pageSize, total)
	}

	step("use these settings fills the form",
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile:first-child .tile-btn`)),
		waitJS(`document.querySelector('#viewer').open`),
		waitText("#viewer-prompt", specialPrompt),
		chromedp.Click(chromedp.CSS("#viewer-use")),
		waitJS(`!document.querySelector('#viewer').open`),
		waitVisible("#view-create"),
		waitText("#toasts", "The form has these settings now."),
		waitJS(fmt.Sprintf(`(() => { const f = document.querySelector('#gen-form').elements;
			return f.prompt.value === %q && f.resolution.value === '4K' && f.aspect_ratio.value === '16:9' &&
				f.output_format.value === 'png' && f.safety_filter_level.value === 'block_low_and_above' &&
				f.generation_mode.value === 'text-to-image'; })()`, specialPrompt)),
		waitText("#price", "(4K)"),
		waitText("#prompt-count", fmt.Sprint(len(specialPrompt))),
	)

	specialTiles := fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile.st-completed img')].filter(i => i.alt === %q).length`, specialPrompt)
	step("run again queues a new generation with the same settings, and it lands in the gallery",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile:first-child .tile-btn`)),
		waitText("#viewer-prompt", specialPrompt),
		chromedp.Click(chromedp.CSS("#viewer-again")),
		waitJS(`!document.querySelector('#viewer').open`),
		waitVisible("#view-create"),
		waitText("#toasts", "Queued."),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitJS(specialTiles+` === 2`),
		waitJS(fmt.Sprintf(`%s === %d`, tiles, total+1)),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile:first-child .tile-btn`)),
		waitText("#viewer-prompt", specialPrompt),
		waitText("#viewer-meta", "4K"),
		waitText("#viewer-meta", "16:9"),
		waitText("#viewer-meta", "Strict"),
		chromedp.KeyEvent(kb.Escape),
		waitJS(`!document.querySelector('#viewer').open`),
	)

	grant := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: srv.base})
			return err
		})
	}
	var copied string
	step("copy prompt puts it on the clipboard",
		grant("clipboard-read"),
		grant("clipboard-write"),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile:first-child .tile-btn`)),
		waitText("#viewer-prompt", specialPrompt),
		chromedp.Click(chromedp.CSS("#viewer-copy")),
		waitText("#toasts", "Prompt copied."),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			copied, err = chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)(ctx, tg)
			return err
		}),
		chromedp.KeyEvent(kb.Escape),
		waitJS(`!document.querySelector('#viewer').open`),
	)
	if copied != specialPrompt {
		t.Errorf("the clipboard holds %q after copy prompt; want %q", copied, specialPrompt)
	}

	step("run again on a failed one retries it: it is queued again and fails again with its sentence",
		// The tile is at the very foot of a phone screen, likely still under the toast
		// "Prompt copied.": a tap must go through it.
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.documentElement.scrollHeight)`),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile.st-failed .tile-btn`)),
		waitText("#viewer-prompt", failedPrompt),
		waitJS(`!document.querySelector('#viewer-error').hidden`),
		chromedp.Click(chromedp.CSS("#viewer-again")),
		waitText("#toasts", "Queued again."),
		waitVisible("#view-create"),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#queue-list .qitem.st-failed')].some(li => li.querySelector('.qprompt').textContent === %q && li.querySelector('.qerror'))`, failedPrompt)),
	)
}

// apiClient is a script's view of the JSON API, for setting up what a test needs faster
// than a person could click it.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *apiClient) call(method, path string, body any) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil && !errors.Is(err, io.EOF) {
		c.t.Fatalf("%s %s: %d, %v", method, path, resp.StatusCode, err)
	}
	if resp.StatusCode >= 300 {
		c.t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
	}
	return out
}

// waitSettled waits until n generations exist and none is pending or running.
func (c *apiClient) waitSettled(n int) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		items, _ := c.call("GET", "/images/list?limit=100", nil)["items"].([]any)
		settled := 0
		for _, it := range items {
			if st := it.(map[string]any)["status"]; st != "pending" && st != "running" {
				settled++
			}
		}
		if settled == n && len(items) == n {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d of %d generations settled after a minute", settled, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func skipWithoutBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		proctest.Missing(t, "end-to-end browser test skipped: "+chromiumPath+" is absent (run .ci/install-chromium.sh)")
	}
	if testing.Short() {
		t.Skip("end-to-end browser test skipped in -short mode")
	}
}

// signUp creates an account through the form on a page that shows the sign-in view.
func signUp(user, password string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		waitVisible("#view-auth"),
		chromedp.Click(chromedp.CSS("#tab-signup")),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=email]`), user+"@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=password]`), password),
		chromedp.Click(chromedp.CSS(`#form-signup button[type=submit]`)),
		waitText("#whoami", user),
	}
}

// signIn signs in through the form on a page that shows the sign-in view (a browser
// that never signed in opens on "Create account": the tab is chosen first).
func signIn(user, password string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		waitVisible("#view-auth"),
		chromedp.Click(chromedp.CSS("#tab-signin")),
		chromedp.SendKeys(chromedp.CSS(`#form-signin [name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`#form-signin [name=password]`), password),
		chromedp.Click(chromedp.CSS(`#form-signin button[type=submit]`)),
		waitText("#whoami", user),
	}
}

// waitJS polls a boolean expression until it holds.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond))
}

// clearField empties an input or textarea the way a user's select-all + delete would,
// input event included.
func clearField(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})); })()`, sel))
}

func readText(sel string, dst *string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		v, err := chromedp.TextContent(chromedp.CSS(sel))(ctx, t)
		*dst = v
		return err
	})
}

// send runs one protocol command that answers nothing.
func send[P any](cmd cdp.Command[P, cdp.Empty], params P) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cmd, params)
		return err
	})
}

func scheme(v string) chromedp.Action[chromedp.Void] {
	return send(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
}

func waitVisible(sel string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && !el.closest('[hidden]') && el.getClientRects().length > 0; })()`, sel))
}

func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && el.textContent.includes(%q); })()`, sel, want))
}

func writePNG(t *testing.T, path string, c color.RGBA) {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			m.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMain(m *testing.M) { proctest.Main(m) }

// server is the binary in demo mode on a loopback port, with a data dir that outlives a
// restart.
type server struct {
	t    *testing.T
	env  []string // settings beside the defaults, NAME=value
	bin  string
	addr string
	dir  string
	base string
	proc *proctest.Proc
	past string // the logs of the runs before a restart
}

// startServer builds (or takes) the binary and runs it in demo mode on a loopback port.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	bin := os.Getenv("NANOBANANA_E2E_BIN")
	if bin == "" {
		bin = proctest.Build(t, ".")
	}
	addr := proctest.FreeAddr(t)
	s := &server{t: t, env: env, bin: bin, addr: addr, dir: t.TempDir(), base: "http://" + addr}
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log:\n%s%s", s.past, s.proc.Logs.String())
		}
	})
	return s
}

// start runs the binary on the same address and data dir as before.
func (s *server) start() {
	s.t.Helper()
	if s.proc != nil {
		s.past += s.proc.Logs.String() + "(restarted)\n"
	}
	cmd := exec.Command(s.bin, "serve", "--demo", "--data-dir", s.dir, "--listen", s.addr)
	if len(s.env) > 0 {
		cmd.Env = append(os.Environ(), s.env...)
	}
	s.proc = proctest.Start(s.t, cmd)
	if err := s.proc.WaitHTTP(nil, s.base+"/api/v1/meta", 20*time.Second); err != nil {
		s.t.Fatalf("the server did not answer on %s: %v\n%s", s.addr, err, s.proc.Logs.String())
	}
}

// stop ends the server the way a service manager would, and kills it if it lingers.
func (s *server) stop() {
	if s.proc.Exited() {
		return
	}
	if errors.Is(s.proc.Stop(10*time.Second), proctest.ErrStillRunning) {
		_ = s.proc.Kill()
	}
}

// stepper runs named groups of actions in ctx; a failure shows what the page said.
func stepper(t *testing.T, ctx context.Context) func(name string, actions ...chromedp.Action[chromedp.Void]) {
	return func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for i, a := range actions {
			if err := chromedp.Do(sctx, a); err != nil {
				shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
				t.Fatalf("%s, action %d: %v\npage text:\n%s", name, i+1, err, shown)
			}
		}
	}
}

func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US"),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancel)
	watchConsole(t, ctx)
	if err := chromedp.Do(ctx, send(emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en-US"})); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// secondSession opens a tab in a browser context of its own (its own cookie jar), as
// another browser or device of the same person would be.
func secondSession(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	watchConsole(t, ctx)
	if err := chromedp.Do(ctx, send(emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en-US"})); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// watchConsole fails the test on a script error or a CSP violation in ctx's tab. (Failed
// requests are logged too, and some are expected: a 401 from the silent session resume,
// a wrong password, a stopped server.)
func watchConsole(t *testing.T, ctx context.Context) {
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	// Registered after the context's cancel, so it runs before it: cancel first, then wait.
	t.Cleanup(func() { chromedp.Cancel(ctx); <-done })
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") || m.Type == chromedp.ConsoleError && m.Source == "" {
				t.Errorf("browser console: %s %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
			}
		}
	}()
}

// screenshots saves the main screens at desktop and phone width, light and dark.
func screenshots(t *testing.T, ctx context.Context, signedOut bool) {
	t.Helper()
	out := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	sizes := []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}}
	for _, size := range sizes {
		for _, colors := range []string{"light", "dark"} {
			shot := func(name string, prepare ...chromedp.Action[chromedp.Void]) {
				t.Helper()
				sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				// Toasts from the steps before would cover the screen; they are transient.
				err := chromedp.Do(sctx, append(prepare, chromedp.Evaluate[chromedp.Void](`document.querySelector('#toasts').replaceChildren()`), chromedp.Sleep(300*time.Millisecond))...)
				var png []byte
				if err == nil {
					png, err = chromedp.Run(sctx, chromedp.CaptureScreenshot())
				}
				if err != nil {
					t.Fatalf("screenshot %s: %v", name, err)
				}
				file := filepath.Join(out, fmt.Sprintf("%s-%s-%s.png", name, size.name, colors))
				if err := os.WriteFile(file, png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			setup := chromedp.Steps(
				send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: size.width, Height: size.height, DeviceScaleFactor: 1, Mobile: size.mobile}),
				scheme(colors),
			)
			if signedOut {
				shot("signin", setup, waitVisible("#view-auth"))
				continue
			}
			shot("create", setup,
				chromedp.Evaluate[chromedp.Void](`document.querySelector('#viewer').open && document.querySelector('#viewer').close()`),
				chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)), waitVisible("#view-create"),
				chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			shot("gallery", chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)), waitVisible("#view-gallery"))
			shot("viewer",
				chromedp.Click(chromedp.CSS(`#gallery-grid .tile.st-completed .tile-btn`)),
				waitJS(`document.querySelector('#viewer').open && document.querySelector('#viewer-img').naturalWidth > 0`))
			shot("settings",
				chromedp.Evaluate[chromedp.Void](`document.querySelector('#viewer').close()`),
				chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)), waitVisible("#view-settings"))
		}
	}
	if err := chromedp.Do(ctx,
		send(emulation.ClearDeviceMetricsOverride, cdp.Empty{}),
		scheme("light"),
	); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserOneClickOneJob: a double-click on Generate queues one generation. The button
// is busy (disabled, aria-busy) while its request is out, and each submission carries an
// Idempotency-Key, so neither a second click nor a resent request makes a second job.
func TestBrowserOneClickOneJob(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	ctx := startBrowser(t)
	step := stepper(t, ctx)
	user := fmt.Sprintf("dbl%d", time.Now().UnixNano()%1e6)
	password := "double click password"
	prompt := "one click, one banana"

	step("sign up", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.base + "/")}, signUp(user, password)...)...)
	var box []float64
	step("double-click Generate",
		waitVisible("#view-create"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const b = document.querySelector('#gen-submit');
			window.__busySeen = false;
			new MutationObserver(() => {
				if (b.getAttribute('aria-busy') === 'true' && b.disabled) window.__busySeen = true;
			}).observe(b, { attributes: true });
		})()`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			box, err = chromedp.Evaluate[[]float64](`(() => {
				const b = document.querySelector('#gen-submit');
				b.scrollIntoView({ block: 'center' });
				const r = b.getBoundingClientRect();
				return [r.left + r.width / 2, r.top + r.height / 2];
			})()`)(ctx, tg)
			if err != nil {
				return err
			}
			// A real double-click: press and release twice, the second with a click count of 2.
			if _, err := chromedp.MouseClickXY(box[0], box[1])(ctx, tg); err != nil {
				return err
			}
			_, err = chromedp.MouseClickXY(box[0], box[1], chromedp.ClickCount(2))(ctx, tg)
			return err
		}),
		waitText("#queue-list", prompt),
		waitJS(`window.__busySeen === true`),
		waitJS(`(b => !b.disabled && b.getAttribute('aria-busy') === 'false')(document.querySelector('#gen-submit'))`),
	)
	time.Sleep(500 * time.Millisecond) // a second request, had one gone out, would be in by now

	tok := apiLogin(t, srv.base, user, password)
	if n := countGenerations(t, srv.base, tok, prompt); n != 1 {
		t.Fatalf("a double-click made %d generations, want 1", n)
	}
	step("a new click is a new job",
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(`document.querySelector('#gen-submit').getAttribute('aria-busy') === 'false'`),
	)
	deadline := time.Now().Add(10 * time.Second)
	for countGenerations(t, srv.base, tok, prompt) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("a second click made %d generations in all, want 2", countGenerations(t, srv.base, tok, prompt))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiLogin signs in through the API and answers the access token.
func apiLogin(t *testing.T, base, user, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("login: %d %v", res.StatusCode, err)
	}
	return out.AccessToken
}

// countGenerations counts the user's generations with prompt, from the API's list.
func countGenerations(t *testing.T, base, tok, prompt string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/images/list?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Items []struct {
			Prompt string `json:"prompt"`
		} `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("list: %d %v", res.StatusCode, err)
	}
	n := 0
	for _, g := range out.Items {
		if g.Prompt == prompt {
			n++
		}
	}
	return n
}
