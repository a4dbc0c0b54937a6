package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

// The browser tests (TestBrowser...) drive a real headless Chromium against
// the dashboard's real HTTP server, on a database of their own, and assert
// what a person sees. One Chromium serves the whole test binary; each test
// gets a tab in a browser context of its own, so no cookie or download
// setting leaks from one test to another.

// chromiumEnv names a Chromium (or Chrome) binary to use instead of the
// first of chromiumNames on PATH.
const chromiumEnv = "PGSECRETS_TEST_CHROMIUM"

var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// viewport is the size of every tab, and of the screenshots in docs/images.
const viewportWidth, viewportHeight = 1280, 800

// browserStepTimeout bounds one step (a page load, a click, a query): a
// selector that never matches fails the test instead of hanging it.
const browserStepTimeout = 20 * time.Second

// chromium is the test binary's one browser, started by the first browser
// test and stopped by TestMain.
var chromium struct {
	once sync.Once
	ctx  context.Context // the browser; each tab is a child
	stop func()
	err  error
}

// TestMain stops the shared browser after the tests.
func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	if chromium.stop != nil {
		chromium.stop()
	}
	os.Exit(code)
}

// findChromium is the binary in PGSECRETS_TEST_CHROMIUM, else the first
// Chromium or Chrome on PATH. Without one the browser tests fail, saying
// how to install it: a skipped test would pass CI without testing
// anything.
func findChromium() (string, error) {
	if p := os.Getenv(chromiumEnv); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%s=%s is not an executable: %w", chromiumEnv, p, err)
		}
		return p, nil
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the browser tests need headless Chromium, and none of %s is on PATH: install it (Debian, Ubuntu: apt-get install chromium), or set %s to a Chromium or Chrome binary",
		strings.Join(chromiumNames, ", "), chromiumEnv)
}

func startChromium() (context.Context, func(), error) {
	path, err := findChromium()
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.WindowSize(viewportWidth, viewportHeight))
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root (CI containers).
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	stop := func() { cancelBrowser(); cancelAlloc() }
	// The context of the first action is the browser's life: no deadline,
	// a timer for a browser that never answers.
	hung := time.AfterFunc(time.Minute, cancelBrowser)
	err = chromedp.Do(bctx)
	hung.Stop()
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("start %s: %w", path, err)
	}
	return bctx, stop, nil
}

// tab is a test's tab in the shared Chromium, on the dashboard's real HTTP
// server, with cookies and downloads of its own.
type tab struct {
	t         *testing.T
	ctx       context.Context
	base      string // the server's URL
	downloads string // where downloads land
}

// openTab opens a tab on e's dashboard, served over HTTP. Each tab is
// another person: cookies of its own.
func (e *env) openTab() *tab {
	e.t.Helper()
	chromium.once.Do(func() { chromium.ctx, chromium.stop, chromium.err = startChromium() })
	if chromium.err != nil {
		e.t.Fatal(chromium.err)
	}
	if e.httpURL == "" {
		ts := httptest.NewServer(e.srv)
		e.t.Cleanup(ts.Close)
		e.httpURL = ts.URL
	}

	ctx, cancel := chromedp.NewContext(chromium.ctx, chromedp.WithNewBrowserContext())
	e.t.Cleanup(cancel)
	// The context of the first action on a tab is the tab's life: open it
	// with ctx itself, bounded by a timer rather than a deadline.
	hung := time.AfterFunc(browserStepTimeout, cancel)
	err := chromedp.Do(ctx)
	hung.Stop()
	if err != nil {
		e.t.Fatalf("browser: open a tab: %v", err)
	}
	tb := &tab{t: e.t, ctx: ctx, base: e.httpURL, downloads: e.t.TempDir()}
	tb.do(
		chromedp.EmulateViewport(viewportWidth, viewportHeight),
		// Downloads of this browser context land in tb.downloads, named by
		// their GUID, and report their progress (download).
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior:         cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName,
				BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
				DownloadPath:     tb.downloads,
				EventsEnabled:    new(true),
			})
			return err
		}),
	)
	return tb
}

// step is a context for one step, within browserStepTimeout.
func (tb *tab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tb.ctx, browserStepTimeout)
}

// do runs actions that load nothing, or whose page is waited for by the
// next query.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v\n%s", err, tb.where())
	}
}

// load runs actions that load a page (a link, a form's button), waits for
// it, and returns its HTTP status.
func (tb *tab) load(actions ...chromedp.Action[chromedp.Void]) int {
	tb.t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	res, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		tb.t.Fatalf("browser: %v\n%s", err, tb.where())
	}
	return int(res.Status)
}

// open loads a path of the dashboard, as typed in the address bar.
func (tb *tab) open(path string) int {
	tb.t.Helper()
	return tb.load(chromedp.Navigate(tb.base + path))
}

// click clicks the first element sel matches, and waits for the page it
// loads.
func (tb *tab) click(sel string) int {
	tb.t.Helper()
	return tb.load(chromedp.Click(chromedp.CSS(sel)))
}

// fill types text into a field, replacing what it held.
func (tb *tab) fill(sel, text string) {
	tb.t.Helper()
	// Emptied from script: chromedp's SetValue turns "" into "undefined".
	tb.do(chromedp.WaitReady(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void]("document.querySelector("+jsString(sel)+").value = ''"),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// tick clicks a checkbox.
func (tb *tab) tick(sel string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(sel)))
}

// choose picks an option of a select.
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	tb.do(chromedp.SetValue(chromedp.CSS(sel), value))
}

// text is the visible text of the first element sel matches, waiting for
// one to appear.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("browser: text of %s: %v\n%s", sel, err, tb.where())
	}
	return strings.TrimSpace(s)
}

// value is the current value of a form field.
func (tb *tab) value(sel string) string {
	tb.t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("browser: value of %s: %v\n%s", sel, err, tb.where())
	}
	return s
}

// evalIn evaluates a JavaScript expression in tb's page, from the test's side
// (the page itself runs no script).
func evalIn[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("browser: %s: %v\n%s", expr, err, tb.where())
	}
	return v
}

// count is how many elements of the page as it is now match sel, without
// waiting: for what must not be there.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return evalIn[int](tb, "document.querySelectorAll("+jsString(sel)+").length")
}

// texts is the visible text of every element sel matches now.
func (tb *tab) texts(sel string) []string {
	tb.t.Helper()
	return evalIn[[]string](tb, "Array.from(document.querySelectorAll("+jsString(sel)+"), e => e.innerText.trim())")
}

// path is the page's path and query, as the address bar shows it.
func (tb *tab) path() string {
	tb.t.Helper()
	return strings.TrimPrefix(evalIn[string](tb, "location.href"), tb.base)
}

// body is the text of the whole page.
func (tb *tab) body() string {
	tb.t.Helper()
	return evalIn[string](tb, "document.body.innerText")
}

// post sends a form the page does not offer, as a person could with the
// browser's developer tools: from the page itself, so the browser sends
// what it sends for the dashboard's own forms.
func (tb *tab) post(path string) int {
	tb.t.Helper()
	return tb.load(chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.createElement("form");
		f.method = "post";
		f.action = ` + jsString(path) + `;
		document.body.append(f);
		f.submit();
	})()`))
}

// download clicks a button that downloads a file, waits for the file and
// returns the name the server gave it and its content.
func (tb *tab) download(sel string) (string, []byte) {
	tb.t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	begin := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadWillBegin)
	progress := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadProgress)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		tb.t.Fatalf("browser: click %s: %v\n%s", sel, err, tb.where())
	}
	var started cdpbrowser.EventDownloadWillBegin
	for ev, err := range begin {
		if err != nil {
			tb.t.Fatalf("browser: no download began after clicking %s: %v\n%s", sel, err, tb.where())
		}
		started = ev
		break
	}
	for ev, err := range progress {
		if err != nil {
			tb.t.Fatalf("browser: download of %s did not finish: %v", started.SuggestedFilename, err)
		}
		if ev.GUID != started.GUID {
			continue
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			tb.t.Fatalf("browser: download of %s was canceled", started.SuggestedFilename)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			break
		}
	}
	b, err := os.ReadFile(filepath.Join(tb.downloads, started.GUID))
	if err != nil {
		tb.t.Fatal(err)
	}
	return started.SuggestedFilename, b
}

// signIn signs in through the sign-in form, landing on the secrets.
func (tb *tab) signIn(email string) {
	tb.t.Helper()
	tb.open("/signin")
	tb.fill("#email", email)
	tb.fill("#password", testPassword)
	if status := tb.click("#signin-submit"); status != http.StatusOK || tb.count("main#secrets") != 1 {
		tb.t.Fatalf("sign in as %s: status %d\n%s", email, status, tb.where())
	}
}

// where says what the tab shows, for a failure's message.
func (tb *tab) where() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(the tab cannot say where it is: " + err.Error() + ")"
	}
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	return fmt.Sprintf("at %s:\n%s", loc, text)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
