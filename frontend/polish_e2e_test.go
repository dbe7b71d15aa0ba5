package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"nanobanana/db"
	"nanobanana/internal/proctest"
	"nanobanana/replicate/replicatetest"
)

// The polish of issue 17, as a person sees it: messages worded by the error's code in
// the page's language, forms that mark and focus the refused field, a password hint that
// refuses the most common passwords (in the form only), titles, the theme, scroll kept
// per view, the phone Create page, the web app manifest, and a first visit that opens on
// "Create account" and asks nothing that fails.

// failures collects what a tab reports as wrong: answers of 400 or more, requests that
// failed, and console errors of any source (a 401 logs one).
type failures struct {
	mu   sync.Mutex
	list []string
}

func (f *failures) add(s string) { f.mu.Lock(); f.list = append(f.list, s); f.mu.Unlock() }

func (f *failures) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.list...)
}

func watchFailures(t *testing.T, ctx context.Context) *failures {
	t.Helper()
	f := &failures{}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				f.add(fmt.Sprintf("%d %s", e.Response.Status, e.Response.URL))
			}
		case *network.EventLoadingFailed:
			// A reload ends the open event stream and image loads: aborted, not failed.
			if !e.Canceled && e.ErrorText != "net::ERR_ABORTED" {
				f.add("request failed: " + e.ErrorText)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	msgs := chromedp.Console(cctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				f.add(fmt.Sprintf("console %s: %s", m.Type, m.Text))
			}
		}
	}()
	return f
}

// evalInto runs an expression (awaiting a promise) and decodes its JSON value into dst.
func evalInto(expr string, dst any) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise)(ctx, tg)
		if err != nil {
			return err
		}
		return json.Unmarshal(v, dst)
	})
}

// fieldState reads a form field as a person would check it: marked invalid, focused,
// its red border, and the sentence tied to it.
type fieldState struct {
	Invalid bool   `json:"invalid"`
	Focused bool   `json:"focused"`
	Border  string `json:"border"`
	Normal  string `json:"normal"` // the border of a field of the same kind that is fine
	Said    string `json:"said"`   // the texts its aria-describedby points at
}

func readField(sel, normalSel string, dst *fieldState) chromedp.Action[chromedp.Void] {
	return evalInto(fmt.Sprintf(`(() => {
		const el = document.querySelector(%q), ok = document.querySelector(%q);
		const said = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean)
			.map((id) => document.getElementById(id)?.textContent || '').join(' | ');
		return { invalid: el.getAttribute('aria-invalid') === 'true', focused: document.activeElement === el,
			border: getComputedStyle(el).borderTopColor, normal: getComputedStyle(ok).borderTopColor, said };
	})()`, sel, normalSel), dst)
}

func (f fieldState) check(t *testing.T, what, want string) {
	t.Helper()
	if !f.Invalid || !f.Focused || f.Border == f.Normal || !strings.Contains(f.Said, want) {
		t.Errorf("%s: invalid %v, focused %v, border %s (a fine field: %s), described as %q; want marked, focused, red and %q",
			what, f.Invalid, f.Focused, f.Border, f.Normal, f.Said, want)
	}
}

// jsText is the text a messages.js entry gives in lang, read in the page.
func jsText(table, key, lang string, dst *string) chromedp.Action[chromedp.Void] {
	return evalInto(fmt.Sprintf(`import('/app/messages.js').then((m) => { const v = m[%q][%q][%q]; return typeof v === 'function' ? v('') : v; })`, table, key, lang), dst)
}

func i18nText(key, lang string, dst *string) chromedp.Action[chromedp.Void] {
	// The dictionaries are not exported; the page's own language is switched for the read
	// and back, as the select does.
	return evalInto(fmt.Sprintf(`import('/app/i18n.js').then((m) => { const was = m.current(); m.setLanguage(%q); const v = m.t(%q); m.setLanguage(was); return v; })`, lang, key), dst)
}

// polishShot writes docs/screenshots/<name>.png with UPDATE_SCREENSHOTS=1 (toasts removed).
func polishShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("UPDATE_SCREENSHOTS") != "1" {
		return
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#toasts').replaceChildren()`)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func setLanguage(lang string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector('#lang'); s.value = %q; s.dispatchEvent(new Event('change')); })()`, lang))
}

func TestBrowserFirstVisit(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	ctx := startBrowser(t)
	bad := watchFailures(t, ctx)
	step := stepper(t, ctx)
	var registers int
	var mu sync.Mutex
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && strings.HasSuffix(e.Request.URL, "/api/v1/auth/register") {
			mu.Lock()
			registers++
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}

	step("a first visit opens on Create account, titled, with no session cookie to resume",
		send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1280, Height: 800, DeviceScaleFactor: 1}),
		chromedp.Navigate(srv.base+"/"),
		waitVisible("#form-signup"),
		waitJS(`document.querySelector('#tab-signup').getAttribute('aria-selected') === 'true' && document.querySelector('#form-signin').hidden`),
		waitJS(`document.title === 'Welcome — Nano Banana'`),
		waitJS(`!document.cookie.includes('nb_session')`),
	)
	if b := bad.all(); len(b) > 0 {
		t.Fatalf("a first visit logged or asked something that failed: %v", b)
	}

	var man struct {
		Type  string `json:"type"`
		Name  string `json:"name"`
		Start string `json:"start"`
		Theme string `json:"theme"`
		Icons []struct {
			Src   string `json:"src"`
			Sizes string `json:"sizes"`
			W     int    `json:"w"`
		} `json:"icons"`
	}
	step("the web app manifest is served as such, and its icons load",
		evalInto(`(async () => {
			const href = document.querySelector('link[rel=manifest]').href;
			const r = await fetch(href);
			const m = await r.json();
			const icons = [];
			for (const i of m.icons) {
				const img = new Image();
				img.src = new URL(i.src, href).href;
				await img.decode();
				icons.push({ src: i.src, sizes: i.sizes, w: img.naturalWidth });
			}
			return { type: r.headers.get('Content-Type'), name: m.name, start: m.start_url, theme: m.theme_color, icons };
		})()`, &man),
	)
	if man.Type != "application/manifest+json" || man.Name != "Nano Banana" || man.Start != "/" || man.Theme == "" || len(man.Icons) < 3 {
		t.Errorf("manifest: %+v", man)
	}
	for _, ic := range man.Icons {
		if want := strings.Split(ic.Sizes, "x")[0]; ic.Sizes != "any" && fmt.Sprint(ic.W) != want || ic.W == 0 {
			t.Errorf("icon %s (%s) loads %d pixels wide", ic.Src, ic.Sizes, ic.W)
		}
	}

	codes := make([]string, 0, len(db.Codes()))
	for _, c := range db.Codes() {
		codes = append(codes, string(c))
	}
	list, _ := json.Marshal(codes)
	var missing []string
	step("every code of the catalogue has its English and Russian sentence in the page",
		evalInto(fmt.Sprintf(`import('/app/messages.js').then((m) => %s.filter((c) => {
			const e = m.byCode[c], txt = (v) => typeof v === 'function' ? v('') : v;
			return !e || !(txt(e.en) || '').length || !/[а-яё]/i.test(txt(e.ru) || '');
		}))`, list), &missing),
	)
	if len(missing) > 0 {
		t.Errorf("codes without both sentences in the page: %v", missing)
	}

	user := fmt.Sprintf("first%d", time.Now().UnixNano()%1e6)
	var commonText, oneCharText, runText string
	step("read the hint's sentences",
		i18nText("pwCommon", "en", &commonText), i18nText("pwOneChar", "en", &oneCharText), i18nText("pwSequence", "en", &runText))
	for _, c := range []struct{ pw, want string }{{"password", commonText}, {"12345678", runText}, {"aaaaaaaa", oneCharText}} {
		var f fieldState
		step("the form refuses the common password "+c.pw,
			clearField(`#form-signup [name=username]`), clearField(`#form-signup [name=email]`), clearField(`#form-signup [name=password]`),
			chromedp.SendKeys(chromedp.CSS(`#form-signup [name=username]`), user),
			chromedp.SendKeys(chromedp.CSS(`#form-signup [name=email]`), user+"@example.com"),
			chromedp.SendKeys(chromedp.CSS(`#form-signup [name=password]`), c.pw),
			waitText("#signup-pw-hint", c.want),
			chromedp.Click(chromedp.CSS(`#form-signup button[type=submit]`)),
			waitJS(`document.activeElement === document.querySelector('#form-signup [name=password]')`),
			readField(`#form-signup [name=password]`, `#form-signup [name=email]`, &f),
		)
		f.check(t, "sign-up with "+c.pw, c.want)
	}
	mu.Lock()
	if registers != 0 {
		t.Errorf("the form sent %d sign-ups with a common password; want none", registers)
	}
	mu.Unlock()
	// The API itself takes any password of 8 to 72 bytes: the seed's example still works.
	seed := &apiClient{t: t, base: srv.base + "/api/v1"}
	seed.call("POST", "/auth/register", map[string]any{"username": user + "s", "email": user + "s@example.com", "password": "password123"})
	if tok := apiLogin(t, srv.base, user+"s", "password123"); tok == "" {
		t.Fatal("password123 does not sign in through the API")
	}

	var f fieldState
	step("an empty username and a bad email are marked together; the first one takes the focus",
		clearField(`#form-signup [name=username]`), clearField(`#form-signup [name=email]`),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=email]`), "not-an-address"),
		chromedp.Click(chromedp.CSS(`#form-signup button[type=submit]`)),
		waitJS(`document.querySelector('#form-signup [name=email]').getAttribute('aria-invalid') === 'true'`),
		readField(`#form-signup [name=username]`, `#form-signin [name=username]`, &f),
		waitText(`#form-signup [data-error]`, "Some fields need fixing"),
		waitJS(`document.querySelector('#form-signup [data-error]').getAttribute('role') === 'alert'`),
	)
	f.check(t, "an empty username", "Fill in this field")
	polishShot(t, ctx, "signup-errors-desktop-light")

	step("a taken username is marked at its field, worded by its code",
		clearField(`#form-signup [name=username]`), clearField(`#form-signup [name=email]`), clearField(`#form-signup [name=password]`),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=username]`), user+"s"),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=email]`), user+"other@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=password]`), "a lighthouse of bananas"),
		chromedp.Click(chromedp.CSS(`#form-signup button[type=submit]`)),
		waitJS(`document.querySelector('#form-signup [name=username]').getAttribute('aria-invalid') === 'true'`),
		readField(`#form-signup [name=username]`, `#form-signup [name=email]`, &f),
	)
	f.check(t, "a taken username", "This username is taken. Choose another one.")

	step("sign up with a good password: the tab is titled by its view",
		clearField(`#form-signup [name=username]`), clearField(`#form-signup [name=email]`), clearField(`#form-signup [name=password]`),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=email]`), user+"@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=password]`), "a lighthouse of bananas"),
		waitText("#signup-pw-hint", "good"),
		chromedp.Click(chromedp.CSS(`#form-signup button[type=submit]`)),
		waitVisible("#view-create"),
		waitJS(`document.title === 'Create — Nano Banana'`),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitJS(`document.title === 'Gallery — Nano Banana'`),
		setLanguage("ru"),
		waitJS(`document.title === 'Галерея — Nano Banana'`),
		setLanguage("en"),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)),
		waitJS(`document.title === 'Settings — Nano Banana'`),
	)

	bg := `getComputedStyle(document.body).backgroundColor`
	step("the theme button steps through system, light and dark; a choice beats the system's and survives a reload",
		scheme("dark"),
		waitJS(`document.querySelector('#theme').getAttribute('aria-label') === 'Theme: as the system' && `+bg+` === 'rgb(19, 19, 18)'`),
		chromedp.Click(chromedp.CSS("#theme")),
		waitJS(`document.documentElement.dataset.theme === 'light' && document.querySelector('#theme').getAttribute('aria-label') === 'Theme: light' && `+bg+` === 'rgb(246, 245, 241)'`),
		scheme("light"),
		chromedp.Click(chromedp.CSS("#theme")),
		waitJS(`document.documentElement.dataset.theme === 'dark' && `+bg+` === 'rgb(19, 19, 18)'`),
		chromedp.Reload(),
		waitVisible("#view-settings"),
		waitJS(`document.querySelector('#theme').getAttribute('aria-label') === 'Theme: dark' && `+bg+` === 'rgb(19, 19, 18)'`),
		chromedp.Click(chromedp.CSS("#theme")),
		waitJS(`!document.documentElement.dataset.theme && `+bg+` === 'rgb(246, 245, 241)'`),
		chromedp.Reload(),
		waitVisible("#view-settings"),
		waitJS(`document.querySelector('#theme').getAttribute('aria-label') === 'Theme: as the system' && `+bg+` === 'rgb(246, 245, 241)'`),
	)

	prompt := "A banana kept from deletion"
	step("the delete confirmation has the focus on Cancel: Enter keeps the image",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)),
		chromedp.SendKeys(chromedp.CSS("#prompt"), prompt),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile.st-completed img')].some(i => i.alt === %q && i.complete)`, prompt)),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile.st-completed .tile-btn`)),
		waitJS(`document.querySelector('#viewer').open`),
		chromedp.Click(chromedp.CSS("#viewer-delete")),
		waitJS(`document.querySelector('#confirm').open`),
		waitJS(`document.activeElement === document.querySelector('#confirm button[value=cancel]')`),
		chromedp.KeyEvent(kb.Enter),
		waitJS(`!document.querySelector('#confirm').open && document.querySelector('#viewer').open`),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#gallery-grid .tile img')].some(i => i.alt === %q)`, prompt)),
		chromedp.KeyEvent(kb.Escape),
		waitJS(`!document.querySelector('#viewer').open`),
	)

	step("after signing out the card opens on Sign in, also after a reload",
		chromedp.Click(chromedp.CSS("#signout")),
		waitVisible("#form-signin"),
		waitJS(`document.querySelector('#tab-signin').getAttribute('aria-selected') === 'true'`),
		waitJS(`!document.cookie.includes('nb_session')`),
		chromedp.Reload(),
		waitVisible("#form-signin"),
	)
	// The one refusal asked for: the sign-up with a taken username (its answer and its
	// console line).
	for _, b := range bad.all() {
		if !strings.Contains(b, "409") {
			t.Errorf("the visit logged or asked something that failed: %s", b)
		}
	}
}

// TestBrowserPolishPhone: in Russian on a phone, the Create page's fields line up and
// nothing is cut off, the new job comes into view with no toast over Generate, a safety
// failure says to edit the prompt, sign-out asks first, each view keeps its scroll, and
// the settings forms mark their refused fields with Russian sentences.
func TestBrowserPolishPhone(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	user, password := fmt.Sprintf("ph%d", time.Now().UnixNano()%1e6), "phone password 1"
	api := &apiClient{t: t, base: srv.base + "/api/v1"}
	api.token = api.call("POST", "/auth/register", map[string]any{"username": user, "email": user + "@example.com", "password": password})["access_token"].(string)
	for i := range 16 {
		api.call("POST", "/images/generate", map[string]any{"prompt": fmt.Sprintf("a banana to scroll past, number %d", i)})
	}
	api.waitSettled(16)

	ctx := startBrowser(t)
	step := stepper(t, ctx)
	step("sign in on a phone, in Russian",
		send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}),
		chromedp.Navigate(srv.base+"/"),
		waitVisible("#view-auth"),
		setLanguage("ru"),
		chromedp.Steps(signIn(user, password)...),
		waitVisible("#view-create"),
		waitText(`#nav a[data-nav=create]`, "Создать"),
	)
	step("money and numbers are written the Russian way",
		waitJS(`/^0,15\s\$ за изображение \(2K\)$/.test(document.querySelector('#price').textContent)`),
		waitJS(`/^0 \/ 5\s000 символов$/.test(document.querySelector('#prompt-count').textContent)`),
		waitJS(`[...document.querySelectorAll('#resolution option')].some((o) => /^4K · 0,3\s\$$/.test(o.textContent) || /^4K · 0,30\s\$$/.test(o.textContent))`),
	)

	var layout struct {
		Rows     [][2]float64 `json:"rows"`
		Overflow []string     `json:"overflow"`
	}
	step("the Russian labels leave the selects in line, and every choice fits its select",
		evalInto(`(() => {
			const sel = [...document.querySelectorAll('.grid-fields select')];
			const top = (e) => e.getBoundingClientRect().top;
			const rows = [[top(sel[0]), top(sel[1])], [top(sel[2]), top(sel[3])]];
			const form = document.querySelector('#gen-form').getBoundingClientRect();
			const ctx = document.createElement('canvas').getContext('2d');
			const overflow = [];
			for (const s of sel) {
				const cs = getComputedStyle(s);
				ctx.font = cs.font;
				const room = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 16;
				for (const o of s.options) if (ctx.measureText(o.textContent).width > room) overflow.push(s.id + ': ' + o.textContent);
				const r = s.getBoundingClientRect();
				if (r.right > form.right || r.left < form.left) overflow.push(s.id + ' leaves the form');
			}
			for (const l of document.querySelectorAll('.grid-fields label, .modes label')) {
				if (l.scrollWidth > l.clientWidth + 1) overflow.push('label ' + l.textContent);
			}
			return { rows, overflow };
		})()`, &layout),
	)
	for _, r := range layout.Rows {
		if d := r[0] - r[1]; d > 1 || d < -1 {
			t.Errorf("selects of one row sit at %.0f and %.0f px", r[0], r[1])
		}
	}
	if len(layout.Overflow) > 0 {
		t.Errorf("cut off on a phone in Russian: %v", layout.Overflow)
	}
	polishShot(t, ctx, "create-ru-phone-light")

	slow := "[[slow]] a banana in view on a phone"
	var covered bool
	step("after Generate the new job is in view, and no toast covers the button",
		chromedp.SendKeys(chromedp.CSS("#prompt"), slow),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitText("#toasts", "Добавлено в очередь."),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			covered, err = chromedp.Evaluate[bool](`(() => {
				const b = document.querySelector('#gen-submit').getBoundingClientRect();
				return [...document.querySelectorAll('#toasts .toast')].some((el) => {
					const r = el.getBoundingClientRect();
					return r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top;
				});
			})()`)(ctx, tg)
			return err
		}),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#view-create [data-id]')].some((el) => el.textContent.includes(%q) && /\d\s?с/.test(el.textContent))`, slow)),
		waitJS(fmt.Sprintf(`(() => {
			const row = [...document.querySelectorAll('#view-create [data-id]')].find((el) => el.textContent.includes(%q));
			if (!row) return false;
			const r = row.getBoundingClientRect();
			return r.top >= 0 && r.bottom <= window.innerHeight;
		})()`, slow)),
	)
	if covered {
		t.Error("a toast covers Generate on a phone")
	}

	var safety string
	step("a safety failure (error_code safety_filter, Replicate's E005) reads in Russian and says to edit the prompt",
		clearField("#prompt"),
		chromedp.SendKeys(chromedp.CSS("#prompt"), "[[E005]] банан, который не понравится фильтру"),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(`!!document.querySelector('#queue-list .qitem.st-failed .qerror')`),
		readText(`#queue-list .qitem.st-failed .qerror`, &safety),
	)
	if !strings.Contains(safety, "Фильтр безопасности") || !strings.Contains(safety, "Измените запрос") || strings.Contains(safety, "E005") || strings.Contains(safety, "flagged") {
		t.Errorf("the safety failure reads %q; want the Russian sentence that says to edit the prompt", safety)
	}

	step("sign-out on a phone asks first; Cancel keeps the session",
		chromedp.Click(chromedp.CSS("#signout")),
		waitJS(`document.querySelector('#confirm').open`),
		waitText("#confirm-text", "Выйти на этом устройстве?"),
		waitJS(`document.activeElement === document.querySelector('#confirm button[value=cancel]')`),
		chromedp.Click(chromedp.CSS(`#confirm button[value=cancel]`)),
		waitJS(`!document.querySelector('#confirm').open`),
		waitVisible("#view-create"),
		waitText("#whoami", user),
	)

	step("each view keeps its own scroll: Settings opens at the top after the gallery was scrolled",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitJS(`document.querySelectorAll('#gallery-grid .tile').length >= 16`),
		waitJS(`(window.scrollTo(0, 700), window.scrollY >= 650)`),
		chromedp.Evaluate[chromedp.Void](`window.__galleryY = window.scrollY`),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)),
		waitVisible("#view-settings"),
		waitJS(`window.scrollY === 0`),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=gallery]`)),
		waitVisible("#view-gallery"),
		waitJS(`Math.abs(window.scrollY - window.__galleryY) < 2`),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
	)
	step("a completed generation shows its price written the Russian way, a failed one none",
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile.st-completed .tile-btn`)),
		waitJS(`document.querySelector('#viewer').open`),
		waitJS(`/Цена\s*0,15\s\$/.test(document.querySelector('#viewer-meta').textContent)`),
		chromedp.KeyEvent(kb.Escape),
		waitJS(`!document.querySelector('#viewer').open`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#gallery-grid .tile.st-failed .tile-btn').scrollIntoView({ block: 'center' })`),
		chromedp.Click(chromedp.CSS(`#gallery-grid .tile.st-failed .tile-btn`)),
		waitJS(`document.querySelector('#viewer').open && document.querySelector('#viewer-meta').textContent.includes('Ошибка')`),
		// No price on a failed generation; what it booked (Replicate took it, so it was
		// charged) is the spending line's, not a price.
		waitJS(`!document.querySelector('#viewer-meta').textContent.includes('Цена')`),
		chromedp.KeyEvent(kb.Escape),
		waitJS(`!document.querySelector('#viewer').open`),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)),
		waitVisible("#view-settings"),
	)

	var keyEmpty, tooShort, oneChar, wrongCurrent string
	var f fieldState
	step("saving an empty key says what to do, at the field",
		i18nText("keyEmpty", "ru", &keyEmpty),
		chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`)),
		waitJS(`document.activeElement === document.querySelector('#key-form [name=api_key]')`),
		readField(`#key-form [name=api_key]`, `#pw-form [name=current_password]`, &f),
	)
	f.check(t, "an empty key", keyEmpty)
	if !strings.Contains(keyEmpty, "r8_") || !strings.Contains(keyEmpty, "сохраните") {
		t.Errorf("the empty-key sentence %q does not say what to paste and what to do", keyEmpty)
	}

	step("a new password of 7 bytes is refused at its field",
		i18nText("pwTooShort", "ru", &tooShort),
		chromedp.SendKeys(chromedp.CSS(`#pw-form [name=current_password]`), password),
		chromedp.SendKeys(chromedp.CSS(`#pw-form [name=new_password]`), "1234567"),
		chromedp.Click(chromedp.CSS(`#pw-form button[type=submit]`)),
		waitJS(`document.activeElement === document.querySelector('#pw-form [name=new_password]')`),
		readField(`#pw-form [name=new_password]`, `#pw-form [name=current_password]`, &f),
	)
	f.check(t, "a 7-byte new password", tooShort)
	step("one character repeated is refused too",
		i18nText("pwOneChar", "ru", &oneChar),
		clearField(`#pw-form [name=new_password]`),
		chromedp.SendKeys(chromedp.CSS(`#pw-form [name=new_password]`), "aaaaaaaa"),
		chromedp.Click(chromedp.CSS(`#pw-form button[type=submit]`)),
		waitJS(`document.activeElement === document.querySelector('#pw-form [name=new_password]')`),
		readField(`#pw-form [name=new_password]`, `#pw-form [name=current_password]`, &f),
	)
	f.check(t, "aaaaaaaa", oneChar)
	step("the server's refusal of the current password is worded by its field, in Russian",
		jsText("byField", "current_password", "ru", &wrongCurrent),
		clearField(`#pw-form [name=current_password]`), clearField(`#pw-form [name=new_password]`),
		chromedp.SendKeys(chromedp.CSS(`#pw-form [name=current_password]`), "not the password"),
		chromedp.SendKeys(chromedp.CSS(`#pw-form [name=new_password]`), "a new phone password"),
		chromedp.Click(chromedp.CSS(`#pw-form button[type=submit]`)),
		waitJS(`document.querySelector('#pw-form [name=current_password]').getAttribute('aria-invalid') === 'true'`),
		readField(`#pw-form [name=current_password]`, `#pw-form [name=new_password]`, &f),
	)
	f.check(t, "a wrong current password", wrongCurrent)
}

// startPlainServer runs the binary without --demo against env (no shared key unless env
// sets one), for what demo mode cannot show.
func startPlainServer(t *testing.T, env ...string) string {
	t.Helper()
	bin := os.Getenv("NANOBANANA_E2E_BIN")
	if bin == "" {
		bin = proctest.Build(t, ".")
	}
	addr := proctest.FreeAddr(t)
	cmd := exec.Command(bin, "serve", "--data-dir", t.TempDir(), "--listen", addr)
	cmd.Env = append(os.Environ(), append([]string{"REPLICATE_API_TOKEN="}, env...)...)
	p := proctest.Start(t, cmd)
	base := "http://" + addr
	if err := p.WaitHTTP(nil, base+"/api/v1/meta", 20*time.Second); err != nil {
		t.Fatalf("the server did not answer on %s: %v\n%s", addr, err, p.Logs.String())
	}
	t.Cleanup(func() {
		if !p.Exited() && errors.Is(p.Stop(10*time.Second), proctest.ErrStillRunning) {
			_ = p.Kill()
		}
		if t.Failed() {
			t.Logf("server log:\n%s", p.Logs.String())
		}
	})
	return base
}

// TestBrowserNoKey: on a server with no shared Replicate key, a user without a key of
// their own finds Generate off, with the reason and a link to Settings; with a key it is
// on; and when the key goes away meanwhile (removed on another device), Generate's answer
// (code no_api_key) reads in Russian with no route or variable in it, and links to Settings.
func TestBrowserNoKey(t *testing.T) {
	skipWithoutBrowser(t)
	fake, err := replicatetest.Start(replicatetest.Options{Config: replicatetest.Config{RejectedTokens: []string{"r8_rejected0000"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	base := startPlainServer(t, "REPLICATE_API_BASE="+fake.URL())
	user, password := fmt.Sprintf("nk%d", time.Now().UnixNano()%1e6), "no key password 1"
	api := &apiClient{t: t, base: base + "/api/v1"}
	api.token = api.call("POST", "/auth/register", map[string]any{"username": user, "email": user + "@example.com", "password": password})["access_token"].(string)

	ctx := startBrowser(t)
	step := stepper(t, ctx)
	var noKey string
	step("with no key anywhere, Generate is off and says why",
		chromedp.Navigate(base+"/"),
		waitVisible("#view-auth"),
		setLanguage("ru"),
		chromedp.Steps(signIn(user, password)...),
		waitVisible("#view-create"),
		waitVisible("#nokey-notice"),
		waitJS(`document.querySelector('#gen-submit').disabled && document.querySelector('#gen-submit').getAttribute('aria-describedby') === 'nokey-notice'`),
		waitJS(`document.querySelector('#nokey-notice a[data-nav=settings]') !== null`),
		jsText("byCode", "no_api_key", "ru", &noKey),
	)
	var rejected string
	var f fieldState
	step("the notice's link opens Settings; a key Replicate refuses is marked with the page's Russian sentence",
		chromedp.Click(chromedp.CSS(`#nokey-notice a[data-nav=settings]`)),
		waitVisible("#view-settings"),
		jsText("byField", "api_key", "ru", &rejected),
		chromedp.SendKeys(chromedp.CSS(`#key-form [name=api_key]`), "r8_rejected0000"),
		chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`)),
		waitJS(`document.querySelector('#key-form [name=api_key]').getAttribute('aria-invalid') === 'true'`),
		readField(`#key-form [name=api_key]`, `#pw-form [name=current_password]`, &f),
	)
	f.check(t, "a key Replicate refuses", rejected)
	step("a saved key turns Generate on",
		clearField(`#key-form [name=api_key]`),
		chromedp.SendKeys(chromedp.CSS(`#key-form [name=api_key]`), "r8_nokeytest5678"),
		chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`)),
		waitText("#key-state", "…5678"),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)),
		waitJS(`!document.querySelector('#gen-submit').disabled && document.querySelector('#nokey-notice').hidden`),
	)
	api.call("DELETE", "/users/api-key", nil) // another device removes it
	var summary string
	step("Generate then answers no_api_key: the sentence is the page's, in Russian, with a link to Settings",
		chromedp.SendKeys(chromedp.CSS("#prompt"), "a banana with no key"),
		chromedp.Click(chromedp.CSS("#gen-submit")),
		waitJS(`!document.querySelector('#gen-error').hidden`),
		readText("#gen-error", &summary),
		waitJS(`document.querySelector('#gen-error a[data-nav=settings]') !== null`),
		waitJS(`document.querySelector('#gen-submit').disabled && !document.querySelector('#nokey-notice').hidden`),
		chromedp.Click(chromedp.CSS(`#gen-error a[data-nav=settings]`)),
		waitVisible("#view-settings"),
	)
	if !strings.HasPrefix(summary, noKey) || strings.Contains(summary, "/api/") || strings.Contains(summary, "REPLICATE_API_TOKEN") {
		t.Errorf("the no-key message reads %q; want %q with no route or variable", summary, noKey)
	}
}

// TestBrowserFirstVisitClosed: where registration is closed a first visit opens on Sign
// in (the sign-up card says it is closed), still asking nothing that fails.
func TestBrowserFirstVisitClosed(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t, "ALLOW_REGISTRATION=false")
	ctx := startBrowser(t)
	bad := watchFailures(t, ctx)
	step := stepper(t, ctx)
	step("a first visit opens on Sign in",
		chromedp.Navigate(srv.base+"/"),
		waitVisible("#form-signin"),
		waitJS(`document.querySelector('#tab-signin').getAttribute('aria-selected') === 'true' && document.querySelector('#form-signup').hidden`),
		chromedp.Click(chromedp.CSS("#tab-signup")),
		waitVisible("#signup-closed"),
	)
	if b := bad.all(); len(b) > 0 {
		t.Errorf("a first visit logged or asked something that failed: %v", b)
	}
}
