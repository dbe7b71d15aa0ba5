package frontend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserAdmin: an administrator runs the install from the Admin page. Disabling a
// user signs out that user's open tab (another browser) at once; an invitation link
// made on the page signs up one account while registration is by invitation only; the
// queue pauses; the audit log shows what was done. UPDATE_SCREENSHOTS=1 also writes
// docs/screenshots/admin-*.png.
func TestBrowserAdmin(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	a := startBrowser(t)
	b := secondSession(t, a)
	stepA, stepB := stepper(t, a), stepper(t, b)
	const adminPW, userPW = "admin password 1", "victim password 1"

	stepA("the first account is the administrator and sees the Admin tab",
		append(append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.base + "/")}, signUp("root", adminPW)...),
			waitVisible("#nav-admin"))...)
	pub := &apiClient{t: t, base: srv.base + "/api/v1"}
	pub.call("POST", "/auth/register", map[string]string{"username": "victim", "email": "victim@example.com", "password": userPW})
	stepB("the user signs in in another browser; it has no Admin tab, and /admin shows Create",
		append(append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.base + "/admin")}, signIn("victim", userPW)...),
			waitVisible("#view-create"),
			waitJS(`document.querySelector('#nav-admin').hidden && document.querySelector('#view-admin').hidden`))...)

	stepA("find the user and disable it, after a confirmation",
		chromedp.Click(chromedp.CSS("#nav-admin")),
		waitVisible("#view-admin"),
		waitVisible("#admin-user-q"),
		chromedp.SendKeys(chromedp.CSS("#admin-user-q"), "vic"),
		waitJS(`document.querySelectorAll('#admin-users li[data-user]').length === 1 && !!document.querySelector('#admin-users li[data-user=victim]')`),
		chromedp.Click(chromedp.CSS(`#admin-users li[data-user=victim] button[data-act=disable]`)),
		waitJS(`document.querySelector('#confirm').open`),
		waitText("#confirm-text", "Disable victim?"),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		waitText("#toasts", "victim is disabled."),
		waitText(`#admin-users li[data-user=victim]`, "disabled"),
		waitVisible(`#admin-users li[data-user=victim] button[data-act=enable]`),
	)
	stepB("the disabled user's open tab is signed out at once",
		waitVisible("#view-auth"),
		waitText("#toasts", "Your session ended; sign in again."),
		waitJS(`document.querySelector('#whoami').hidden && document.querySelector('#view-create').hidden`),
	)

	stepA("registration by invitation only, set on the Settings tab: it says it was changed here",
		adminTab("settings"),
		waitVisible("#set-registration"),
		waitText(`form[data-key=registration]`, "from environment"),
		chromedp.SetValue(chromedp.CSS("#set-registration"), "invite"),
		chromedp.Click(chromedp.CSS(`form[data-key=registration] button[type=submit]`)),
		waitText("#toasts", "Setting saved."),
		waitJS(`document.querySelector('form[data-key=registration]').dataset.source === 'stored'`),
		waitText(`form[data-key=registration]`, "changed here"),
		waitVisible(`form[data-key=registration] button[data-act=reset]`),
	)
	var link string
	stepA("make an invitation link",
		adminTab("invites"),
		waitVisible("#inv-create"),
		chromedp.SetValue(chromedp.CSS("#inv-expires"), "24"),
		chromedp.SendKeys(chromedp.CSS("#inv-note"), "for Ann"),
		chromedp.Click(chromedp.CSS("#inv-create")),
		waitJS(`document.querySelector('#inv-link').value.includes('/#/invite/')`),
		waitJS(`!!document.querySelector('#inv-list li[data-state=open]')`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			link, err = chromedp.Evaluate[string](`document.querySelector('#inv-link').value`)(ctx, tg)
			return err
		}),
	)
	stepB("without an invitation, sign-up says it is by invitation only",
		chromedp.Navigate(srv.base+"/"),
		waitVisible("#view-auth"),
		chromedp.Click(chromedp.CSS("#tab-signup")),
		waitVisible("#signup-invite-only"),
		waitJS(`document.querySelector('#form-signup button[type=submit]').disabled`),
	)
	stepB("the invitation link opens sign-up with the invitation, and the account is made",
		chromedp.Navigate(link),
		chromedp.Reload(), // a new page for the fragment
		waitVisible("#signup-invited"),
		waitVisible("#form-signup"),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=username]`), "ann"),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=email]`), "ann@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=password]`), "ann password 1"),
		chromedp.Click(chromedp.CSS(`#form-signup button[type=submit]`)),
		waitText("#whoami", "ann"),
		waitJS(`!location.hash.includes('invite')`),
	)
	stepA("the invitation shows as used by ann",
		adminTab("users"),
		adminTab("invites"),
		waitText(`#inv-list li[data-state=used]`, "Used by ann"),
	)

	// Images for the books: two of root's, one of ann's (the demo's fake makes them).
	rootAPI := &apiClient{t: t, base: srv.base + "/api/v1", token: apiLogin(t, srv.base, "root", adminPW)}
	annAPI := &apiClient{t: t, base: srv.base + "/api/v1", token: apiLogin(t, srv.base, "ann", "ann password 1")}
	for i := range 2 {
		rootAPI.call("POST", "/images/generate", map[string]any{"prompt": fmt.Sprint("root's banana ", i), "resolution": "1K"})
	}
	annAPI.call("POST", "/images/generate", map[string]any{"prompt": "ann's banana", "resolution": "4K"})
	rootAPI.waitSettled(2)
	annAPI.waitSettled(1)

	stepA("set ann's limit to one image a day in the Users tab",
		adminTab("users"),
		waitVisible(`#admin-users li[data-user=ann]`),
		chromedp.Click(chromedp.CSS(`#admin-users li[data-user=ann] button[data-act=limits]`)),
		waitText(`form[data-limits=ann]`, "default limits apply"),
		chromedp.SendKeys(chromedp.CSS(`form[data-limits=ann] [name=day_images]`), "1"),
		chromedp.Click(chromedp.CSS(`form[data-limits=ann] button[type=submit]`)),
		waitText("#toasts", "Limits of ann saved."),
		waitText(`form[data-limits=ann]`, "Limits set for this user."),
	)
	stepB("ann is over her limit: Generate says which limit and when it resets",
		chromedp.Reload(),
		waitVisible("#view-create"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), "one banana too many"),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#gen-error", "1 image today would be passed"),
	)
	stepA("the usage chart draws the books per day, in money and in images, by user",
		adminTab("usage"),
		waitJS(`document.querySelectorAll('#usage-chart rect.chart-bar').length === 1`),
		waitText("#usage-total", "3 images"),
		waitText("#usage-total", "$0.6"),
		waitJS(`document.querySelector('#usage-chart svg').getAttribute('aria-label').startsWith('Money (USD) per day')`),
		waitJS(`!!document.querySelector('#usage-users tr[data-user=root]') && document.querySelector('#usage-users tr[data-user=ann]').textContent.includes('$0.3')`),
		chromedp.SetValue(chromedp.CSS("#usage-measure"), "images"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#usage-measure').dispatchEvent(new Event('change'))`),
		waitJS(`document.querySelector('#usage-chart rect.chart-bar').dataset.value === '3'`),
		chromedp.SetValue(chromedp.CSS("#usage-user"), "ann"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#usage-user').dispatchEvent(new Event('change'))`),
		waitJS(`document.querySelector('#usage-chart rect.chart-bar').dataset.value === '1'`),
		waitJS(`document.querySelector('#usage-csv').href.includes('/api/v1/admin/usage.csv?from=')`),
	)

	stepA("pause all work from the Queue tab",
		adminTab("queue"),
		waitText("#admin-queue-state", "The queue is running."),
		chromedp.Click(chromedp.CSS("#admin-queue-toggle")),
		waitText("#admin-queue-state", "All work is paused"),
	)
	held := rootAPI.call("POST", "/images/generate", map[string]any{"prompt": "held while paused", "resolution": "1K"})["id"].(string)
	stepA("a generation queued meanwhile waits in the queue of every user; cancel it; resume",
		adminTab("users"), adminTab("queue"),
		waitJS(fmt.Sprintf(`(() => { const li = document.querySelector('#admin-queue li[data-gen=%q]'); return !!li && li.textContent.includes('root') && li.textContent.includes('Waiting') && li.textContent.includes('attempts 0'); })()`, held)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#admin-queue li[data-gen=%q] button[data-act=cancel]`, held))),
		waitText("#toasts", "Canceled the generation of root."),
		waitText("#admin-queue", "No user has anything waiting or running."),
		chromedp.Click(chromedp.CSS("#admin-queue-toggle")),
		waitText("#admin-queue-state", "The queue is running."),
	)
	if st := rootAPI.call("GET", "/images/status/"+held, nil)["status"]; st != "canceled" {
		t.Fatalf("the generation canceled on the Admin page is %v", st)
	}
	stepA("the audit log shows the disable, filtered by its action",
		adminTab("audit"),
		waitJS(`document.querySelectorAll('#audit-action option').length > 5`),
		chromedp.SetValue(chromedp.CSS("#audit-action"), "user.disabled"),
		chromedp.Click(chromedp.CSS(`#audit-form button[type=submit]`)),
		waitJS(`(() => { const rows = [...document.querySelectorAll('#audit-table tbody tr')]; return rows.length === 1 && rows[0].dataset.action === 'user.disabled' && rows[0].textContent.includes('root') && rows[0].textContent.includes('victim'); })()`),
	)
	stepA("the tabs answer the arrow keys and keep the focus",
		chromedp.Focus(chromedp.CSS("#admin-tab-audit")),
		chromedp.KeyEvent(kb.ArrowLeft),
		waitJS(`document.activeElement.id === 'admin-tab-settings' && document.querySelector('#admin-tab-settings').getAttribute('aria-selected') === 'true'`),
	)

	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		adminScreenshots(t, a)
	}
}

// adminTab opens a tab of the Admin page as a person would: from the top of the page
// (scrolled into view under the sticky top bar, a tab would be covered by it).
func adminTab(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
		chromedp.Click(chromedp.CSS("#admin-tab-"+name)),
		waitJS(fmt.Sprintf(`document.querySelector('#admin-tab-%s').getAttribute('aria-selected') === 'true'`, name)),
	)
}

// adminScreenshots saves the Admin page (its Usage tab) at desktop and phone width,
// light and dark.
func adminScreenshots(t *testing.T, ctx context.Context) {
	t.Helper()
	out := filepath.Join("..", "docs", "screenshots")
	sizes := []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}}
	for _, size := range sizes {
		for _, colors := range []string{"light", "dark"} {
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := chromedp.Do(sctx,
				send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: size.width, Height: size.height, DeviceScaleFactor: 1, Mobile: size.mobile}),
				scheme(colors),
				adminTab("usage"),
				waitJS(`document.querySelectorAll('#usage-chart rect.chart-bar').length === 1`),
				chromedp.Evaluate[chromedp.Void](`document.querySelector('#toasts').replaceChildren(); window.scrollTo(0, 0)`),
				chromedp.Sleep(300*time.Millisecond),
			)
			var png []byte
			if err == nil {
				png, err = chromedp.Run(sctx, chromedp.CaptureScreenshot())
			}
			cancel()
			if err != nil {
				t.Fatalf("admin screenshot %s %s: %v", size.name, colors, err)
			}
			if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("admin-%s-%s.png", size.name, colors)), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := chromedp.Do(ctx, send(emulation.ClearDeviceMetricsOverride, cdp.Empty{}), scheme("light")); err != nil {
		t.Fatal(err)
	}
}
