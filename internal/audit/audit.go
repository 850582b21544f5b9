// Package audit checks the promises the order saga makes, across the three
// services' stores and Temporal, placement by placement (one run of an
// order's workflow, kept through resets; every record a step writes
// carries it):
//
//   - a placement Temporal knows that ended COMPLETED holds exactly one
//     stock reservation (its units gone with the parcel), one captured
//     charge equal to the reservation's total, and one shipment; one that
//     ended FAILED or CANCELLED holds no reservation, no captured charge
//     and no shipment; one that ended any other way (terminated, timed
//     out) ended outside the saga;
//   - a placement Temporal has forgotten (retention, a deleted workflow)
//     is judged by the stores alone: either everything is live or nothing
//     is;
//   - for every SKU, the units ever received = stock on hand + units in
//     active reservations;
//   - the captured charges add up to the totals of the completed orders;
//   - no order runs without progress unnoticed: orders in NEEDS_ATTENTION,
//     orders whose workflow task fails, and orders with no progress for
//     longer than Options.StuckAfter are reported, with how long and what
//     to do.
//
// It reads; it never repairs. The stores are read as streams ordered by
// placement and merged, so its memory does not grow with the stores; what
// it holds is Temporal's list of the orders it still knows.
package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// DefaultStuckAfter is Options.StuckAfter's default: longer than a step
// retries (10 minutes) and as long as a compensation retries before its
// order needs attention (the order worker's default), so an order over it
// is one nothing will move without a person.
const DefaultStuckAfter = 30 * time.Minute

// Options tune an audit.
type Options struct {
	// StuckAfter is how long a running order may make no progress before
	// it counts against the audit. Zero means DefaultStuckAfter.
	StuckAfter time.Duration
	// Now is the audit's clock; nil means time.Now.
	Now func() time.Time
}

func (o Options) stuckAfter() time.Duration {
	if o.StuckAfter <= 0 {
		return DefaultStuckAfter
	}
	return o.StuckAfter
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// Report is what the audit checked and every violation it found.
type Report struct {
	// OrdersEnded counts the ended placements Temporal knows, by the
	// order's final status.
	OrdersEnded   map[workflows.Status]int `json:"orders_ended"`
	OrdersRunning int                      `json:"orders_running"`
	// ForgottenCompleted and ForgottenUndone count the placements that
	// Temporal no longer knows, judged by the stores alone: everything
	// live, or nothing.
	ForgottenCompleted int `json:"forgotten_completed"`
	ForgottenUndone    int `json:"forgotten_undone"`
	// StartedDuringAudit counts placements that Temporal did not list
	// but runs now: they started while the audit read, and the next
	// audit judges them.
	StartedDuringAudit int `json:"started_during_audit"`
	// Stuck lists the running orders that make no progress or wait for a
	// person; those over StuckAfter fail the audit.
	Stuck      []Stuck `json:"stuck"`
	StuckAfter string  `json:"stuck_after"`

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

// OK reports whether the audit found nothing to act on: no violation and
// no order stuck for longer than StuckAfter.
func (r Report) OK() bool { return len(r.Violations) == 0 && r.Overdue() == 0 }

// Overdue counts the stuck orders over StuckAfter.
func (r Report) Overdue() int {
	n := 0
	for _, s := range r.Stuck {
		if s.Overdue {
			n++
		}
	}
	return n
}

// Run audits the stores against what Temporal knows of the orders.
func Run(ctx context.Context, st stores.Stores, temporal Temporal, opts Options) (Report, error) {
	a := &auditor{
		stores: st, temporal: temporal, opts: opts, start: opts.now(),
		runs: map[string][]*runInfo{},
		report: Report{
			OrdersEnded: map[workflows.Status]int{}, Stuck: []Stuck{}, Violations: []string{},
			StuckAfter: opts.stuckAfter().String(),
		},
		completed: Check{Name: "completed orders", Detail: "one reservation, one captured charge equal to its total, one shipment"},
		undone:    Check{Name: "failed and cancelled orders", Detail: "nothing reserved, captured or shipped"},
		ended:     Check{Name: "orders ended by the saga", Detail: "every ended order is COMPLETED, FAILED or CANCELLED"},
		forgotten: Check{Name: "orders Temporal forgot", Detail: "judged by the stores alone: everything live or nothing"},
	}
	if err := a.listRuns(ctx); err != nil {
		return Report{}, err
	}
	if err := a.checkStock(ctx); err != nil {
		return Report{}, err
	}
	if err := a.judgePlacements(ctx); err != nil {
		return Report{}, err
	}
	a.judgeRunsWithoutRecords()
	if err := a.inspectRunning(ctx); err != nil {
		return Report{}, err
	}
	a.finish()
	return a.report, nil
}

// auditor is one audit under way.
type auditor struct {
	stores   stores.Stores
	temporal Temporal
	opts     Options
	start    time.Time
	// runs are Temporal's runs of the order workflow, by workflow ID.
	runs   map[string][]*runInfo
	report Report

	completed, undone, ended, forgotten Check
}

// runInfo is one listed run and what the audit learnt of it.
type runInfo struct {
	OrderRun
	// firstRunID is the run's placement, once asked (described).
	firstRunID string
	described  bool
	// gone: Temporal no longer has the run.
	gone bool
	// matched: a placement's records were judged against this run, or
	// against a later run of its placement.
	matched bool
}

func (a *auditor) listRuns(ctx context.Context) error {
	return a.temporal.Runs(ctx, func(r OrderRun) error {
		a.runs[r.WorkflowID] = append(a.runs[r.WorkflowID], &runInfo{OrderRun: r})
		return nil
	})
}

func (a *auditor) violation(c *Check, format string, args ...any) {
	c.Violations++
	a.report.Violations = append(a.report.Violations, fmt.Sprintf(format, args...))
}

func (a *auditor) checkStock(ctx context.Context) error {
	products, err := a.stores.Inventory.Products(ctx)
	if err != nil {
		return fmt.Errorf("audit inventory: %w", err)
	}
	c := Check{Name: "stock", Detail: fmt.Sprintf("%d SKUs: units received = on hand + reserved", len(products))}
	for _, p := range products {
		if p.Received != p.OnHand+p.Reserved {
			a.violation(&c, "SKU %s: received %d, but on hand %d + reserved %d = %d (drift %+d)",
				p.SKU, p.Received, p.OnHand, p.Reserved, p.OnHand+p.Reserved, p.OnHand+p.Reserved-p.Received)
		}
	}
	a.report.SKUs = len(products)
	a.report.Checks = append(a.report.Checks, c)
	return nil
}

// finish adds the money check and the checks in their order.
func (a *auditor) finish() {
	r := &a.report
	money := Check{Name: "money", Detail: fmt.Sprintf("captured %s = total of completed orders %s",
		workflows.FormatCents(r.CapturedCents), workflows.FormatCents(r.CompletedCents))}
	if r.CapturedCents != r.CompletedCents {
		a.violation(&money, "money: charges captured for ended orders add up to %s, completed orders to %s",
			workflows.FormatCents(r.CapturedCents), workflows.FormatCents(r.CompletedCents))
	}
	stuck := Check{Name: "orders in progress", Detail: fmt.Sprintf("no order without progress for over %s", r.StuckAfter),
		Violations: r.Overdue()}
	r.Checks = append(r.Checks, a.completed, a.undone, a.ended, a.forgotten, money, stuck)
}
