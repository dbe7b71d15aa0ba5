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

// TestBrowserFind: search the gallery by a word of a prompt (Russian too), mark a
// favorite from a card and the viewer, add an image to a new board from the viewer,
// open the board's view, and fill the Create form from the prompt history.
func TestBrowserFind(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	user, password := fmt.Sprintf("find%d", time.Now().UnixNano()%1e6), "find password 1"
	api := &apiClient{t: t, base: srv.base + "/api/v1"}
	api.token = api.call("POST", "/auth/register", map[string]any{"username": user, "email": user + "@example.com", "password": password})["access_token"].(string)
	prompts := []string{"A red fox in the snow, watercolor", "Маяк в тумане, акварель", "Café terrace at night", "An old tram on a bridge"}
	for _, p := range prompts {
		api.call("POST", "/images/generate", map[string]any{"prompt": p, "resolution": "1K"})
		time.Sleep(3 * time.Millisecond) // newest first has one answer
	}
	api.waitSettled(len(prompts))

	ctx := startBrowser(t)
	step := stepper(t, ctx)
	tiles := `[...document.querySelectorAll('#gallery-grid .tile img')].map(i => i.alt)`
	step("sign in, the gallery holds every image",
		chromedp.Navigate(srv.base+"/gallery"),
		chromedp.Steps(signIn(user, password)...),
		waitVisible("#find-q"),
		waitJS(tiles+`.length === 4`),
	)
	step("search by a word of a prompt",
		chromedp.SendKeys(chromedp.CSS("#find-q"), "fox"),
		waitJS(fmt.Sprintf(`JSON.stringify(%s) === JSON.stringify([%q])`, tiles, prompts[0])),
		clearField("#find-q"),
		chromedp.SendKeys(chromedp.CSS("#find-q"), "маяк"),
		waitJS(fmt.Sprintf(`JSON.stringify(%s) === JSON.stringify([%q])`, tiles, prompts[1])),
		clearField("#find-q"),
		chromedp.SendKeys(chromedp.CSS("#find-q"), "cafe"), // no accent: still found
		waitJS(fmt.Sprintf(`JSON.stringify(%s) === JSON.stringify([%q])`, tiles, prompts[2])),
		clearField("#find-q"),
		waitJS(tiles+`.length === 4`),
	)
	step("favorite from a card, then only favorites",
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile:last-child .tile-star`)),
		waitText("#toasts", "Added to favorites."),
		waitJS(`document.querySelector('#gallery-grid .tile:last-child .tile-star').getAttribute('aria-pressed') === 'true'`),
		chromedp.Click(chromedp.CSS("#find-fav")),
		waitJS(fmt.Sprintf(`JSON.stringify(%s) === JSON.stringify([%q])`, tiles, prompts[0])),
		chromedp.Click(chromedp.CSS("#find-fav")),
		waitJS(tiles+`.length === 4`),
	)
	step("favorite in the viewer and add to a new board",
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile:first-child .tile-btn`)),
		waitText("#viewer-prompt", prompts[3]),
		waitText("#viewer-star", "☆"),
		chromedp.Click(chromedp.CSS("#viewer-star")),
		waitText("#viewer-star", "★"),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#viewer-board'); s.value = '+'; s.dispatchEvent(new Event('change')); })()`),
		waitVisible("#board-name"),
		chromedp.SendKeys(chromedp.CSS("#board-name"), "Trams"),
		chromedp.Click(chromedp.CSS("#board-name-ok")),
		waitText("#toasts", "Board “Trams” created."),
		waitText("#toasts", "Added to “Trams”."),
		waitText("#board-select", "Trams (1)"),
	)
	step("the board's view holds its image",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#board-select'); s.value = s.options[1].value; s.dispatchEvent(new Event('change')); })()`),
		waitText("#board-title", "Trams"),
		waitJS(fmt.Sprintf(`JSON.stringify(%s) === JSON.stringify([%q])`, tiles, prompts[3])),
		waitJS(`document.querySelector('#gallery-grid .tile .tile-star.on') !== null`),
	)
	boardShot(t, ctx)
	step("back to all images, searched for a screenshot",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#board-select'); s.value = ''; s.dispatchEvent(new Event('change')); })()`),
		waitJS(tiles+`.length === 4`),
		chromedp.SendKeys(chromedp.CSS("#find-q"), "night"),
		waitJS(fmt.Sprintf(`JSON.stringify(%s) === JSON.stringify([%q])`, tiles, prompts[2])),
	)
	searchShot(t, ctx)
	step("the prompt history fills the form in one click",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)),
		waitVisible("#prompt-panel"),
		chromedp.Click(chromedp.CSS("#prompt-panel summary")),
		waitText("#history-list", prompts[1]),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll('#history-list .prompt-use')].find(b => b.textContent === %q).click()`, prompts[1])),
		waitJS(fmt.Sprintf(`document.querySelector('#prompt').value === %q`, prompts[1])),
		chromedp.SendKeys(chromedp.CSS("#save-name"), "Lighthouse"),
		chromedp.Click(chromedp.CSS("#save-prompt")),
		waitText("#saved-list", "Lighthouse"),
		clearField("#prompt"),
		chromedp.Click(chromedp.CSS(`#saved-list .prompt-use`)),
		waitJS(fmt.Sprintf(`document.querySelector('#prompt').value === %q`, prompts[1])),
		chromedp.KeyEvent(kb.Escape),
	)
}

// shot saves the page as docs/screenshots/NAME-{desktop,phone}-{light,dark}.png.
func shot(t *testing.T, ctx context.Context, name string, prepare ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	out := filepath.Join("..", "docs", "screenshots")
	for _, size := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}} {
		for _, colors := range []string{"light", "dark"} {
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			actions := append([]chromedp.Action[chromedp.Void]{
				send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: size.width, Height: size.height, DeviceScaleFactor: 1, Mobile: size.mobile}),
				scheme(colors),
			}, prepare...)
			actions = append(actions, chromedp.Evaluate[chromedp.Void](`document.querySelector('#toasts').replaceChildren()`), chromedp.Sleep(300*time.Millisecond))
			err := chromedp.Do(sctx, actions...)
			var png []byte
			if err == nil {
				png, err = chromedp.Run(sctx, chromedp.CaptureScreenshot())
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(out, fmt.Sprintf("%s-%s-%s.png", name, size.name, colors)), png, 0o644)
			}
			cancel()
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
		}
	}
	if err := chromedp.Do(ctx, send(emulation.ClearDeviceMetricsOverride, cdp.Empty{}), scheme("light")); err != nil {
		t.Fatal(err)
	}
}

func boardShot(t *testing.T, ctx context.Context) {
	shot(t, ctx, "board", waitJS(`[...document.querySelectorAll('#gallery-grid .tile img')].every(i => i.complete && i.naturalWidth > 0)`))
}

func searchShot(t *testing.T, ctx context.Context) {
	shot(t, ctx, "search", waitJS(`[...document.querySelectorAll('#gallery-grid .tile img')].every(i => i.complete && i.naturalWidth > 0)`))
}
