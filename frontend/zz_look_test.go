package frontend

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

func TestZZLook(t *testing.T) {
	skipWithoutBrowser(t)
	srv := startServer(t)
	ctx := startBrowser(t)
	step := stepper(t, ctx)
	shot := func(name string) {
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile("/tmp/look-"+name+".png", b, 0o644)
	}
	user := fmt.Sprintf("look%d", time.Now().UnixNano()%1e6)
	step("phone", send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}),
		chromedp.Navigate(srv.base+"/"), waitVisible("#view-auth"), setLanguage("ru"))
	shot("signup-ru")
	step("bad", chromedp.SendKeys(chromedp.CSS(`#form-signup [name=email]`), "bad"), chromedp.SendKeys(chromedp.CSS(`#form-signup [name=password]`), "password"),
		chromedp.Click(chromedp.CSS(`#form-signup button[type=submit]`)), chromedp.Sleep(300*time.Millisecond))
	shot("signup-errors-ru")
	step("signup", clearField(`#form-signup [name=email]`), clearField(`#form-signup [name=password]`),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=email]`), user+"@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#form-signup [name=password]`), "a good long password"),
		chromedp.Click(chromedp.CSS(`#form-signup button[type=submit]`)), waitVisible("#view-create"), chromedp.Sleep(300*time.Millisecond))
	shot("create-ru")
	step("gen", chromedp.SendKeys(chromedp.CSS("#prompt"), "[[slow]] a banana"), chromedp.Click(chromedp.CSS("#gen-submit")), chromedp.Sleep(1500*time.Millisecond))
	shot("create-after-gen-ru")
	step("dark", chromedp.Click(chromedp.CSS("#theme")), chromedp.Click(chromedp.CSS("#theme")),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0,0)`), chromedp.Sleep(300*time.Millisecond))
	shot("create-dark-ru")
	step("settings", chromedp.Click(chromedp.CSS(`#nav a[data-nav=settings]`)), chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`)), chromedp.Sleep(300*time.Millisecond))
	shot("settings-dark-ru")
	step("desktop", send(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1280, Height: 800, DeviceScaleFactor: 1}),
		chromedp.Click(chromedp.CSS(`#nav a[data-nav=create]`)), chromedp.Sleep(300*time.Millisecond))
	shot("create-desktop-dark-ru")
	_ = context.Background
}
