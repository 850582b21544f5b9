package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver, for changing a store behind its back

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/workflows"
)

// The checks the audit reports, by name.
const (
	checkStock     = "stock"
	checkCompleted = "completed orders"
	checkUndone    = "failed and cancelled orders"
	checkEnded     = "orders ended by the saga"
	checkMoney     = "money"
)

var allChecks = []string{checkStock, checkCompleted, checkUndone, checkEnded, checkMoney}

// catalogSKUs is how many SKUs the shipped catalog.json seeds.
const catalogSKUs = 5

// world is the three services' real stores in a temporary directory, with
// the steps of an order's saga as the services would apply them.
type world struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	stores audit.Stores
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w := &world{t: t, ctx: ctx, dir: dir}
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

// key is the idempotency key of an order's step, as the workflow makes it.
func key(orderID, step string) string { return ordersaga.WorkflowID(orderID) + "/" + step }

// orderTotal is what reserve's items cost: 2 gopher mugs at $12.99 and a
// book at $39.99, $65.97.
const orderTotal = 2*1299 + 3999

// reserve reserves 2 gopher mugs and 1 book for the order and returns the
// reservation's total, which is the order's total.
func (w *world) reserve(id string) int64 {
	w.t.Helper()
	res, err := w.stores.Inventory.Reserve(w.ctx, inventory.ReserveRequest{
		Key: key(id, workflows.StepReserve), OrderID: id,
		Items: []inventory.Item{{SKU: "MUG-GOPHER", Qty: 2}, {SKU: "BOOK-GOPL", Qty: 1}},
	})
	if err != nil {
		w.t.Fatalf("reserve order %s: %v", id, err)
	}
	return res.TotalCents
}

func (w *world) release(id string) {
	w.t.Helper()
	if _, err := w.stores.Inventory.Release(w.ctx, inventory.ReleaseRequest{Key: key(id, workflows.StepReserve), OrderID: id}); err != nil {
		w.t.Fatalf("release order %s: %v", id, err)
	}
}

// charge captures cents for the order.
func (w *world) charge(id string, cents int64) {
	w.t.Helper()
	c, err := w.stores.Payment.Charge(w.ctx, payment.ChargeRequest{
		Key: key(id, workflows.StepCharge), OrderID: id, AmountCents: cents, Token: payment.TokenVisa,
	}, 1)
	if err != nil || c.Status != payment.Captured {
		w.t.Fatalf("charge order %s: %+v, %v", id, c, err)
	}
}

// decline records a declined charge for the order.
func (w *world) decline(id string, cents int64) {
	w.t.Helper()
	_, err := w.stores.Payment.Charge(w.ctx, payment.ChargeRequest{
		Key: key(id, workflows.StepCharge), OrderID: id, AmountCents: cents, Token: payment.TokenDeclined,
	}, 1)
	if !errors.Is(err, payment.ErrDeclined) {
		w.t.Fatalf("charge order %s with a declined card: got %v, want %v", id, err, payment.ErrDeclined)
	}
}

func (w *world) refund(id string) {
	w.t.Helper()
	if _, err := w.stores.Payment.Refund(w.ctx, payment.RefundRequest{Key: key(id, workflows.StepCharge), OrderID: id}); err != nil {
		w.t.Fatalf("refund order %s: %v", id, err)
	}
}

func (w *world) ship(id string) {
	w.t.Helper()
	if _, err := w.stores.Shipping.Ship(w.ctx, shipping.ShipRequest{
		Key: key(id, workflows.StepShip), OrderID: id, Address: "1 Gopher Way, Springfield",
		Items: []shipping.Parcel{{SKU: "MUG-GOPHER", Qty: 2}, {SKU: "BOOK-GOPL", Qty: 1}},
	}); err != nil {
		w.t.Fatalf("ship order %s: %v", id, err)
	}
}

func (w *world) cancelShipment(id string) {
	w.t.Helper()
	if _, err := w.stores.Shipping.Cancel(w.ctx, shipping.CancelRequest{Key: key(id, workflows.StepShip), OrderID: id}); err != nil {
		w.t.Fatalf("cancel shipment of order %s: %v", id, err)
	}
}

// The ends of the saga, as the workflow leaves the stores.

// completed reserves, charges the total and ships.
func (w *world) completed(id string) audit.Order {
	total := w.reserve(id)
	w.charge(id, total)
	w.ship(id)
	return ended(id, workflows.Completed, total)
}

// failedDeclined: the card was declined, the stock released.
func (w *world) failedDeclined(id string) audit.Order {
	total := w.reserve(id)
	w.decline(id, total)
	w.release(id)
	return ended(id, workflows.Failed, total)
}

// failedAtShipping: the shipment was booked but its step failed (a
// timeout), so everything was undone, LIFO.
func (w *world) failedAtShipping(id string) audit.Order {
	total := w.reserve(id)
	w.charge(id, total)
	w.ship(id)
	w.cancelShipment(id)
	w.refund(id)
	w.release(id)
	return ended(id, workflows.Failed, total)
}

// cancelled in the cancel window: refunded, released, and the shipment
// key voided although nothing was shipped.
func (w *world) cancelled(id string) audit.Order {
	total := w.reserve(id)
	w.charge(id, total)
	w.cancelShipment(id)
	w.refund(id)
	w.release(id)
	return ended(id, workflows.Cancelled, total)
}

func ended(id string, status workflows.Status, total int64) audit.Order {
	temporal := map[workflows.Status]string{workflows.Completed: "Completed", workflows.Failed: "Failed", workflows.Cancelled: "Canceled"}[status]
	return audit.Order{ID: id, Status: status, TotalCents: total, TemporalStatus: temporal}
}

func (w *world) audit(orders ...audit.Order) audit.Report {
	w.t.Helper()
	r, err := audit.Run(w.ctx, w.stores, orders)
	if err != nil {
		w.t.Fatalf("audit.Run: %v", err)
	}
	return r
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
		total += want[name]
	}
	if len(r.Violations) != total {
		t.Errorf("%d violation(s), want %d:\n%s", len(r.Violations), total, strings.Join(r.Violations, "\n"))
	}
	if r.OK() != (total == 0) {
		t.Errorf("OK() = %v with violations %q", r.OK(), r.Violations)
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
	orders := []audit.Order{
		w.completed("1"),
		w.failedDeclined("2"),
		w.failedAtShipping("3"),
		w.cancelled("4"),
		w.completed("5"),
	}

	r := w.audit(orders...)

	wantChecks(t, r, nil)
	wantEnded := map[workflows.Status]int{workflows.Completed: 2, workflows.Failed: 2, workflows.Cancelled: 1}
	if !maps.Equal(r.OrdersEnded, wantEnded) {
		t.Errorf("OrdersEnded = %v, want %v", r.OrdersEnded, wantEnded)
	}
	wantCents := orders[0].TotalCents + orders[4].TotalCents
	if r.CompletedCents != wantCents || r.CapturedCents != wantCents {
		t.Errorf("CapturedCents = %d, CompletedCents = %d, want both %d", r.CapturedCents, r.CompletedCents, wantCents)
	}
	if r.OrdersRunning != 0 || r.UnknownOrders != 0 {
		t.Errorf("OrdersRunning = %d, UnknownOrders = %d, want 0 and 0", r.OrdersRunning, r.UnknownOrders)
	}
	if r.SKUs != catalogSKUs {
		t.Errorf("SKUs = %d, want %d", r.SKUs, catalogSKUs)
	}
	if r.Violations == nil {
		t.Error("Violations is nil, want an empty list (JSON [] rather than null)")
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
	tests := []struct {
		name string
		// breakOrder leaves the stores of order "c1" broken and returns
		// its total.
		breakOrder    func(w *world) int64
		wantChecks    map[string]int
		wantViolation []string
	}{
		{
			name: "reservation released",
			breakOrder: func(w *world) int64 {
				total := w.reserve("c1")
				w.charge("c1", total)
				w.ship("c1")
				w.release("c1")
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "reservation", `"released"`},
		},
		{
			name: "reservation missing",
			breakOrder: func(w *world) int64 {
				total := w.reserve("other")
				w.charge("c1", total)
				w.ship("c1")
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", `reservation is ""`},
		},
		{
			name: "charge missing",
			breakOrder: func(w *world) int64 {
				total := w.reserve("c1")
				w.ship("c1")
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", `charge is ""`},
		},
		{
			name: "charge declined",
			breakOrder: func(w *world) int64 {
				total := w.reserve("c1")
				w.decline("c1", total)
				w.ship("c1")
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", `charge is "declined"`},
		},
		{
			name: "charge refunded",
			breakOrder: func(w *world) int64 {
				total := w.reserve("c1")
				w.charge("c1", total)
				w.refund("c1")
				w.ship("c1")
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", `charge is "refunded"`},
		},
		{
			name: "captured less than the total",
			breakOrder: func(w *world) int64 {
				total := w.reserve("c1")
				w.charge("c1", total-100)
				w.ship("c1")
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "charge captured $64.97, order total is $65.97"},
		},
		{
			name: "captured more than the total",
			breakOrder: func(w *world) int64 {
				total := w.reserve("c1")
				w.charge("c1", total+1)
				w.ship("c1")
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1, checkMoney: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", "charge captured $65.98, order total is $65.97"},
		},
		{
			name: "shipment missing",
			breakOrder: func(w *world) int64 {
				total := w.reserve("c1")
				w.charge("c1", total)
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", `shipment is ""`},
		},
		{
			name: "shipment cancelled",
			breakOrder: func(w *world) int64 {
				total := w.reserve("c1")
				w.charge("c1", total)
				w.ship("c1")
				w.cancelShipment("c1")
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", `shipment is "cancelled"`},
		},
		{
			name: "shipment voided",
			breakOrder: func(w *world) int64 {
				total := w.reserve("c1")
				w.charge("c1", total)
				w.cancelShipment("c1")
				return total
			},
			wantChecks:    map[string]int{checkCompleted: 1},
			wantViolation: []string{"order c1 ", "COMPLETED", `shipment is "voided"`},
		},
		{
			name: "nothing at all",
			breakOrder: func(w *world) int64 {
				return orderTotal
			},
			wantChecks:    map[string]int{checkCompleted: 3, checkMoney: 1},
			wantViolation: []string{"order c1 ", `shipment is ""`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			good := w.completed("good")
			total := tt.breakOrder(w)
			if total != orderTotal {
				t.Fatalf("order total %d: the expected messages assume %d", total, orderTotal)
			}

			r := w.audit(good, ended("c1", workflows.Completed, total))

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
			if r.CompletedCents != 2*total {
				t.Errorf("CompletedCents = %d, want %d", r.CompletedCents, 2*total)
			}
		})
	}
}

// TestMoneyMismatch: captured charges that do not add up to the completed
// orders' totals fail the money check, which names both sums.
func TestMoneyMismatch(t *testing.T) {
	w := newWorld(t)
	total := w.reserve("m1")
	w.charge("m1", total-100)
	w.ship("m1")

	r := w.audit(ended("m1", workflows.Completed, total))

	wantChecks(t, r, map[string]int{checkCompleted: 1, checkMoney: 1})
	if r.CapturedCents != total-100 || r.CompletedCents != total {
		t.Errorf("CapturedCents = %d, CompletedCents = %d, want %d and %d", r.CapturedCents, r.CompletedCents, total-100, total)
	}
	wantViolation(t, r, "money", workflows.FormatCents(total-100), workflows.FormatCents(total))
}

// TestUndoneOrderBroken leaves one thing held by a FAILED or CANCELLED
// order at a time.
func TestUndoneOrderBroken(t *testing.T) {
	tests := []struct {
		name string
		// leave runs the order "u1" and its compensations, except one.
		leave         func(w *world, total int64)
		wantChecks    map[string]int
		wantViolation []string
	}{
		{
			name: "reservation still active",
			leave: func(w *world, total int64) {
				w.charge("u1", total)
				w.refund("u1")
				w.cancelShipment("u1")
			},
			wantChecks:    map[string]int{checkUndone: 1},
			wantViolation: []string{"reservation", "still holds stock"},
		},
		{
			name: "charge still captured",
			leave: func(w *world, total int64) {
				w.charge("u1", total)
				w.cancelShipment("u1")
				w.release("u1")
			},
			wantChecks:    map[string]int{checkUndone: 1, checkMoney: 1},
			wantViolation: []string{"charge", "still captured ($65.97)"},
		},
		{
			name: "shipment still active",
			leave: func(w *world, total int64) {
				w.charge("u1", total)
				w.ship("u1")
				w.refund("u1")
				w.release("u1")
			},
			wantChecks:    map[string]int{checkUndone: 1},
			wantViolation: []string{"shipment", "still active"},
		},
		{
			name: "nothing undone",
			leave: func(w *world, total int64) {
				w.charge("u1", total)
				w.ship("u1")
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
				good := w.completed("good")
				total := w.reserve("u1")
				tt.leave(w, total)

				r := w.audit(good, ended("u1", status, total))

				wantChecks(t, r, tt.wantChecks)
				wantViolation(t, r, append([]string{"order u1 (" + string(status) + ")"}, tt.wantViolation...)...)
				if r.OrdersEnded[status] != 1 || r.OrdersEnded[workflows.Completed] != 1 {
					t.Errorf("OrdersEnded = %v, want 1 COMPLETED and 1 %s", r.OrdersEnded, status)
				}
				if r.CompletedCents != good.TotalCents {
					t.Errorf("CompletedCents = %d, want %d (the undone order's total is not counted)", r.CompletedCents, good.TotalCents)
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
	good := w.completed("good") // holds 2 mugs and a book in an active reservation

	db, err := sql.Open("sqlite", filepath.Join(w.dir, inventory.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(w.ctx, `UPDATE products SET on_hand = on_hand - 7 WHERE sku = 'MUG-GOPHER'`); err != nil {
		t.Fatalf("change stock behind the store's back: %v", err)
	}

	r := w.audit(good)

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
	total := w.reserve("t1")
	w.charge("t1", total)
	terminated := audit.Order{ID: "t1", Status: workflows.AwaitingFulfillment, TotalCents: total, TemporalStatus: "Terminated"}

	r := w.audit(terminated)

	// Its captured charge counts as captured, not as completed: the money
	// check fails with it.
	wantChecks(t, r, map[string]int{checkEnded: 1, checkMoney: 1})
	wantViolation(t, r, "order t1", "Terminated", string(workflows.AwaitingFulfillment), `reservation "reserved"`, `charge "captured"`)
	if r.OrdersEnded[workflows.AwaitingFulfillment] != 1 {
		t.Errorf("OrdersEnded = %v, want 1 %s", r.OrdersEnded, workflows.AwaitingFulfillment)
	}
	if r.CapturedCents != total || r.CompletedCents != 0 {
		t.Errorf("CapturedCents = %d, CompletedCents = %d, want %d and 0", r.CapturedCents, r.CompletedCents, total)
	}
}

// TestRunningOrderSkipped: an order still running holds stock and money
// mid-way; it is counted, not judged, and its charge is not counted.
func TestRunningOrderSkipped(t *testing.T) {
	w := newWorld(t)
	good := w.completed("good")
	total := w.reserve("r1")
	w.charge("r1", total)
	running := audit.Order{ID: "r1", Status: workflows.AwaitingFulfillment, TotalCents: total, Running: true, TemporalStatus: "Running"}
	w.reserve("r2")
	stuck := audit.Order{ID: "r2", Status: workflows.NeedsAttention, Running: true, TemporalStatus: "Running"}

	r := w.audit(good, running, stuck)

	wantChecks(t, r, nil)
	if r.OrdersRunning != 2 {
		t.Errorf("OrdersRunning = %d, want 2", r.OrdersRunning)
	}
	if !slices.Equal(r.NeedsAttention, []string{"r2"}) {
		t.Errorf("NeedsAttention = %q, want r2 alone", r.NeedsAttention)
	}
	if want := map[workflows.Status]int{workflows.Completed: 1}; !maps.Equal(r.OrdersEnded, want) {
		t.Errorf("OrdersEnded = %v, want %v", r.OrdersEnded, want)
	}
	if r.CapturedCents != good.TotalCents || r.CompletedCents != good.TotalCents {
		t.Errorf("CapturedCents = %d, CompletedCents = %d, want both %d (the running order's charge not counted)",
			r.CapturedCents, r.CompletedCents, good.TotalCents)
	}
	if r.UnknownOrders != 0 {
		t.Errorf("UnknownOrders = %d, want 0: a running order is known", r.UnknownOrders)
	}
}

// TestUnknownOrdersCounted: records of orders Temporal does not list (aged
// out of retention) are counted and not judged, even if they would break
// every promise.
func TestUnknownOrdersCounted(t *testing.T) {
	w := newWorld(t)
	good := w.completed("good")
	// ghost-1 holds stock and money with no shipment; ghost-2 is only a
	// voided shipment key; ghost-3 only a captured charge.
	total := w.reserve("ghost-1")
	w.charge("ghost-1", total)
	w.cancelShipment("ghost-2")
	w.charge("ghost-3", 500)

	r := w.audit(good)

	wantChecks(t, r, nil)
	if r.UnknownOrders != 3 {
		t.Errorf("UnknownOrders = %d, want 3", r.UnknownOrders)
	}
	if r.CapturedCents != good.TotalCents {
		t.Errorf("CapturedCents = %d, want %d (unknown orders' charges not counted)", r.CapturedCents, good.TotalCents)
	}
	if want := map[workflows.Status]int{workflows.Completed: 1}; !maps.Equal(r.OrdersEnded, want) {
		t.Errorf("OrdersEnded = %v, want %v", r.OrdersEnded, want)
	}
}

// TestStoreErrorReported: an audit that cannot read a store fails, saying
// which one, rather than reporting on half the data.
func TestStoreErrorReported(t *testing.T) {
	for _, name := range []string{"inventory", "payment", "shipping"} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			closers := map[string]func() error{
				"inventory": w.stores.Inventory.Close,
				"payment":   w.stores.Payment.Close,
				"shipping":  w.stores.Shipping.Close,
			}
			if err := closers[name](); err != nil {
				t.Fatal(err)
			}
			_, err := audit.Run(w.ctx, w.stores, nil)
			if err == nil || !strings.Contains(err.Error(), "audit "+name) {
				t.Errorf("audit.Run with the %s store closed: err = %v, want one naming %q", name, err, "audit "+name)
			}
		})
	}
}
