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
		chromedp.Click(chromedp.CSS("#admin-tab-settings")),
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
		chromedp.Click(chromedp.CSS("#admin-tab-invites")),
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
		chromedp.Click(chromedp.CSS("#admin-tab-users")),
		chromedp.Click(chromedp.CSS("#admin-tab-invites")),
		waitText(`#inv-list li[data-state=used]`, "Used by ann"),
	)

	stepA("pause and resume all work from the Queue tab",
		chromedp.Click(chromedp.CSS("#admin-tab-queue")),
		waitText("#admin-queue-state", "The queue is running."),
		chromedp.Click(chromedp.CSS("#admin-queue-toggle")),
		waitText("#admin-queue-state", "All work is paused"),
		chromedp.Click(chromedp.CSS("#admin-queue-toggle")),
		waitText("#admin-queue-state", "The queue is running."),
	)
	stepA("the audit log shows the disable, filtered by its action",
		chromedp.Click(chromedp.CSS("#admin-tab-audit")),
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

// adminScreenshots saves the Admin page (its Users tab) at desktop and phone width,
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
				chromedp.Click(chromedp.CSS("#admin-tab-users")),
				waitJS(`document.querySelectorAll('#admin-users li[data-user]').length >= 3`),
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
