package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Tab is one page in a browser context of its own (like an incognito window): its cookies,
// storage and cache are not shared with any other Tab. Its methods fail the test on error.
// A Tab belongs to one goroutine, that of the test that opened it.
type Tab struct {
	t      testing.TB
	ctx    context.Context
	cancel context.CancelFunc
}

// Tab opens a tab in a new browser context and closes it (and disposes of the context) when
// the test ends.
func (b *Browser) Tab(t testing.TB) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// Like the browser's start, the call that opens the tab owns it, so it runs without a
	// deadline, under a timer.
	err := bounded(cancel, StartTimeout, func() error { return chromedp.Do(ctx) })
	if err != nil {
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	return &Tab{t: t, ctx: ctx, cancel: cancel}
}

// Context is the tab's chromedp context, for what the helpers do not cover (chromedp.Run with
// an action of another result type, chromedp.Call of a protocol command). Derive a context
// with a timeout from it for each call.
func (tab *Tab) Context() context.Context { return tab.ctx }

// Run runs the actions in order, each call under ActionTimeout, and fails the test with the
// error if one fails.
func (tab *Tab) Run(actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	if err := tab.do(actions...); err != nil {
		tab.t.Fatalf("browsertest: %v", err)
	}
}

func (tab *Tab) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tab.ctx, ActionTimeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// run runs one action that returns a value, under ActionTimeout, failing the test with what
// it was doing on error.
func run[T any](tab *Tab, what string, a chromedp.Action[T]) T {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, ActionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tab.t.Fatalf("browsertest: %s: %v", what, err)
	}
	return v
}

// Navigate loads url and waits for the page's load event.
func (tab *Tab) Navigate(url string) {
	tab.t.Helper()
	run(tab, "navigating to "+url, chromedp.Navigate(url))
}

// Text returns the visible text (innerText) of the first element that matches the CSS
// selector, waiting until it is visible.
func (tab *Tab) Text(selector string) string {
	tab.t.Helper()
	return run(tab, "reading the text of "+selector, chromedp.Text(chromedp.CSS(selector), chromedp.NodeVisible))
}

// Click clicks the first element that matches the CSS selector, once it is visible.
func (tab *Tab) Click(selector string) {
	tab.t.Helper()
	run(tab, "clicking "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// SetValue sets the value of the input, select or textarea that matches the CSS selector, as
// a script would (no key events).
func (tab *Tab) SetValue(selector, value string) {
	tab.t.Helper()
	run(tab, "setting the value of "+selector, chromedp.SetValue(chromedp.CSS(selector), value, chromedp.NodeVisible))
}

// SendKeys focuses the element that matches the CSS selector and types keys into it, as a
// user would (key events, input events).
func (tab *Tab) SendKeys(selector, keys string) {
	tab.t.Helper()
	run(tab, "typing into "+selector, chromedp.SendKeys(chromedp.CSS(selector), keys, chromedp.NodeVisible))
}

// Submit submits the form that the element matching the CSS selector is in (or is). It does
// not wait for the next page: follow it with WaitVisible on something of that page.
func (tab *Tab) Submit(selector string) {
	tab.t.Helper()
	run(tab, "submitting "+selector, chromedp.Submit(chromedp.CSS(selector), chromedp.NodeVisible))
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (tab *Tab) WaitVisible(selector string) {
	tab.t.Helper()
	run(tab, "waiting for "+selector+" to be visible", chromedp.WaitVisible(chromedp.CSS(selector)))
}

// Location returns the URL of the current page.
func (tab *Tab) Location() string {
	tab.t.Helper()
	return run(tab, "reading the location", chromedp.Location())
}

// Cookies returns the cookies the browser would send to the current page (HttpOnly ones
// included: they come from the browser, not from document.cookie).
func (tab *Tab) Cookies() []*network.Cookie {
	tab.t.Helper()
	res := run(tab, "reading the cookies", func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{})
	})
	return res.Cookies
}

// Eval evaluates the JavaScript expression in the page and decodes its value, as JSON, into
// out (a pointer, or nil to drop it). A promise is awaited.
func (tab *Tab) Eval(js string, out any) {
	tab.t.Helper()
	raw := run(tab, "evaluating "+shorten(js), chromedp.Evaluate[[]byte](js, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if out == nil {
		return
	}
	if err := json.Unmarshal(raw, out); err != nil {
		tab.t.Fatalf("browsertest: evaluating %s: decoding %s: %v", shorten(js), shorten(string(raw)), err)
	}
}

// Screenshot saves a PNG of the whole page (not only the viewport) as it renders in a
// viewport widthPx CSS pixels wide at a device scale factor of 1, so the image is widthPx
// pixels wide unless the page overflows sideways, with prefers-color-scheme dark or light. It
// emulates neither a mobile device nor touch: a narrow width is a narrow desktop window, which
// is how a page with <meta name="viewport" content="width=device-width"> lays out on a phone.
// The tab's viewport and color scheme are restored afterwards.
func (tab *Tab) Screenshot(path string, widthPx int, dark bool) {
	tab.t.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	what := fmt.Sprintf("screenshot at %d px, %s", widthPx, scheme)
	defer func() {
		if err := tab.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := cdp.Call(ctx, t, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
			return err
		})); err != nil {
			tab.t.Errorf("browsertest: %s: restoring the viewport: %v", what, err)
		}
	}()
	tab.Run(
		chromedp.EmulateViewport(int64(widthPx), 800),
		setScheme(scheme),
		// Let the page lay out and paint in the new width and scheme before the capture.
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](
				`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())))`,
				chromedp.EvalAwaitPromise)(ctx, t)
			return err
		}),
	)
	buf := run(tab, what, chromedp.FullScreenshot(100))
	if _, err := png.DecodeConfig(bytes.NewReader(buf)); err != nil {
		tab.t.Fatalf("browsertest: %s: the browser sent no PNG: %v", what, err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		tab.t.Fatalf("browsertest: %s: %v", what, err)
	}
}

func shorten(s string) string {
	const n = 80
	if len(s) > n {
		return fmt.Sprintf("%q…", s[:n])
	}
	return fmt.Sprintf("%q", s)
}

// setScheme emulates prefers-color-scheme (light or dark), or ends the emulation ("").
func setScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		p := emulation.SetEmulatedMediaParams{}
		if scheme != "" {
			p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
		}
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, p)
		return err
	})
}
