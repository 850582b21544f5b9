// Package audit checks the promises the order saga makes, across the three
// services' stores and the orders' final states in Temporal:
//
//   - a COMPLETED order holds exactly one active stock reservation, one
//     captured charge equal to its total, and one shipment;
//   - a FAILED or CANCELLED order holds no active reservation, no captured
//     charge and no active shipment;
//   - for every SKU, the units ever received = stock on hand + units in
//     active reservations;
//   - the captured charges add up to the totals of the COMPLETED orders.
//
// It reads; it never repairs. An order still running is skipped (its steps
// may be mid-way), and store records of orders Temporal does not know (aged
// out of retention, or written by another namespace) are counted, not
// judged.
package audit

import (
	"context"
	"fmt"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/workflows"
)

// Stores are the three services' stores.
type Stores struct {
	Inventory *inventory.Store
	Payment   *payment.Store
	Shipping  *shipping.Store
}

// Order is one order as Temporal knows it.
type Order struct {
	ID string
	// Status is the order's final status, or its current one if Running.
	Status     workflows.Status
	TotalCents int64
	Running    bool
	// TemporalStatus is the workflow's own status (Completed, Failed,
	// Canceled, Terminated, TimedOut, Running).
	TemporalStatus string
}

// Report is what the audit checked and every violation it found.
type Report struct {
	OrdersEnded   map[workflows.Status]int `json:"orders_ended"`
	OrdersRunning int                      `json:"orders_running"`
	// NeedsAttention lists the running orders stopped in NEEDS_ATTENTION:
	// not a violation, but stock or money they hold waits for an operator.
	NeedsAttention []string `json:"needs_attention"`
	// UnknownOrders counts orders that have records in a store but that
	// Temporal does not know.
	UnknownOrders  int      `json:"unknown_orders"`
	SKUs           int      `json:"skus"`
	CapturedCents  int64    `json:"captured_cents"`
	CompletedCents int64    `json:"completed_cents"`
	Checks         []Check  `json:"checks"`
	Violations     []string `json:"violations"`
}

// Check is one invariant and how it fared.
type Check struct {
	Name       string `json:"name"`
	Detail     string `json:"detail"`
	Violations int    `json:"violations"`
}

// OK reports whether the audit found nothing wrong.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// Run audits the stores against the orders.
func Run(ctx context.Context, stores Stores, orders []Order) (Report, error) {
	recs, err := load(ctx, stores)
	if err != nil {
		return Report{}, err
	}
	r := Report{OrdersEnded: map[workflows.Status]int{}, NeedsAttention: []string{}, Violations: []string{}}
	r.checkStock(recs.products)
	r.checkOrders(recs, orders)
	r.UnknownOrders = recs.unknownOrders(orders)
	return r, nil
}

type records struct {
	products     []inventory.Product
	reservations map[string]inventory.Reservation
	charges      map[string]payment.Charge
	shipments    map[string]shipping.Shipment
}

func load(ctx context.Context, stores Stores) (records, error) {
	var recs records
	var err error
	if recs.products, err = stores.Inventory.Products(ctx); err != nil {
		return recs, fmt.Errorf("audit inventory: %w", err)
	}
	reservations, err := stores.Inventory.Reservations(ctx)
	if err != nil {
		return recs, fmt.Errorf("audit inventory: %w", err)
	}
	charges, err := stores.Payment.Charges(ctx)
	if err != nil {
		return recs, fmt.Errorf("audit payment: %w", err)
	}
	shipments, err := stores.Shipping.Shipments(ctx)
	if err != nil {
		return recs, fmt.Errorf("audit shipping: %w", err)
	}
	recs.reservations = byKey(reservations, func(r inventory.Reservation) string { return r.Key })
	recs.charges = byKey(charges, func(c payment.Charge) string { return c.Key })
	recs.shipments = byKey(shipments, func(s shipping.Shipment) string { return s.Key })
	return recs, nil
}

func byKey[T any](items []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[key(it)] = it
	}
	return m
}

func (r *Report) checkStock(products []inventory.Product) {
	c := Check{Name: "stock", Detail: fmt.Sprintf("%d SKUs: units received = on hand + reserved", len(products))}
	for _, p := range products {
		if p.Received != p.OnHand+p.Reserved {
			c.Violations++
			r.Violations = append(r.Violations, fmt.Sprintf("SKU %s: received %d, but on hand %d + reserved %d = %d (drift %+d)",
				p.SKU, p.Received, p.OnHand, p.Reserved, p.OnHand+p.Reserved, p.OnHand+p.Reserved-p.Received))
		}
	}
	r.SKUs = len(products)
	r.Checks = append(r.Checks, c)
}

func (r *Report) checkOrders(recs records, orders []Order) {
	completed := Check{Name: "completed orders", Detail: "one reservation, one captured charge equal to the total, one shipment"}
	undone := Check{Name: "failed and cancelled orders", Detail: "nothing reserved, captured or shipped"}
	ended := Check{Name: "orders ended by the saga", Detail: "every ended order is COMPLETED, FAILED or CANCELLED"}
	for _, o := range orders {
		if o.Running {
			r.OrdersRunning++
			if o.Status == workflows.NeedsAttention {
				r.NeedsAttention = append(r.NeedsAttention, o.ID)
			}
			continue
		}
		r.OrdersEnded[o.Status]++
		held := recs.held(o.ID)
		switch o.Status {
		case workflows.Completed:
			r.CompletedCents += o.TotalCents
			for _, v := range completedViolations(o, held) {
				completed.Violations++
				r.Violations = append(r.Violations, v)
			}
		case workflows.Failed, workflows.Cancelled:
			for _, v := range undoneViolations(o, held) {
				undone.Violations++
				r.Violations = append(r.Violations, v)
			}
		default:
			ended.Violations++
			r.Violations = append(r.Violations, fmt.Sprintf("order %s: workflow ended %s with the order %s, outside the saga; holds %s",
				o.ID, o.TemporalStatus, o.Status, held))
		}
		if held.charge.Status == payment.Captured {
			r.CapturedCents += held.charge.AmountCents
		}
	}
	money := Check{Name: "money", Detail: fmt.Sprintf("captured %s = total of completed orders %s",
		workflows.FormatCents(r.CapturedCents), workflows.FormatCents(r.CompletedCents))}
	if r.CapturedCents != r.CompletedCents {
		money.Violations++
		r.Violations = append(r.Violations, fmt.Sprintf("money: charges captured for ended orders add up to %s, completed orders to %s",
			workflows.FormatCents(r.CapturedCents), workflows.FormatCents(r.CompletedCents)))
	}
	r.Checks = append(r.Checks, completed, undone, ended, money)
}

// holdings is what the stores hold for one order, under its steps' keys.
type holdings struct {
	reservation inventory.Reservation
	charge      payment.Charge
	shipment    shipping.Shipment
}

func (recs records) held(orderID string) holdings {
	id := ordersaga.WorkflowID(orderID)
	return holdings{
		reservation: recs.reservations[id+"/"+workflows.StepReserve],
		charge:      recs.charges[id+"/"+workflows.StepCharge],
		shipment:    recs.shipments[id+"/"+workflows.StepShip],
	}
}

func (h holdings) String() string {
	return fmt.Sprintf("reservation %q, charge %q, shipment %q", h.reservation.Status, h.charge.Status, h.shipment.Status)
}

func completedViolations(o Order, h holdings) []string {
	var out []string
	if h.reservation.Status != inventory.Reserved {
		out = append(out, fmt.Sprintf("order %s (COMPLETED): reservation is %q, want %q", o.ID, h.reservation.Status, inventory.Reserved))
	}
	if h.charge.Status != payment.Captured {
		out = append(out, fmt.Sprintf("order %s (COMPLETED): charge is %q, want %q", o.ID, h.charge.Status, payment.Captured))
	} else if h.charge.AmountCents != o.TotalCents {
		out = append(out, fmt.Sprintf("order %s (COMPLETED): charge captured %s, order total is %s", o.ID,
			workflows.FormatCents(h.charge.AmountCents), workflows.FormatCents(o.TotalCents)))
	}
	if h.shipment.Status != shipping.Created {
		out = append(out, fmt.Sprintf("order %s (COMPLETED): shipment is %q, want %q", o.ID, h.shipment.Status, shipping.Created))
	}
	return out
}

func undoneViolations(o Order, h holdings) []string {
	var out []string
	if h.reservation.Status == inventory.Reserved {
		out = append(out, fmt.Sprintf("order %s (%s): reservation %s still holds stock", o.ID, o.Status, h.reservation.ID))
	}
	if h.charge.Status == payment.Captured {
		out = append(out, fmt.Sprintf("order %s (%s): charge %s still captured (%s)", o.ID, o.Status, h.charge.ID, workflows.FormatCents(h.charge.AmountCents)))
	}
	if h.shipment.Status == shipping.Created {
		out = append(out, fmt.Sprintf("order %s (%s): shipment %s still active", o.ID, o.Status, h.shipment.ID))
	}
	return out
}

// unknownOrders counts the orders that have store records but are not
// among the orders Temporal listed.
func (recs records) unknownOrders(orders []Order) int {
	known := make(map[string]bool, len(orders))
	for _, o := range orders {
		known[o.ID] = true
	}
	unknown := map[string]bool{}
	add := func(orderID string) {
		if !known[orderID] {
			unknown[orderID] = true
		}
	}
	for _, r := range recs.reservations {
		add(r.OrderID)
	}
	for _, c := range recs.charges {
		add(c.OrderID)
	}
	for _, s := range recs.shipments {
		add(s.OrderID)
	}
	return len(unknown)
}
