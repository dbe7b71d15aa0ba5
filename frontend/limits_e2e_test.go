package frontend

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// An admin sets a user's spending limit (through the API); the user's Create page shows
// what is left before Generate, counts it down with each generation, and shows the
// sentence naming the limit when the next one would pass it.
func TestBrowserSpendingLimit(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	admin := &apiClient{t: t, base: srv.base + "/api/v1"}
	admin.token = admin.call("POST", "/auth/register", map[string]string{
		"username": "boss", "email": "boss@example.com", "password": "boss password 1"})["access_token"].(string)

	ctx := startBrowser(t)
	step := stepper(t, ctx)
	user := fmt.Sprintf("lim%d", time.Now().UnixNano()%1e6)
	password := "limited password"
	step("sign up", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.base + "/")}, signUp(user, password)...)...)

	me := &apiClient{t: t, base: srv.base + "/api/v1", token: apiLogin(t, srv.base, user, password)}
	id := int64(me.call("GET", "/auth/me", nil)["id"].(float64))
	// Two images at 2K (0.15 each).
	admin.call("PUT", "/admin/limits/"+strconv.FormatInt(id, 10), map[string]any{"day_usd": 0.30})

	step("the Create page shows what is left",
		chromedp.Reload(),
		waitVisible("#view-create"),
		waitText("#left", "Left today: $0.30"),
	)
	step("each generation counts it down",
		chromedp.SendKeys(chromedp.CSS("#prompt"), "a limited banana"),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#left", "Left today: $0.15"),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#left", "Left today: $0.00"),
		waitJS(`document.querySelector('#left').classList.contains('spent')`),
	)
	step("over the limit the sentence names it and when it resets",
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitVisible("#gen-error"),
		waitText("#gen-error", "Your spending limit of $0.30 today"),
		waitText("#gen-error", "midnight UTC"),
	)
	if n := countGenerations(t, srv.base, me.token, "a limited banana"); n != 2 {
		t.Errorf("%d generations queued, want 2", n)
	}
	step("in Russian too",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#lang') && (document.querySelector('#lang').value = 'ru', document.querySelector('#lang').dispatchEvent(new Event('change', {bubbles: true})))`),
		waitText("#left", "Осталось сегодня"),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#gen-error", "лимит расходов"),
	)
	step("the user sets a limit of their own in Settings",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)),
		waitVisible("#self-form"),
		chromedp.SendKeys(chromedp.CSS(`#self-form [name=day_images]`), "7"),
		chromedp.Click(chromedp.CSS(`#self-form button[type=submit]`)),
		waitText("#toasts", "Лимиты сохранены"),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)),
		waitText("#left", "5 изобр."),
	)
	if l := me.call("GET", "/users/usage", nil)["self_limits"].(map[string]any); l["day_images"] != 7.0 {
		t.Errorf("self limits stored: %v", l)
	}
}
