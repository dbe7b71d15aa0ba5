package frontend

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestBrowserShare: a person selects images in the gallery and downloads them as one zip
// (the file the browser saves is opened here: its entries and the recipe inside each),
// then shares one image; the link opens in a fresh browser context with no account and
// shows the image and its prompt only; once revoked it shows that the link is gone.
func TestBrowserShare(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	user, password := fmt.Sprintf("share%d", time.Now().UnixNano()%1e6), "share password 1"
	api := &apiClient{t: t, base: srv.base + "/api/v1"}
	api.token = api.call("POST", "/auth/register", map[string]any{"username": user, "email": user + "@example.com", "password": password})["access_token"].(string)
	prompts := []string{"A banana lighthouse at dusk, watercolor", "Одинокий банан на луне", "A third image nobody selects"}
	formats := []string{"png", "jpg", "png"}
	ids := make([]string, len(prompts))
	for i, p := range prompts {
		ids[i] = api.call("POST", "/images/generate", map[string]any{"prompt": p, "output_format": formats[i], "resolution": "1K"})["id"].(string)
	}
	api.waitSettled(len(prompts))

	ctx := startBrowser(t)
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	step := stepper(t, ctx)
	tile := func(id string) string { return fmt.Sprintf(`#gallery-grid li[data-id=%q] .tile-btn`, id) }
	step("sign in and see the gallery",
		chromedp.Navigate(srv.base+"/gallery"),
		chromedp.Steps(signIn(user, password)...),
		waitVisible("#view-gallery"),
		waitJS(`document.querySelectorAll('#gallery-grid .tile.st-completed').length === 3`),
	)
	step("select two images and download them as a zip",
		chromedp.Click(chromedp.CSS("#select-toggle")),
		waitVisible("#select-bar"),
		chromedp.Click(chromedp.CSS(tile(ids[0]))),
		chromedp.Click(chromedp.CSS(tile(ids[1]))),
		waitText("#select-count", "2 images selected"),
		waitJS(`!document.querySelector('#viewer').open`),
		waitJS(fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-pressed') === 'true'`, tile(ids[0]))),
		chromedp.Click(chromedp.CSS("#select-zip")),
		waitText("#toasts", "Downloading a zip of 2 images"),
	)
	entries := waitZip(t, downloads, "*.zip")
	if len(entries) != 2 {
		t.Fatalf("the zip holds %d entries, want 2: %v", len(entries), entries)
	}
	for i, id := range ids[:2] {
		var name string
		for n := range entries {
			if strings.Contains(n, id[20:]) {
				name = n
			}
		}
		data := entries[name]
		var recipe string
		if formats[i] == "png" {
			recipe = pngITXt(data, "nanobanana")
		} else {
			recipe = jpegCOM(data)
		}
		if !strings.HasSuffix(name, "."+formats[i]) || !strings.Contains(recipe, prompts[i]) {
			t.Errorf("entry for %s: %q, recipe %q", id, name, recipe)
		}
	}

	var link string
	step("share one image from the viewer",
		chromedp.Click(chromedp.CSS("#select-toggle")),
		waitJS(`document.querySelector('#select-bar').hidden`),
		chromedp.Click(chromedp.CSS(tile(ids[0]))),
		waitJS(`document.querySelector('#viewer').open`),
		waitText("#viewer-prompt", prompts[0]),
		chromedp.Click(chromedp.CSS("#viewer-share")),
		waitJS(`document.querySelector('#share-dlg').open`),
		chromedp.SetValue(chromedp.CSS("#share-expiry"), "24"),
		chromedp.Click(chromedp.CSS("#share-create")),
		waitJS(`document.querySelector('#share-url').value.includes('/s/')`),
		waitJS(`document.querySelectorAll('#share-image-links li').length === 1`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			link, err = chromedp.Evaluate[string](`document.querySelector('#share-url').value`)(ctx, tg)
			return err
		}),
	)
	if !strings.HasPrefix(link, srv.base+"/s/") {
		t.Fatalf("share link %q", link)
	}

	anon := secondSession(t, ctx)
	astep := stepper(t, anon)
	astep("the link opens with no account: the image and its prompt",
		chromedp.Navigate(link),
		waitJS(`document.querySelector('#shared-img').complete && document.querySelector('#shared-img').naturalWidth > 0`),
		waitText("#shared-prompt", prompts[0]),
		waitJS(`!document.querySelector('#shared-expiry').hidden`),
	)
	var body string
	if err := chromedp.Do(anon, readText("body", &body)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, user) || strings.Contains(body, prompts[1]) || strings.Contains(body, ids[0]) {
		t.Errorf("the public page shows more than the image and its prompt:\n%s", body)
	}
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		for _, size := range []struct {
			name          string
			width, height int64
			mobile        bool
		}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}} {
			var png []byte
			err := chromedp.Do(anon, send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: size.width, Height: size.height, DeviceScaleFactor: 1, Mobile: size.mobile}),
				scheme("light"), chromedp.Sleep(300*time.Millisecond))
			if err == nil {
				png, err = chromedp.Run(anon, chromedp.CaptureScreenshot())
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", "share-"+size.name+"-light.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	step("the owner revokes the link in Settings",
		chromedp.Click(chromedp.CSS(`#share-dlg button[value=close]`)),
		waitJS(`!document.querySelector('#share-dlg').open`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#viewer').close()`),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)),
		waitVisible("#view-settings"),
		waitJS(`document.querySelectorAll('#shares-list li').length === 1`),
		chromedp.Click(chromedp.CSS(`#shares-list li button.danger`)),
		waitJS(`document.querySelector('#confirm').open`),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		waitText("#toasts", "Link revoked"),
		waitJS(`document.querySelectorAll('#shares-list li').length === 0`),
	)
	astep("the revoked link says it is gone",
		chromedp.Reload(),
		waitVisible("#shared-gone"),
		waitJS(`document.querySelector('#shared-figure').hidden`),
	)
}

// waitZip waits for the browser to finish saving a zip matching glob into dir and reads
// its entries.
func waitZip(t *testing.T, dir, glob string) map[string][]byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, glob))
		if len(files) == 1 {
			data, err := os.ReadFile(files[0])
			if err == nil {
				if zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err == nil {
					out := map[string][]byte{}
					for _, f := range zr.File {
						rc, err := f.Open()
						if err != nil {
							t.Fatal(err)
						}
						b, err := io.ReadAll(rc)
						rc.Close()
						if err != nil {
							t.Fatalf("%s: %v", f.Name, err)
						}
						out[f.Name] = b
					}
					return out
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	all, _ := os.ReadDir(dir)
	t.Fatalf("no zip was saved in %s: %v", dir, all)
	return nil
}

// pngITXt reads a PNG's uncompressed iTXt chunk of keyword.
func pngITXt(b []byte, keyword string) string {
	if len(b) < 8 {
		return ""
	}
	for b = b[8:]; len(b) >= 12; {
		n := int(binary.BigEndian.Uint32(b))
		if len(b) < 12+n {
			return ""
		}
		if string(b[4:8]) == "iTXt" {
			kw, rest, _ := bytes.Cut(b[8:8+n], []byte{0})
			if string(kw) == keyword && len(rest) >= 2 {
				_, rest, _ = bytes.Cut(rest[2:], []byte{0})
				_, text, _ := bytes.Cut(rest, []byte{0})
				return string(text)
			}
		}
		b = b[12+n:]
	}
	return ""
}

// jpegCOM reads a JPEG's first comment segment.
func jpegCOM(b []byte) string {
	for i := 2; i+4 <= len(b) && b[i] == 0xFF; {
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if b[i+1] == 0xFE && i+2+n <= len(b) {
			return string(b[i+4 : i+2+n])
		}
		if b[i+1] == 0xDA {
			break
		}
		i += 2 + n
	}
	return ""
}

// TestBrowserShareBoard: a board is downloaded whole as a zip from its bar, and shared;
// its link shows the board's name and its images, not the others.
func TestBrowserShareBoard(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	user, password := fmt.Sprintf("sboard%d", time.Now().UnixNano()%1e6), "share password 2"
	api := &apiClient{t: t, base: srv.base + "/api/v1"}
	api.token = api.call("POST", "/auth/register", map[string]any{"username": user, "email": user + "@example.com", "password": password})["access_token"].(string)
	prompts := []string{"Board picture one", "Board picture two", "Left off the board"}
	ids := make([]string, len(prompts))
	for i, p := range prompts {
		ids[i] = api.call("POST", "/images/generate", map[string]any{"prompt": p, "output_format": "png", "resolution": "1K"})["id"].(string)
	}
	api.waitSettled(len(prompts))
	board := api.call("POST", "/boards", map[string]any{"name": "Holiday"})["id"].(string)
	for _, id := range ids[:2] {
		api.call("PUT", "/boards/"+board+"/images/"+id, nil)
	}

	ctx := startBrowser(t)
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	step := stepper(t, ctx)
	var link string
	step("open the board, download it, share it",
		chromedp.Navigate(srv.base+"/gallery"),
		chromedp.Steps(signIn(user, password)...),
		waitVisible("#view-gallery"),
		waitJS(`document.querySelector('#board-zip').hidden && document.querySelector('#board-share').hidden`),
		waitJS(fmt.Sprintf(`[...document.querySelectorAll('#board-select option')].some(o => o.value === %q)`, board)),
		chromedp.SetValue(chromedp.CSS("#board-select"), board),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#board-select').dispatchEvent(new Event('change'))`),
		waitVisible("#board-zip"),
		waitJS(`document.querySelectorAll('#gallery-grid .tile.st-completed').length === 2`),
		chromedp.Click(chromedp.CSS("#board-zip")),
		waitText("#toasts", "Downloading the board"),
		chromedp.Click(chromedp.CSS("#board-share")),
		waitJS(`document.querySelector('#share-dlg').open`),
		waitText("#share-title", "Share this board"),
		chromedp.Click(chromedp.CSS("#share-create")),
		waitJS(`document.querySelector('#share-url').value.includes('/s/')`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			link, err = chromedp.Evaluate[string](`document.querySelector('#share-url').value`)(ctx, tg)
			return err
		}),
	)
	entries := waitZip(t, downloads, "nanobanana-holiday*.zip")
	if len(entries) != 2 {
		t.Fatalf("the board's zip holds %v", entries)
	}
	for name, data := range entries {
		if !strings.Contains(pngITXt(data, "parameters"), "Board picture") {
			t.Errorf("%s carries no recipe", name)
		}
	}

	anon := secondSession(t, ctx)
	astep := stepper(t, anon)
	astep("the board's link opens with no account: its name and its two images",
		chromedp.Navigate(link),
		waitText("#shared-name", "Holiday"),
		waitJS(`document.querySelectorAll('#shared-grid li').length === 2`),
		waitJS(`[...document.querySelectorAll('#shared-grid img')].every(i => i.complete && i.naturalWidth > 0)`),
		waitText("#shared-grid", prompts[0]),
		waitText("#shared-grid", prompts[1]),
	)
	var body string
	if err := chromedp.Do(anon, readText("body", &body)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, prompts[2]) || strings.Contains(body, user) {
		t.Errorf("the board's page shows more than the board:\n%s", body)
	}
}
