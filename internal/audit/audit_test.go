package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for changing a store behind its back

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// The checks the audit reports, by name.
const (
	checkStock     = "stock"
	checkCompleted = "completed orders"
	checkUndone    = "failed and cancelled orders"
	checkEnded     = "orders ended by the saga"
	checkForgotten = "orders Temporal forgot"
	checkMoney     = "money"
	checkStuck     = "orders in progress"
)

var allChecks = []string{checkStock, checkCompleted, checkUndone, checkEnded, checkForgotten, checkMoney, checkStuck}

// catalogSKUs is how many SKUs the shipped catalog.json seeds.
const catalogSKUs = 5

// now is the audit's clock in the tests.
var now = time.Date(2030, time.March, 4, 12, 0, 0, 0, time.UTC)

// world is the three services' real stores in a temporary directory, with
// the steps of an order's saga as the services would apply them, and a
// fake Temporal that lists the runs a test says it knows.
type world struct {
	t        *testing.T
	ctx      context.Context
	dir      string
	stores   stores.Stores
	temporal *fakeTemporal
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w := &world{t: t, ctx: ctx, dir: dir, temporal: newFakeTemporal()}
	var err error
	if w.stores.Inventory, err = inventory.Open(ctx, filepath.Join(dir, inventory.DatabaseFile)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.stores.Inventory.Close() })
	if w.stores.Payment, err = payment.Open(ctx, filepath.Join(dir, payment.DatabaseFile)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.stores.Payment.Close() })
	if w.stores.Shipping, err = shipping.Open(ctx, filepath.Join(dir, shipping.DatabaseFile)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.stores.Shipping.Close() })
	return w
}

// order names one placement of an order: its order ID, the workflow it
// runs as, and its placement.
type order struct {
	id, workflowID, placement string
}

// placed is order id's placement as the starter starts it: workflow
// "order-<id>", placement "p-<id>".
func placed(id string) order {
	return order{id: id, workflowID: ordersaga.WorkflowID(id), placement: "p-" + id}
}

func (o order) key(step string) string { return o.workflowID + "/" + step }

// orderTotal is what reserve's items cost: 2 gopher mugs at $12.99 and a
// book at $39.99, $65.97.
const orderTotal = 2*1299 + 3999

// reserve reserves 2 gopher mugs and 1 book for the order and returns the
// reservation's total, which is the order's total.
func (w *world) reserve(o order) int64 {
	w.t.Helper()
	res, err := w.stores.Inventory.Reserve(w.ctx, inventory.ReserveRequest{
		Key: o.key(workflows.StepReserve), OrderID: o.id, Placement: o.placement,
		Items: []inventory.Item{{SKU: "MUG-GOPHER", Qty: 2}, {SKU: "BOOK-GOPL", Qty: 1}},
	})
	if err != nil {
		w.t.Fatalf("reserve order %s: %v", o.id, err)
	}
	return res.TotalCents
}

func (w *world) release(o order) {
	w.t.Helper()
	if _, err := w.stores.Inventory.Release(w.ctx, inventory.ReleaseRequest{Key: o.key(workflows.StepReserve), OrderID: o.id, Placement: o.placement}); err != nil {
		w.t.Fatalf("release order %s: %v", o.id, err)
	}
}

// charge captures cents for the order.
func (w *world) charge(o order, cents int64) {
	w.t.Helper()
	c, err := w.stores.Payment.Charge(w.ctx, payment.ChargeRequest{
		Key: o.key(workflows.StepCharge), OrderID: o.id, Placement: o.placement, AmountCents: cents, Token: payment.TokenVisa,
	}, 1)
	if err != nil || c.Status != payment.Captured {
		w.t.Fatalf("charge order %s: %+v, %v", o.id, c, err)
	}
}

// decline records a declined charge for the order.
func (w *world) decline(o order, cents int64) {
	w.t.Helper()
	_, err := w.stores.Payment.Charge(w.ctx, payment.ChargeRequest{
		Key: o.key(workflows.StepCharge), OrderID: o.id, Placement: o.placement, AmountCents: cents, Token: payment.TokenDeclined,
	}, 1)
	if !errors.Is(err, payment.ErrDeclined) {
		w.t.Fatalf("charge order %s with a declined card: got %v, want %v", o.id, err, payment.ErrDeclined)
	}
}

func (w *world) refund(o order) {
	w.t.Helper()
	if _, err := w.stores.Payment.Refund(w.ctx, payment.RefundRequest{Key: o.key(workflows.StepCharge), OrderID: o.id, Placement: o.placement}); err != nil {
		w.t.Fatalf("refund order %s: %v", o.id, err)
	}
}

func (w *world) ship(o order) {
	w.t.Helper()
	if _, err := w.stores.Shipping.Ship(w.ctx, shipping.ShipRequest{
		Key: o.key(workflows.StepShip), OrderID: o.id, Placement: o.placement, Address: "1 Gopher Way, Springfield",
		Items: []shipping.Parcel{{SKU: "MUG-GOPHER", Qty: 2}, {SKU: "BOOK-GOPL", Qty: 1}},
	}); err != nil {
		w.t.Fatalf("ship order %s: %v", o.id, err)
	}
}

func (w *world) cancelShipment(o order) {
	w.t.Helper()
	if _, err := w.stores.Shipping.Cancel(w.ctx, shipping.CancelRequest{Key: o.key(workflows.StepShip), OrderID: o.id, Placement: o.placement}); err != nil {
		w.t.Fatalf("cancel shipment of order %s: %v", o.id, err)
	}
}

// The ends of the saga, as the workflow leaves the stores.

// complete reserves, charges the total and ships.
func (w *world) complete(o order) int64 {
	total := w.reserve(o)
	w.charge(o, total)
	w.ship(o)
	return total
}

// failDeclined: the card was declined, the stock released.
func (w *world) failDeclined(o order) {
	total := w.reserve(o)
	w.decline(o, total)
	w.release(o)
}

// failAtShipping: the shipment was booked but its step failed (a
// timeout), so everything was undone, LIFO.
func (w *world) failAtShipping(o order) {
	total := w.reserve(o)
	w.charge(o, total)
	w.ship(o)
	w.cancelShipment(o)
	w.refund(o)
	w.release(o)
}

// cancel in the cancel window: refunded, released, and the shipment key
// voided although nothing was shipped.
func (w *world) cancel(o order) {
	total := w.reserve(o)
	w.charge(o, total)
	w.cancelShipment(o)
	w.refund(o)
	w.release(o)
}

// ended makes Temporal list o's run as ended with the order's status.
func (w *world) ended(o order, status workflows.Status) {
	temporal := map[workflows.Status]string{workflows.Completed: "Completed", workflows.Failed: "Failed", workflows.Cancelled: "Canceled"}[status]
	w.temporal.add(audit.OrderRun{WorkflowID: o.workflowID, RunID: o.placement, Start: now.Add(-time.Hour), Status: temporal, OrderStatus: status, Placed: true})
}

// running makes Temporal list o's run as running, with what a closer look
// at it shows.
func (w *world) running(o order, status workflows.Status, in audit.Inspection) {
	w.temporal.add(audit.OrderRun{WorkflowID: o.workflowID, RunID: o.placement, Start: now.Add(-time.Hour), Status: "Running", OrderStatus: status, Placed: true})
	w.temporal.inspections[o.placement] = in
}

func (w *world) audit() audit.Report {
	w.t.Helper()
	r, err := audit.Run(w.ctx, w.stores, w.temporal, audit.Options{Now: func() time.Time { return now }})
	if err != nil {
		w.t.Fatalf("audit.Run: %v", err)
	}
	return r
}

// fakeTemporal lists the runs a test added, and answers closer looks from
// what the test set.
type fakeTemporal struct {
	mu   sync.Mutex
	runs []audit.OrderRun
	// firstRunIDs is a run's first run ID where it is not its own: a run
	// a reset made.
	firstRunIDs map[string]string
	// current is the first run ID of a workflow's current run, for runs
	// that started after the list.
	current     map[string]string
	inspections map[string]audit.Inspection
	// gone are the runs deleted after the list.
	gone      map[string]bool
	listErr   error
	described []string
}

func newFakeTemporal() *fakeTemporal {
	return &fakeTemporal{firstRunIDs: map[string]string{}, current: map[string]string{}, inspections: map[string]audit.Inspection{}, gone: map[string]bool{}}
}

func (f *fakeTemporal) add(r audit.OrderRun) { f.runs = append(f.runs, r) }

func (f *fakeTemporal) Runs(_ context.Context, fn func(audit.OrderRun) error) error {
	if f.listErr != nil {
		return f.listErr
	}
	for _, r := range f.runs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeTemporal) FirstRunID(_ context.Context, workflowID, runID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.described = append(f.described, workflowID+"/"+runID)
	if runID == "" {
		if first, ok := f.current[workflowID]; ok {
			return first, nil
		}
		return "", fmt.Errorf("%w: %s", audit.ErrGone, workflowID)
	}
	if f.gone[runID] {
		return "", fmt.Errorf("%w: %s", audit.ErrGone, runID)
	}
	if first, ok := f.firstRunIDs[runID]; ok {
		return first, nil
	}
	return runID, nil
}

func (f *fakeTemporal) Inspect(_ context.Context, workflowID, runID string) (audit.Inspection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone[runID] {
		return audit.Inspection{}, fmt.Errorf("%w: %s", audit.ErrGone, runID)
	}
	in, ok := f.inspections[runID]
	if !ok {
		in = audit.Inspection{LastEventAt: now.Add(-time.Second), LastEvent: "WorkflowTaskCompleted"}
	}
	return in, nil
}

// checkViolations is each check's violation count, by name.
func checkViolations(t *testing.T, r audit.Report) map[string]int {
	t.Helper()
	got := map[string]int{}
	var names []string
	for _, c := range r.Checks {
		got[c.Name] = c.Violations
		names = append(names, c.Name)
	}
	if !slices.Equal(names, allChecks) {
		t.Errorf("checks = %q, want %q", names, allChecks)
	}
	return got
}

// wantChecks asserts each check's violations: want lists the failing ones,
// every other check must have none; and the report's violations must add
// up to them.
func wantChecks(t *testing.T, r audit.Report, want map[string]int) {
	t.Helper()
	got := checkViolations(t, r)
	total := 0
	for _, name := range allChecks {
		if got[name] != want[name] {
			t.Errorf("check %q: %d violation(s), want %d", name, got[name], want[name])
		}
		if name != checkStuck {
			total += want[name]
		}
	}
	if len(r.Violations) != total {
		t.Errorf("%d violation(s), want %d:\n%s", len(r.Violations), total, strings.Join(r.Violations, "\n"))
	}
	if r.OK() != (total == 0 && want[checkStuck] == 0) {
		t.Errorf("OK() = %v with violations %q and %d stuck", r.OK(), r.Violations, r.Overdue())
	}
}

// wantViolation asserts that one violation contains every one of parts.
func wantViolation(t *testing.T, r audit.Report, parts ...string) {
	t.Helper()
	for _, v := range r.Violations {
		if containsAll(v, parts) {
			return
		}
	}
	t.Errorf("no violation mentions all of %q; violations:\n%s", parts, strings.Join(r.Violations, "\n"))
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestCleanWorld(t *testing.T) {
	w := newWorld(t)
	total := w.complete(placed("1"))
	w.ended(placed("1"), workflows.Completed)
	w.failDeclined(placed("2"))
	w.ended(placed("2"), workflows.Failed)
	w.failAtShipping(placed("3"))
	w.ended(placed("3"), workflows.Failed)
	w.cancel(placed("4"))
	w.ended(placed("4"), workflows.Cancelled)
	w.complete(placed("5"))
	w.ended(placed("5"), workflows.Completed)

	r := w.audit()

	wantChecks(t, r, nil)
	wantEnded := map[workflows.Status]int{workflows.Completed: 2, workflows.Failed: 2, workflows.Cancelled: 1}
	if !maps.Equal(r.OrdersEnded, wantEnded) {
		t.Errorf("OrdersEnded = %v, want %v", r.OrdersEnded, wantEnded)
	}
	if r.CompletedCents != 2*total || r.CapturedCents != 2*total {
		t.Errorf("CapturedCents = %d, CompletedCents = %d, want both %d", r.CapturedCents, r.CompletedCents, 2*total)
	}
	if r.OrdersRunning != 0 || r.ForgottenCompleted+r.ForgottenUndone != 0 || len(r.Stuck) != 0 {
		t.Errorf("running %d, forgotten %d+%d, stuck %v; want none", r.OrdersRunning, r.ForgottenCompleted, r.ForgottenUndone, r.Stuck)
	}
	if r.SKUs != catalogSKUs {
		t.Errorf("SKUs = %d, want %d", r.SKUs, catalogSKUs)
	}
	if r.Violations == nil || r.Stuck == nil {
		t.Error("Violations or Stuck is nil, want empty lists (JSON [] rather than null)")
	}
	if len(w.temporal.described) != 0 {
		t.Errorf("the audit described %q: one run per order needs no closer look", w.temporal.described)
	}
}

func TestEmptyWorld(t *testing.T) {
	w := newWorld(t)
	r := w.audit()
	wantChecks(t, r, nil)
	if r.SKUs != catalogSKUs || r.CapturedCents != 0 || r.CompletedCents != 0 || len(r.OrdersEnded) != 0 {
		t.Errorf("report of an empty world: %+v", r)
	}
}

// TestCompletedOrderBroken breaks one promise of a COMPLETED order at a
// time.
func TestCompletedOrderBroken(t *testing.T) {
	c1 := placed("c1")
	tests := []struct {
		name string
		// breakOrder leaves the stores of order c1 broken.
		breakOrder    func(w *world)
		wantChecks    map[string]int
		wantViolation []string
	}{
		{
			name: "reservation released",
			breakOrder: func(w *world) {
				w.complete(c1)
				w.release(c1)
			},
			wantChecks:    map[string]int{checkCompleted: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "reservation is released, want reserved"},
		},
		{
			name: "reservation missing",
			breakOrder: func(w *world) {
				w.charge(c1, orderTotal)
				w.ship(c1)
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "reservation is none"},
		},
		{
			name: "charge missing",
			breakOrder: func(w *world) {
				w.reserve(c1)
				w.ship(c1)
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "charge is none"},
		},
		{
			name: "charge declined",
			breakOrder: func(w *world) {
				w.decline(c1, w.reserve(c1))
				w.ship(c1)
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "charge is declined"},
		},
		{
			name: "charge refunded",
			breakOrder: func(w *world) {
				w.complete(c1)
				w.refund(c1)
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "charge is refunded"},
		},
		{
			name: "captured less than the total",
			breakOrder: func(w *world) {
				w.charge(c1, w.reserve(c1)-100)
				w.ship(c1)
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "charge captured $64.97, the reservation's total is $65.97"},
		},
		{
			name: "captured more than the total",
			breakOrder: func(w *world) {
				w.charge(c1, w.reserve(c1)+1)
				w.ship(c1)
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "charge captured $65.98, the reservation's total is $65.97"},
		},
		{
			name: "shipment missing",
			breakOrder: func(w *world) {
				w.charge(c1, w.reserve(c1))
			},
			wantChecks:    map[string]int{checkCompleted: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "shipment is none"},
		},
		{
			name: "shipment cancelled",
			breakOrder: func(w *world) {
				w.complete(c1)
				w.cancelShipment(c1)
			},
			wantChecks:    map[string]int{checkCompleted: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "shipment is cancelled"},
		},
		{
			name: "shipment voided",
			breakOrder: func(w *world) {
				w.charge(c1, w.reserve(c1))
				w.cancelShipment(c1)
			},
			wantChecks:    map[string]int{checkCompleted: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "shipment is voided"},
		},
		{
			name:          "nothing at all",
			breakOrder:    func(*world) {},
			wantChecks:    map[string]int{checkCompleted: 3},
			wantViolation: []string{"order c1 ", "shipment is none"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			total := w.complete(placed("good"))
			w.ended(placed("good"), workflows.Completed)
			tt.breakOrder(w)
			w.ended(c1, workflows.Completed)

			r := w.audit()

			wantChecks(t, r, tt.wantChecks)
			wantViolation(t, r, tt.wantViolation...)
			for _, v := range r.Violations {
				if strings.Contains(v, "order good") {
					t.Errorf("the intact order is blamed: %s", v)
				}
			}
			if r.OrdersEnded[workflows.Completed] != 2 {
				t.Errorf("OrdersEnded = %v, want 2 COMPLETED", r.OrdersEnded)
			}
			if r.CompletedCents < total {
				t.Errorf("CompletedCents = %d, want at least the intact order's %d", r.CompletedCents, total)
			}
		})
	}
}

// TestUndoneOrderBroken leaves one thing held by a FAILED or CANCELLED
// order at a time.
func TestUndoneOrderBroken(t *testing.T) {
	u1 := placed("u1")
	tests := []struct {
		name string
		// leave runs order u1's steps and its compensations, except one.
		leave         func(w *world, total int64)
		wantChecks    map[string]int
		wantViolation []string
	}{
		{
			name: "reservation still active",
			leave: func(w *world, total int64) {
				w.charge(u1, total)
				w.refund(u1)
				w.cancelShipment(u1)
			},
			wantChecks:    map[string]int{checkUndone: 1},
			wantViolation: []string{"reservation", "still holds stock"},
		},
		{
			name: "charge still captured",
			leave: func(w *world, total int64) {
				w.charge(u1, total)
				w.cancelShipment(u1)
				w.release(u1)
			},
			wantChecks:    map[string]int{checkUndone: 1, checkMoney: 1},
			wantViolation: []string{"charge", "still captured ($65.97)"},
		},
		{
			name: "shipment still active",
			leave: func(w *world, total int64) {
				w.charge(u1, total)
				w.ship(u1)
				w.refund(u1)
				w.release(u1)
			},
			wantChecks:    map[string]int{checkUndone: 1},
			wantViolation: []string{"shipment", "still active"},
		},
		{
			name: "nothing undone",
			leave: func(w *world, total int64) {
				w.charge(u1, total)
				w.ship(u1)
			},
			wantChecks:    map[string]int{checkUndone: 3, checkMoney: 1},
			wantViolation: []string{"still holds stock"},
		},
	}
	for _, status := range []workflows.Status{workflows.Failed, workflows.Cancelled} {
		for _, tt := range tests {
			t.Run(string(status)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				good := w.complete(placed("good"))
				w.ended(placed("good"), workflows.Completed)
				tt.leave(w, w.reserve(u1))
				w.ended(u1, status)

				r := w.audit()

				wantChecks(t, r, tt.wantChecks)
				wantViolation(t, r, append([]string{"order u1 (workflow order-u1, run p-u1) (" + string(status) + ")"}, tt.wantViolation...)...)
				if r.OrdersEnded[status] != 1 || r.OrdersEnded[workflows.Completed] != 1 {
					t.Errorf("OrdersEnded = %v, want 1 COMPLETED and 1 %s", r.OrdersEnded, status)
				}
				if r.CompletedCents != good {
					t.Errorf("CompletedCents = %d, want %d (the undone order's total is not counted)", r.CompletedCents, good)
				}
			})
		}
	}
}

// TestStockDrift changes stock on hand behind the store's back, through a
// second connection to its file: units received no longer equal on hand +
// reserved, and the audit names the SKU and the drift.
func TestStockDrift(t *testing.T) {
	w := newWorld(t)
	w.complete(placed("good")) // holds 2 mugs and a book in an active reservation
	w.ended(placed("good"), workflows.Completed)

	db, err := sql.Open("sqlite", filepath.Join(w.dir, inventory.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(w.ctx, `UPDATE products SET on_hand = on_hand - 7 WHERE sku = 'MUG-GOPHER'`); err != nil {
		t.Fatalf("change stock behind the store's back: %v", err)
	}

	r := w.audit()

	wantChecks(t, r, map[string]int{checkStock: 1})
	wantViolation(t, r, "SKU MUG-GOPHER", "received 1000000", "on hand 999991 + reserved 2", "drift -7")
	for _, v := range r.Violations {
		if strings.Contains(v, "BOOK-GOPL") {
			t.Errorf("a SKU without drift is blamed: %s", v)
		}
	}
}

// TestOrderEndedOutsideTheSaga: a workflow terminated while it waited out
// the cancel window left its order AWAITING_FULFILLMENT, holding stock and
// money.
func TestOrderEndedOutsideTheSaga(t *testing.T) {
	w := newWorld(t)
	t1 := placed("t1")
	total := w.reserve(t1)
	w.charge(t1, total)
	w.temporal.add(audit.OrderRun{WorkflowID: t1.workflowID, RunID: t1.placement, Status: "Terminated", OrderStatus: workflows.AwaitingFulfillment, Placed: true})

	r := w.audit()

	// Its captured charge counts as captured, not as completed: the money
	// check fails with it.
	wantChecks(t, r, map[string]int{checkEnded: 1, checkMoney: 1})
	wantViolation(t, r, "order t1", "Terminated", string(workflows.AwaitingFulfillment), "reservation reserved", "charge captured")
	if r.CapturedCents != total || r.CompletedCents != 0 {
		t.Errorf("CapturedCents = %d, CompletedCents = %d, want %d and 0", r.CapturedCents, r.CompletedCents, total)
	}
}

// TestRunningOrderNotJudged: an order still running holds stock and money
// mid-way; it is counted, not judged, and its charge is not counted. One
// in NEEDS_ATTENTION is listed, with its age, though it is not overdue.
func TestRunningOrderNotJudged(t *testing.T) {
	w := newWorld(t)
	good := w.complete(placed("good"))
	w.ended(placed("good"), workflows.Completed)
	r1 := placed("r1")
	w.charge(r1, w.reserve(r1))
	w.running(r1, workflows.AwaitingFulfillment, audit.Inspection{LastEventAt: now.Add(-2 * time.Hour), LastEvent: "TimerStarted", TimerDue: now.Add(time.Hour)})
	r2 := placed("r2")
	w.reserve(r2)
	w.running(r2, workflows.NeedsAttention, audit.Inspection{LastEventAt: now.Add(-10 * time.Minute), LastEvent: "UpsertWorkflowSearchAttributes"})

	r := w.audit()

	wantChecks(t, r, nil)
	if r.OrdersRunning != 2 {
		t.Errorf("OrdersRunning = %d, want 2", r.OrdersRunning)
	}
	if len(r.Stuck) != 1 || r.Stuck[0].OrderID != "r2" || r.Stuck[0].Kind != audit.KindNeedsAttention || r.Stuck[0].For != "10m0s" || r.Stuck[0].Overdue {
		t.Errorf("Stuck = %+v, want r2 needing attention for 10m, not overdue", r.Stuck)
	}
	if want := map[workflows.Status]int{workflows.Completed: 1}; !maps.Equal(r.OrdersEnded, want) {
		t.Errorf("OrdersEnded = %v, want %v", r.OrdersEnded, want)
	}
	if r.CapturedCents != good || r.CompletedCents != good {
		t.Errorf("CapturedCents = %d, CompletedCents = %d, want both %d (the running order's charge not counted)", r.CapturedCents, r.CompletedCents, good)
	}
}

// TestForgottenOrdersJudgedByTheStoresAlone: records of placements that
// Temporal no longer lists (retention, a deleted workflow) are judged by
// themselves: everything live, or nothing.
func TestForgottenOrdersJudgedByTheStoresAlone(t *testing.T) {
	f := placed("f1")
	tests := []struct {
		name          string
		leave         func(w *world)
		wantCompleted int
		wantUndone    int
		wantChecks    map[string]int
		wantViolation []string
	}{
		{name: "completed", leave: func(w *world) { w.complete(f) }, wantCompleted: 1},
		{name: "declined", leave: func(w *world) { w.failDeclined(f) }, wantUndone: 1},
		{name: "undone at shipping", leave: func(w *world) { w.failAtShipping(f) }, wantUndone: 1},
		{name: "cancelled", leave: func(w *world) { w.cancel(f) }, wantUndone: 1},
		{
			name: "half undone",
			leave: func(w *world) {
				w.complete(f)
				w.cancelShipment(f)
				w.refund(f)
			},
			wantChecks:    map[string]int{checkForgotten: 1},
			wantViolation: []string{"order f1 (workflow order-f1, placement p-f1), forgotten by Temporal", "reservation reserved, charge refunded, shipment cancelled", "neither completed nor undone"},
		},
		{
			name:          "charged, never shipped",
			leave:         func(w *world) { w.charge(f, w.reserve(f)) },
			wantChecks:    map[string]int{checkForgotten: 1, checkMoney: 1},
			wantViolation: []string{"order f1", "reservation reserved, charge captured, shipment none"},
		},
		{
			name: "everything live but the wrong amount",
			leave: func(w *world) {
				w.charge(f, w.reserve(f)+5)
				w.ship(f)
			},
			wantCompleted: 1,
			wantChecks:    map[string]int{checkForgotten: 1, checkMoney: 1},
			wantViolation: []string{"order f1", "everything live", "charge captured $66.02, the reservation's total is $65.97"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.leave(w)

			r := w.audit()

			wantChecks(t, r, tt.wantChecks)
			if len(tt.wantViolation) > 0 {
				wantViolation(t, r, tt.wantViolation...)
			}
			if r.ForgottenCompleted != tt.wantCompleted || r.ForgottenUndone != tt.wantUndone {
				t.Errorf("forgotten completed %d, undone %d; want %d and %d", r.ForgottenCompleted, r.ForgottenUndone, tt.wantCompleted, tt.wantUndone)
			}
		})
	}
}

// TestHalfDoneOrderThatStartedDuringTheAudit: records mid-way of a
// placement that Temporal did not list, but runs now, started after the
// list: the next audit judges it.
func TestHalfDoneOrderThatStartedDuringTheAudit(t *testing.T) {
	w := newWorld(t)
	late := placed("late")
	w.reserve(late)
	w.temporal.current[late.workflowID] = late.placement

	r := w.audit()

	wantChecks(t, r, nil)
	if r.StartedDuringAudit != 1 || r.ForgottenCompleted+r.ForgottenUndone != 0 {
		t.Errorf("started during the audit %d, forgotten %d+%d; want 1, 0", r.StartedDuringAudit, r.ForgottenCompleted, r.ForgottenUndone)
	}
}

// TestReusedOrderIDJudgedPlacementByPlacement is the reuse of an order ID
// after Temporal forgot its first order: the first placement's records are
// judged by themselves (completed), the second placement, refused before
// any step, by Temporal (FAILED, holding nothing).
func TestReusedOrderIDJudgedPlacementByPlacement(t *testing.T) {
	w := newWorld(t)
	first := placed("r1")
	w.complete(first)
	second := order{id: "r1", workflowID: first.workflowID, placement: "p-r1-again"}
	w.ended(second, workflows.Failed)

	r := w.audit()

	wantChecks(t, r, nil)
	if r.ForgottenCompleted != 1 || r.OrdersEnded[workflows.Failed] != 1 || r.OrdersEnded[workflows.Completed] != 0 {
		t.Errorf("forgotten completed %d, ended %v; want the first placement completed by the stores, the second FAILED by Temporal",
			r.ForgottenCompleted, r.OrdersEnded)
	}
}

// TestResetRunsJudgedOnce: a reset leaves the placement's first run
// terminated and a new run that continues it; the placement is judged
// once, by its latest run.
func TestResetRunsJudgedOnce(t *testing.T) {
	w := newWorld(t)
	o := placed("reset")
	w.complete(o)
	w.temporal.add(audit.OrderRun{WorkflowID: o.workflowID, RunID: o.placement, Start: now.Add(-time.Hour), Status: "Terminated", OrderStatus: workflows.Charging, Placed: true})
	w.temporal.add(audit.OrderRun{WorkflowID: o.workflowID, RunID: "run-after-reset", Start: now.Add(-50 * time.Minute), Status: "Completed", OrderStatus: workflows.Completed, Placed: true})
	w.temporal.firstRunIDs["run-after-reset"] = o.placement

	r := w.audit()

	wantChecks(t, r, nil)
	if want := map[workflows.Status]int{workflows.Completed: 1}; !maps.Equal(r.OrdersEnded, want) {
		t.Errorf("OrdersEnded = %v, want %v", r.OrdersEnded, want)
	}
}

// TestRawClientWorkflowID: a workflow started by a raw client under an ID
// that is not "order-<ID>" is judged by the keys it really wrote.
func TestRawClientWorkflowID(t *testing.T) {
	for _, broken := range []bool{false, true} {
		t.Run(fmt.Sprintf("broken=%v", broken), func(t *testing.T) {
			w := newWorld(t)
			raw := order{id: "7", workflowID: "shop/7", placement: "p-raw"}
			w.reserve(raw)
			w.charge(raw, orderTotal)
			if !broken {
				w.ship(raw)
			}
			w.ended(raw, workflows.Completed)

			r := w.audit()

			if !broken {
				wantChecks(t, r, nil)
				return
			}
			wantChecks(t, r, map[string]int{checkCompleted: 1})
			wantViolation(t, r, "order 7 (workflow shop/7, run p-raw) (COMPLETED)", "shipment is none")
		})
	}
}

// TestRecordsBeforePlacements: records without a placement belong to the
// run of their workflow that started before placements; once Temporal has
// forgotten it, they are judged by themselves, even beside a later
// placement of the same order ID.
func TestRecordsBeforePlacements(t *testing.T) {
	legacy := order{id: "old", workflowID: ordersaga.WorkflowID("old")}
	t.Run("known to Temporal", func(t *testing.T) {
		w := newWorld(t)
		w.reserve(legacy)
		w.charge(legacy, orderTotal)
		w.temporal.add(audit.OrderRun{WorkflowID: legacy.workflowID, RunID: "legacy-run", Status: "Completed", OrderStatus: workflows.Completed})

		r := w.audit()

		wantChecks(t, r, map[string]int{checkCompleted: 1})
		wantViolation(t, r, "order old (workflow order-old, run legacy-run) (COMPLETED)", "shipment is none")
	})
	t.Run("forgotten, beside a later placement", func(t *testing.T) {
		w := newWorld(t)
		w.complete(legacy)
		w.ended(order{id: "old", workflowID: legacy.workflowID, placement: "p-later"}, workflows.Failed)

		r := w.audit()

		wantChecks(t, r, nil)
		if r.ForgottenCompleted != 1 || r.OrdersEnded[workflows.Failed] != 1 {
			t.Errorf("forgotten completed %d, ended %v; want 1 and 1 FAILED", r.ForgottenCompleted, r.OrdersEnded)
		}
	})
}

// TestOrdersDeletedDuringTheAudit: runs that Temporal lists and then no
// longer has (retention, a delete) do not abort the audit.
func TestOrdersDeletedDuringTheAudit(t *testing.T) {
	w := newWorld(t)
	// A running order deleted before its closer look.
	gone := placed("gone")
	w.reserve(gone)
	w.running(gone, workflows.Reserving, audit.Inspection{})
	w.temporal.gone[gone.placement] = true
	// A reset order whose later run is deleted before the audit asks
	// which placement it continues.
	o := placed("reset")
	w.complete(o)
	w.ended(o, workflows.Completed)
	w.temporal.add(audit.OrderRun{WorkflowID: o.workflowID, RunID: "deleted-run", Status: "Completed", OrderStatus: workflows.Completed, Placed: true})
	w.temporal.gone["deleted-run"] = true

	r := w.audit()

	wantChecks(t, r, nil)
	if r.OrdersEnded[workflows.Completed] != 1 {
		t.Errorf("OrdersEnded = %v, want the reset order once", r.OrdersEnded)
	}
}

// TestStuckOrders: what holds a running order, for how long, what to do;
// over the threshold it fails the audit.
func TestStuckOrders(t *testing.T) {
	const threshold = 30 * time.Minute
	tests := []struct {
		name        string
		status      workflows.Status
		in          audit.Inspection
		wantKind    string // "" means not listed
		wantOverdue bool
		wantDetail  []string
	}{
		{
			name:   "waiting out its cancel window",
			status: workflows.AwaitingFulfillment,
			in:     audit.Inspection{LastEventAt: now.Add(-6 * time.Hour), LastEvent: "TimerStarted", TimerDue: now.Add(time.Hour)},
		},
		{
			name:        "its cancel window long past",
			status:      workflows.AwaitingFulfillment,
			in:          audit.Inspection{LastEventAt: now.Add(-6 * time.Hour), LastEvent: "TimerStarted", TimerDue: now.Add(-time.Hour)},
			wantKind:    audit.KindNoProgress,
			wantOverdue: true,
			wantDetail:  []string{"for 1h0m0s", "no event since", "TimerStarted"},
		},
		{
			name:   "a step under way",
			status: workflows.Charging,
			in: audit.Inspection{LastEventAt: now.Add(-time.Minute), LastEvent: "ActivityTaskScheduled",
				Activities: []audit.PendingActivity{{Type: "ChargePayment", ScheduledAt: now.Add(-time.Minute)}}},
		},
		{
			name:   "no payment worker",
			status: workflows.Charging,
			in: audit.Inspection{LastEventAt: now.Add(-time.Hour), LastEvent: "ActivityTaskScheduled",
				Activities: []audit.PendingActivity{{Type: "ChargePayment", ScheduledAt: now.Add(-time.Hour)}}},
			wantKind:    audit.KindNoServiceWorker,
			wantOverdue: true,
			wantDetail:  []string{`ChargePayment waits for a payment worker on task queue "payment"`, "worker run --services payment"},
		},
		{
			name:   "a refund failing for an hour",
			status: workflows.Compensating,
			in: audit.Inspection{LastEventAt: now.Add(-time.Hour), LastEvent: "ActivityTaskScheduled",
				Activities: []audit.PendingActivity{{Type: "RefundPayment", Started: true, Attempt: 40, LastFailure: "database is locked"}}},
			wantKind:    audit.KindActivityFailing,
			wantOverdue: true,
			wantDetail:  []string{"RefundPayment has failed 39 times; last: database is locked"},
		},
		{
			name:   "no order worker",
			status: workflows.Reserving,
			in: audit.Inspection{LastEventAt: now.Add(-2 * time.Hour), LastEvent: "ActivityTaskCompleted",
				WorkflowTask: &audit.PendingTask{ScheduledAt: now.Add(-2 * time.Hour), Attempt: 1}},
			wantKind:    audit.KindNoOrderWorker,
			wantOverdue: true,
			wantDetail:  []string{`task queue "orders"`, "worker run --services order"},
		},
		{
			name:   "workflow task failing, just now",
			status: workflows.Charging,
			in: audit.Inspection{LastEventAt: now.Add(-time.Minute), LastEvent: "WorkflowTaskFailed",
				WorkflowTask: &audit.PendingTask{ScheduledAt: now.Add(-time.Minute), Attempt: 3, LastFailure: "NonDeterministicError: [TMPRL1100] nondeterministic workflow"}},
			wantKind:   audit.KindTaskFailing,
			wantDetail: []string{"failed 2 times", "TMPRL1100", "roll back"},
		},
		{
			name:   "workflow task failing for hours",
			status: workflows.Charging,
			in: audit.Inspection{LastEventAt: now.Add(-3 * time.Hour), LastEvent: "WorkflowTaskFailed",
				WorkflowTask: &audit.PendingTask{ScheduledAt: now.Add(-3 * time.Hour), Attempt: 90}},
			wantKind:    audit.KindTaskFailing,
			wantOverdue: true,
		},
		{
			name:        "needs attention for a day",
			status:      workflows.NeedsAttention,
			in:          audit.Inspection{LastEventAt: now.Add(-24 * time.Hour), LastEvent: "UpsertWorkflowSearchAttributes"},
			wantKind:    audit.KindNeedsAttention,
			wantOverdue: true,
			wantDetail:  []string{"for 24h0m0s", "starter status s1", "starter resume s1"},
		},
		{
			name:        "nothing pending, no event for an hour",
			status:      workflows.Reserving,
			in:          audit.Inspection{LastEventAt: now.Add(-time.Hour), LastEvent: "WorkflowTaskCompleted"},
			wantKind:    audit.KindNoProgress,
			wantOverdue: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.running(placed("s1"), tt.status, tt.in)

			r, err := audit.Run(w.ctx, w.stores, w.temporal, audit.Options{StuckAfter: threshold, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}

			if tt.wantKind == "" {
				if len(r.Stuck) != 0 {
					t.Errorf("Stuck = %+v, want none", r.Stuck)
				}
				return
			}
			if len(r.Stuck) != 1 {
				t.Fatalf("Stuck = %+v, want one %s", r.Stuck, tt.wantKind)
			}
			s := r.Stuck[0]
			line := fmt.Sprintf("for %s: %s; %s", s.For, s.Detail, s.Action)
			if s.Kind != tt.wantKind || s.Overdue != tt.wantOverdue || s.OrderID != "s1" || s.WorkflowID != "order-s1" || !containsAll(line, tt.wantDetail) {
				t.Errorf("stuck = %+v, want kind %s, overdue %v, saying %q", s, tt.wantKind, tt.wantOverdue, tt.wantDetail)
			}
			if r.OK() == tt.wantOverdue {
				t.Errorf("OK() = %v with an order stuck (overdue %v)", r.OK(), tt.wantOverdue)
			}
		})
	}
}

// TestAuditCannotReadReportsWhat: an audit that cannot read a store or
// Temporal fails, saying which, rather than reporting on half the data.
func TestAuditCannotReadReportsWhat(t *testing.T) {
	for _, name := range []string{"inventory", "payment", "shipping", "Temporal"} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			var err error
			switch name {
			case "inventory":
				err = w.stores.Inventory.Close()
			case "payment":
				err = w.stores.Payment.Close()
			case "shipping":
				err = w.stores.Shipping.Close()
			case "Temporal":
				w.temporal.listErr = errors.New("list orders in Temporal: connection refused")
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = audit.Run(w.ctx, w.stores, w.temporal, audit.Options{})
			want := "audit " + name
			if name == "Temporal" {
				want = "list orders in Temporal"
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("audit.Run with %s unreadable: err = %v, want one naming %q", name, err, want)
			}
		})
	}
}
