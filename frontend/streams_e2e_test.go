package frontend

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserStreamCap: with MAX_STREAMS_PER_USER=1, a second tab of the same user
// takes the live stream; the first, hidden, is told why and waits instead of taking it
// back (which would close the second's, and so on), and takes it back once shown.
func TestBrowserStreamCap(t *testing.T) {
	skipWithoutBrowser(t)
	base := startServer(t, "MAX_STREAMS_PER_USER=1").base
	a := startBrowser(t)
	b, cancel := chromedp.NewContext(a) // another tab of the same browser: same session cookie
	t.Cleanup(cancel)
	watchConsole(t, b)
	stepA, stepB := stepper(t, a), stepper(t, b)
	user := fmt.Sprintf("tabs%d", time.Now().UnixNano()%1e6)
	setVisible := func(visible bool) chromedp.Action[chromedp.Void] {
		state := map[bool]string{true: "visible", false: "hidden"}[visible]
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => %q});
			document.dispatchEvent(new Event('visibilitychange'))`, state))
	}
	stream := func(state string) chromedp.Action[chromedp.Void] {
		return waitJS(fmt.Sprintf(`document.documentElement.dataset.stream === %q`, state))
	}

	stepA("sign up; the stream is live",
		append(append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/")}, signUp(user, "correct horse battery")...),
			stream("live"), setVisible(false))...)
	stepB("a second tab of the same session takes the one stream allowed",
		chromedp.Navigate(base+"/"),
		waitText("#whoami", user),
		stream("live"),
	)
	stepA("the first tab, hidden, is told why and does not take it back",
		stream("parked"),
		waitText("#stream-state", "too many open tabs"),
	)
	// Were the hidden tab to reconnect, the second tab's stream would be closed. (A wait
	// can only fail to catch that on a slow machine; it cannot fail a working app.)
	stepB("the second tab keeps its stream",
		chromedp.Sleep(3*time.Second),
		stream("live"),
	)
	stepB("the second tab is hidden", setVisible(false))
	stepA("shown again, the first tab takes the stream back", setVisible(true), stream("live"))
	stepB("and the hidden second tab waits in turn", stream("parked"))
}
