package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// Bounds of the Web UI test.
const (
	webUITimeout  = 3 * time.Minute  // the browser's deadline, from the test's start
	pageTimeout   = 30 * time.Second // one page showing what a person looks for
	pollInterval  = 250 * time.Millisecond
	textTailChars = 1500
	// The tab's size, that of the screenshots.
	viewportWidth, viewportHeight = 1440, 1000
)

// The IDs of the Web UI test's orders: one completes, one is declined, one
// is cancelled in its window.
const (
	uiCompleted = "42"
	uiDeclined  = "43"
	uiCancelled = "44"
)

// TestWebUI looks at the demo orders in the dev server's Web UI through
// headless Chromium, as a person would: the list filtered by OrderStatus,
// a completed order's history and user metadata (summary, current details,
// activities with their summaries), a declined order's page with its
// compensations, the order-placed update that answered a placement with
// its total and reservation, a cancel of the shipped order refused at once
// and absent from its history, and the accepted cancel-order update of the
// cancelled order. It saves screenshots of the pages (see artifactsDir) and,
// with ORDERSAGA_UPDATE_SCREENSHOTS=1, the README's docs/webui-order.png.
// ORDERSAGA_WEBUI_DUMP=1 logs each page's text, to find what to assert when
// the UI changes.
func TestWebUI(t *testing.T) {
	chrome := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), webUITimeout)
	defer cancel()

	s := newStack(t)
	s.startWorker(t, "worker")
	runs := placeUIOrders(t, s)
	s.waitListed(t, `OrderStatus="CANCELLED"`, "order-"+uiCancelled)
	b := newBrowser(ctx, t, chrome)

	t.Run("ListFilteredByStatus", func(t *testing.T) {
		b.open(t, listURL(s.uiURL, `OrderStatus="CANCELLED"`))
		b.waitFor(t,
			expect{region: pageText, want: []string{"order-" + uiCancelled, "Canceled"},
				unwanted: []string{"order-" + uiCompleted, "order-" + uiDeclined}})
		b.screenshot(t, "list-cancelled.png")
	})
	t.Run("CompletedOrderHistory", func(t *testing.T) {
		b.open(t, s.oc.WebURL("order-"+uiCompleted, runs[uiCompleted]))
		b.waitFor(t,
			expect{region: headerText, want: []string{"Completed", "order-" + uiCompleted}},
			expect{region: pageText, want: []string{
				"ReserveStock • Reserve 1 × BOOK-GOPL, 2 × MUG-GOPHER",
				"ChargePayment • Charge $65.97",
				"CreateShipment • Ship 1 × BOOK-GOPL, 2 × MUG-GOPHER",
				"Cancel window of 1s",
			}})
		b.screenshot(t, "order-completed-history.png")
	})
	t.Run("CompletedOrderMetadata", func(t *testing.T) {
		b.open(t, userMetadataURL(s.oc.WebURL("order-"+uiCompleted, runs[uiCompleted])))
		b.waitFor(t,
			expect{region: headerText, want: []string{"Completed", "order-" + uiCompleted}},
			expect{region: pageText, want: []string{
				"Order 42 for customer c-1001: 1 × BOOK-GOPL, 2 × MUG-GOPHER",
				"Current Details", "COMPLETED", "$65.97 charged",
				"Charge $65.97",
			}})
		b.screenshot(t, "order-completed-metadata.png")
		if os.Getenv("ORDERSAGA_UPDATE_SCREENSHOTS") == "1" {
			b.saveScreenshot(t, filepath.Join(repoRoot, "docs", "webui-order.png"))
		}
	})
	t.Run("DeclinedOrder", func(t *testing.T) {
		b.open(t, s.oc.WebURL("order-"+uiDeclined, runs[uiDeclined]))
		b.waitFor(t,
			expect{region: headerText, want: []string{"Failed", "order-" + uiDeclined}},
			expect{region: pageText, want: []string{
				"payment declined",
				"RefundPayment • Refund order-43/charge",
				"ReleaseStock • Release stock of order-43/reserve",
			}})
		b.screenshot(t, "order-declined.png")
	})
	t.Run("PlacementAnsweredWithItsTotal", func(t *testing.T) {
		v := view(t, s.starter(t, "status", uiCompleted, "-o", "json"), 0)
		placed := s.acceptedUpdates(t, uiCompleted)
		if len(placed) != 1 || placed[0].name != ordersaga.OrderPlacedUpdate || placed[0].completedID == 0 {
			t.Fatalf("order %s's history has the updates %+v, want the answered order-placed update alone", uiCompleted, placed)
		}
		historyURL := s.oc.WebURL("order-"+uiCompleted, runs[uiCompleted])
		b.open(t, historyURL)
		b.waitFor(t,
			expect{region: headerText, want: []string{"Completed", "order-" + uiCompleted}},
			expect{region: pageText, want: []string{
				"Workflow Execution Update Accepted", ordersaga.OrderPlacedUpdate,
				"Workflow Execution Update Completed", `{"reserved":true,`,
			}})
		b.open(t, eventURL(historyURL, placed[0].completedID))
		b.waitFor(t,
			expect{region: headerText, want: []string{"Completed", "order-" + uiCompleted}},
			expect{region: pageText, want: []string{
				"Workflow Execution Update Accepted", fmt.Sprintf(`"name": %q`, ordersaga.OrderPlacedUpdate),
				"Workflow Execution Update Completed",
				fmt.Sprintf(`"total_cents": %d`, v.TotalCents),
				fmt.Sprintf(`"reservation_id": %q`, v.ReservationID),
			}})
		b.screenshot(t, "order-placed-answer.png")
	})
	t.Run("CancelRefusedAtOnce", func(t *testing.T) {
		v := view(t, s.starter(t, "status", uiCompleted, "-o", "json"), 0)
		assertCancelRefused(t, s, v)
		b.open(t, s.oc.WebURL("order-"+uiCompleted, runs[uiCompleted]))
		b.waitFor(t,
			expect{region: headerText, want: []string{"Completed", "order-" + uiCompleted}},
			expect{region: pageText,
				want: []string{
					fmt.Sprintf("History\n%d\n", v.HistoryLength),
					"Workflow Execution Completed", ordersaga.OrderPlacedUpdate,
				},
				unwanted: []string{ordersaga.CancelOrderUpdate}})
		b.screenshot(t, "order-cancel-refused.png")
	})
	t.Run("CancelAccepted", func(t *testing.T) {
		b.open(t, s.oc.WebURL("order-"+uiCancelled, runs[uiCancelled]))
		b.waitFor(t,
			expect{region: headerText, want: []string{"Canceled", "order-" + uiCancelled}},
			expect{region: pageText, want: []string{
				ordersaga.OrderPlacedUpdate, ordersaga.CancelOrderUpdate,
				`{"accepted":true,"status":"COMPENSATING"`,
			}})
		b.screenshot(t, "order-cancel-accepted.png")
	})
}

// chromiumPath returns Chromium's path; without it the test fails, or
// skips with -short.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if testing.Short() {
			t.Skip("no chromium in PATH (-short)")
		}
		t.Fatal("no chromium in PATH: install it with scripts/install-test-deps.sh (make test does), or run with -short to skip this test")
	}
	return path
}

// placeUIOrders places the demo orders with the starter: one completes, one
// is declined, one is cancelled in its window. It returns their run IDs by
// order ID.
func placeUIOrders(t *testing.T, s *stack) map[string]string {
	t.Helper()
	runs := map[string]string{}
	r := s.starter(t, "place", "--id", uiCompleted, "--customer", "c-1001", "--item", "BOOK-GOPL:1", "--item", "MUG-GOPHER:2",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "1s", "--wait", "-o", "json")
	runs[uiCompleted] = endedRun(t, r, 0, workflows.Completed)
	r = s.starter(t, "place", "--id", uiDeclined, "--customer", "c-1002", "--item", "TEE-TEMPORAL-M:1",
		"--payment", "tok_declined", "--address", shipTo, "--wait", "-o", "json")
	runs[uiDeclined] = endedRun(t, r, 3, workflows.Failed)
	r = s.starter(t, "place", "--id", uiCancelled, "--customer", "c-1003", "--item", "STICKER-PACK:3",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "10m", "-o", "json")
	view(t, r, 0)
	s.waitStatus(t, uiCancelled, workflows.AwaitingFulfillment)
	r = s.starter(t, "cancel", uiCancelled, "--reason", "customer changed their mind", "--wait", "-o", "json")
	runs[uiCancelled] = endedRun(t, r, 0, workflows.Cancelled)
	return runs
}

// endedRun checks the starter's view of an ended order and returns its run
// ID.
func endedRun(t *testing.T, r result, wantCode int, want workflows.Status) string {
	t.Helper()
	v := view(t, r, wantCode)
	if v.Status != want {
		t.Fatalf("order %s is %s, want %s: %+v", v.OrderID, v.Status, want, v.OrderState)
	}
	return v.RunID
}

// waitListed waits until the server's visibility lists the workflow for the
// query, so that the UI's list, read once, shows it.
func (s *stack) waitListed(t *testing.T, query, workflowID string) {
	t.Helper()
	eventually(t, 30*time.Second, "visibility lists "+workflowID+" for "+query, func() (bool, string) {
		ids, err := s.listWorkflowIDs(query)
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(" "+strings.Join(ids, " ")+" ", " "+workflowID+" "), strings.Join(ids, ",")
	})
}

// listWorkflowIDs returns the IDs of the workflows the query lists.
func (s *stack) listWorkflowIDs(query string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ids []string
	resp, err := s.oc.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
	if err != nil {
		return nil, err
	}
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids, nil
}

// listURL is the UI's workflow list of the default namespace filtered by a
// visibility query.
func listURL(uiURL, query string) string {
	return strings.TrimRight(uiURL, "/") + "/namespaces/default/workflows?query=" + url.QueryEscape(query)
}

// userMetadataURL is the User Metadata tab of a workflow page: its
// summary, details and current details.
func userMetadataURL(historyURL string) string {
	return strings.TrimSuffix(historyURL, "/history") + "/user-metadata"
}

// eventURL is the page of one event of a workflow's history.
func eventURL(historyURL string, eventID int64) string {
	return fmt.Sprintf("%s/events/%d", strings.TrimRight(historyURL, "/"), eventID)
}

// browser is a headless Chromium tab, closed when the test ends.
type browser struct {
	ctx       context.Context
	artifacts string
}

// newBrowser starts headless Chromium for a closed network: no sandbox
// (root in containers), no GPU, no background or update traffic, and no name
// resolved but localhost.
func newBrowser(parent context.Context, t *testing.T, chrome string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		// Loopback only: no name but localhost resolves.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost"),
		chromedp.WindowSize(viewportWidth, viewportHeight),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // stops Chromium and removes its profile directory
	})
	// Start the browser now, so that a broken install fails here.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewportWidth, viewportHeight)); err != nil {
		t.Fatalf("start chromium %s: %v", chrome, err)
	}
	return &browser{ctx: ctx, artifacts: artifactsDir(t)}
}

// artifactsDir is where the screenshots go: $ORDERSAGA_ARTIFACTS, or a
// temporary directory of the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ORDERSAGA_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	return dir
}

// open navigates the tab to rawURL.
func (b *browser) open(t *testing.T, rawURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(rawURL)); err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	t.Logf("opened %s", rawURL)
}

// region is a part of a page, read through a JavaScript expression of its
// visible text.
type region struct{ name, js string }

var (
	// pageText is the page's text with that of its same-origin frames, in
	// which the UI renders summaries and details (markdown).
	pageText = region{"page", `[document.body ? document.body.innerText : "",
		...[...document.querySelectorAll("iframe")].map(f => {
			try { return f.contentDocument.body.innerText } catch (e) { return "" }
		})].join("\n")`}
	// headerText is the text of the page's headers: a workflow's status
	// badge and ID.
	headerText = region{"header", `[...document.querySelectorAll("header")].map(h => h.innerText).join("\n")`}
)

// expect is what a region of the page shows, and what it does not.
type expect struct {
	region         region
	want, unwanted []string
}

// waitFor waits until the page shows what every expect says; it fails with
// what is missing and the page text's tail otherwise.
func (b *browser) waitFor(t *testing.T, expects ...expect) {
	t.Helper()
	deadline := time.Now().Add(pageTimeout)
	for {
		problems := b.problems(expects)
		if len(problems) == 0 {
			if os.Getenv("ORDERSAGA_WEBUI_DUMP") == "1" {
				text, _ := b.text(pageText)
				t.Logf("page text:\n%s", text)
			}
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			b.screenshot(t, "failure-"+strings.ReplaceAll(t.Name(), "/", "-")+".png")
			text, _ := b.text(pageText)
			t.Fatalf("page %s did not show what a person looks for within %s: %s\npage text ends:\n%s",
				b.location(), pageTimeout, strings.Join(problems, "; "), textTail(text, textTailChars))
		}
		time.Sleep(pollInterval) // poll interval of a deadline-bounded wait
	}
}

// problems returns what the page does not show as expected.
func (b *browser) problems(expects []expect) []string {
	var out []string
	for _, e := range expects {
		text, err := b.text(e.region)
		if err != nil {
			return []string{err.Error()}
		}
		missing, present := missingAndPresent(text, e.want, e.unwanted)
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("%s lacks %q", e.region.name, missing))
		}
		if len(present) > 0 {
			out = append(out, fmt.Sprintf("%s shows %q", e.region.name, present))
		}
	}
	return out
}

// missingAndPresent returns the wanted strings text lacks and the unwanted
// ones it has.
func missingAndPresent(text string, want, unwanted []string) (missing, present []string) {
	for _, w := range want {
		if !strings.Contains(text, w) {
			missing = append(missing, w)
		}
	}
	for _, u := range unwanted {
		if strings.Contains(text, u) {
			present = append(present, u)
		}
	}
	return missing, present
}

// text reads a region's text.
func (b *browser) text(r region) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](r.js))
}

// location is the tab's URL.
func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// screenshot saves a full-page PNG of the tab into the artifacts directory.
// The UI scrolls inside the page, so the PNG is the tab's viewport.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	b.saveScreenshot(t, filepath.Join(b.artifacts, name))
}

// saveScreenshot saves a full-page PNG of the tab at path.
func (b *browser) saveScreenshot(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = errors.Join(os.MkdirAll(filepath.Dir(path), 0o755), os.WriteFile(path, png, 0o644))
	}
	if err != nil {
		t.Errorf("screenshot %s: %v", path, err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// textTail is the last n bytes of s.
func textTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + strings.ToValidUTF8(s[len(s)-n:], "")
}
