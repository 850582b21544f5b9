package audit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/platform/storedb"
	"github.com/ordersaga/ordersaga/workflows"
)

// placementKey names one placement's records: its placement, and the
// workflow its keys name. Records written before placements have an empty
// placement and are told apart by workflow alone.
type placementKey struct {
	placement, workflowID string
}

func (k placementKey) compare(o placementKey) int {
	if c := strings.Compare(k.placement, o.placement); c != 0 {
		return c
	}
	return strings.Compare(k.workflowID, o.workflowID)
}

// holdings is what the stores hold for one placement.
type holdings struct {
	reservation inventory.Reservation
	charge      payment.Charge
	shipment    shipping.Shipment
}

func (h holdings) String() string {
	return fmt.Sprintf("reservation %s, charge %s, shipment %s",
		orNone(h.reservation.Status), orNone(h.charge.Status), orNone(h.shipment.Status))
}

func orNone(status string) string {
	if status == "" {
		return "none"
	}
	return status
}

// orderID is the order the records belong to.
func (h holdings) orderID() string {
	for _, id := range []string{h.reservation.OrderID, h.charge.OrderID, h.shipment.OrderID} {
		if id != "" {
			return id
		}
	}
	return ""
}

// live reports what the placement holds: a reservation taking stock, a
// captured charge, a shipment on its way.
func (h holdings) live() (reserved, captured, shipped bool) {
	return h.reservation.Status == inventory.Reserved, h.charge.Status == payment.Captured, h.shipment.Status == shipping.Created
}

// stream is one store's records in placement order, pulled one at a time.
type stream[T any] struct {
	name  string
	next  func() (T, error, bool)
	stop  func()
	keyOf func(T) placementKey
	head  T
	key   placementKey
	has   bool
}

func newStream[T any](name string, seq iter.Seq2[T, error], keyOf func(T) placementKey) *stream[T] {
	next, stop := iter.Pull2(seq)
	return &stream[T]{name: name, next: next, stop: stop, keyOf: keyOf}
}

// advance reads the next record; the records must come in placement order.
func (s *stream[T]) advance() error {
	v, err, ok := s.next()
	if !ok {
		s.has = false
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit %s: %w", s.name, err)
	}
	k := s.keyOf(v)
	if s.has && k.compare(s.key) < 0 {
		return fmt.Errorf("audit %s: records out of placement order (%q after %q)", s.name, k.placement+" "+k.workflowID, s.key.placement+" "+s.key.workflowID)
	}
	s.head, s.key, s.has = v, k, true
	return nil
}

// take returns the head if it is key's record, and moves on; a second
// record of the same placement in one store is an error of its own.
func (s *stream[T]) take(key placementKey) (T, bool, error) {
	var zero T
	if !s.has || s.key != key {
		return zero, false, nil
	}
	v := s.head
	if err := s.advance(); err != nil {
		return zero, false, err
	}
	if s.has && s.key == key {
		return zero, false, fmt.Errorf("audit %s: two records of placement %q of workflow %s", s.name, key.placement, key.workflowID)
	}
	return v, true, nil
}

func keyOf(placement, key string) placementKey {
	return placementKey{placement: placement, workflowID: storedb.KeyWorkflowID(key)}
}

// judgePlacements merges the three stores' records, placement by
// placement, and judges each placement.
func (a *auditor) judgePlacements(ctx context.Context) error {
	res := newStream("inventory", a.stores.Inventory.ReservationsByPlacement(ctx),
		func(r inventory.Reservation) placementKey { return keyOf(r.Placement, r.Key) })
	defer res.stop()
	chg := newStream("payment", a.stores.Payment.ChargesByPlacement(ctx),
		func(c payment.Charge) placementKey { return keyOf(c.Placement, c.Key) })
	defer chg.stop()
	shp := newStream("shipping", a.stores.Shipping.ShipmentsByPlacement(ctx),
		func(s shipping.Shipment) placementKey { return keyOf(s.Placement, s.Key) })
	defer shp.stop()
	for _, err := range []error{res.advance(), chg.advance(), shp.advance()} {
		if err != nil {
			return err
		}
	}
	for res.has || chg.has || shp.has {
		key := lowest(res, chg, shp)
		var h holdings
		var err error
		var errs [3]error
		h.reservation, _, errs[0] = res.take(key)
		h.charge, _, errs[1] = chg.take(key)
		h.shipment, _, errs[2] = shp.take(key)
		if err = errors.Join(errs[:]...); err != nil {
			return err
		}
		if err := a.judgePlacement(ctx, key, h); err != nil {
			return err
		}
	}
	return nil
}

func lowest(res *stream[inventory.Reservation], chg *stream[payment.Charge], shp *stream[shipping.Shipment]) placementKey {
	var key placementKey
	found := false
	for _, s := range []struct {
		has bool
		key placementKey
	}{{res.has, res.key}, {chg.has, chg.key}, {shp.has, shp.key}} {
		if s.has && (!found || s.key.compare(key) < 0) {
			key, found = s.key, true
		}
	}
	return key
}

// judgePlacement judges one placement's records against the run that
// Temporal has of it, or by themselves when Temporal has none.
func (a *auditor) judgePlacement(ctx context.Context, key placementKey, h holdings) error {
	run, err := a.runOf(ctx, key)
	if err != nil {
		return err
	}
	switch {
	case run == nil:
		return a.judgeForgotten(ctx, key, h)
	case run.Running():
		return nil // its steps may be mid-way; inspectRunning looks at it
	}
	a.judgeEnded(run, h)
	return nil
}

// runOf finds the latest run of the placement that Temporal lists: the
// placement's first run, or a later run that a reset made of it. The
// earlier runs of a reset placement are marked matched: the latest one
// speaks for them. Records without a placement belong to the one run of
// their workflow that started before placements, if Temporal still lists
// it.
func (a *auditor) runOf(ctx context.Context, key placementKey) (*runInfo, error) {
	var latest *runInfo
	for _, r := range a.runs[key.workflowID] {
		in, err := a.inPlacement(ctx, r, key.placement)
		if err != nil {
			return nil, err
		}
		if !in {
			continue
		}
		r.matched = true
		if latest == nil || r.Start.After(latest.Start) {
			latest = r
		}
	}
	return latest, nil
}

// inPlacement reports whether run r belongs to placement (an empty one:
// to the orders before placements).
func (a *auditor) inPlacement(ctx context.Context, r *runInfo, placement string) (bool, error) {
	switch {
	case r.gone:
		return false, nil
	case placement == "":
		return !r.Placed, nil
	case !r.Placed:
		return false, nil
	case r.RunID == placement:
		return true, nil
	}
	// Another run of the same workflow: a reset run of this placement, or
	// another placement of the order ID. Only Temporal can tell.
	if !r.described {
		first, err := a.temporal.FirstRunID(ctx, r.WorkflowID, r.RunID)
		if errors.Is(err, ErrGone) {
			r.gone = true
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("audit: %w", err)
		}
		r.firstRunID, r.described = first, true
	}
	return r.firstRunID == placement, nil
}

// judgeEnded judges an ended run's placement by how the order ended.
func (a *auditor) judgeEnded(run *runInfo, h holdings) {
	r := &a.report
	r.OrdersEnded[run.OrderStatus]++
	if h.charge.Status == payment.Captured {
		r.CapturedCents += h.charge.AmountCents
	}
	who := describeRun(run, h)
	switch run.OrderStatus {
	case workflows.Completed:
		r.CompletedCents += h.reservation.TotalCents
		for _, v := range completedViolations(h) {
			a.violation(&a.completed, "%s (COMPLETED): %s", who, v)
		}
	case workflows.Failed, workflows.Cancelled:
		for _, v := range undoneViolations(h) {
			a.violation(&a.undone, "%s (%s): %s", who, run.OrderStatus, v)
		}
	default:
		a.violation(&a.ended, "%s: workflow ended %s with the order %s, outside the saga; holds %s",
			who, run.Status, orNone(string(run.OrderStatus)), h)
	}
}

// judgeForgotten judges by the stores alone a placement that Temporal
// does not list: everything live, or nothing. Records half one way, half
// the other may belong to an order that started after Temporal was
// listed; Temporal is asked before they count as a violation.
func (a *auditor) judgeForgotten(ctx context.Context, key placementKey, h holdings) error {
	r := &a.report
	reserved, captured, shipped := h.live()
	switch {
	case reserved && captured && shipped:
		r.ForgottenCompleted++
		r.CapturedCents += h.charge.AmountCents
		r.CompletedCents += h.reservation.TotalCents
		for _, v := range completedViolations(h) {
			a.violation(&a.forgotten, "%s, forgotten by Temporal, everything live: %s", describeRecords(key, h), v)
		}
		return nil
	case !reserved && !captured && !shipped:
		r.ForgottenUndone++
		return nil
	}
	started, err := a.startedDuringAudit(ctx, key)
	if err != nil || started {
		if started {
			r.StartedDuringAudit++
		}
		return err
	}
	if captured {
		r.CapturedCents += h.charge.AmountCents
	}
	a.violation(&a.forgotten, "%s, forgotten by Temporal: holds %s — neither completed nor undone",
		describeRecords(key, h), h)
	return nil
}

// startedDuringAudit asks Temporal whether the placement runs now: it
// started (or became visible) after the audit listed the orders.
func (a *auditor) startedDuringAudit(ctx context.Context, key placementKey) (bool, error) {
	if key.placement == "" {
		return false, nil // orders before placements all started long ago
	}
	first, err := a.temporal.FirstRunID(ctx, key.workflowID, "")
	if errors.Is(err, ErrGone) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("audit: %w", err)
	}
	return first == key.placement, nil
}

// judgeRunsWithoutRecords judges the ended runs that no placement's
// records matched: an order that failed before any step (a reused order
// ID, an invalid order) holds nothing, as it should; a COMPLETED one with
// nothing is a violation. A run terminated by a reset is judged by the
// later run of its workflow.
func (a *auditor) judgeRunsWithoutRecords() {
	for _, workflowID := range slices.Sorted(maps.Keys(a.runs)) {
		runs := a.runs[workflowID]
		for _, r := range runs {
			if r.matched || r.gone || r.Running() || supersededByReset(r, runs) {
				continue
			}
			a.judgeEnded(r, holdings{})
		}
	}
}

// supersededByReset reports whether r was terminated and a later run of
// its workflow exists: what a reset leaves behind.
func supersededByReset(r *runInfo, runs []*runInfo) bool {
	if r.Status != "Terminated" {
		return false
	}
	for _, o := range runs {
		if o != r && !o.gone && o.Start.After(r.Start) {
			return true
		}
	}
	return false
}

func completedViolations(h holdings) []string {
	var out []string
	if h.reservation.Status != inventory.Reserved {
		out = append(out, fmt.Sprintf("reservation is %s, want %s", orNone(h.reservation.Status), inventory.Reserved))
	}
	switch {
	case h.charge.Status != payment.Captured:
		out = append(out, fmt.Sprintf("charge is %s, want %s", orNone(h.charge.Status), payment.Captured))
	case h.reservation.Status != "" && h.charge.AmountCents != h.reservation.TotalCents:
		out = append(out, fmt.Sprintf("charge captured %s, the reservation's total is %s",
			workflows.FormatCents(h.charge.AmountCents), workflows.FormatCents(h.reservation.TotalCents)))
	}
	if h.shipment.Status != shipping.Created {
		out = append(out, fmt.Sprintf("shipment is %s, want %s", orNone(h.shipment.Status), shipping.Created))
	}
	return out
}

func undoneViolations(h holdings) []string {
	var out []string
	if h.reservation.Status == inventory.Reserved {
		out = append(out, fmt.Sprintf("reservation %s still holds stock", h.reservation.ID))
	}
	if h.charge.Status == payment.Captured {
		out = append(out, fmt.Sprintf("charge %s still captured (%s)", h.charge.ID, workflows.FormatCents(h.charge.AmountCents)))
	}
	if h.shipment.Status == shipping.Created {
		out = append(out, fmt.Sprintf("shipment %s still active", h.shipment.ID))
	}
	return out
}

// describeRun names an order by its run, for a violation.
func describeRun(r *runInfo, h holdings) string {
	return fmt.Sprintf("order %s (workflow %s, run %s)", orderIDOf(r.WorkflowID, h), r.WorkflowID, r.RunID)
}

// describeRecords names a placement that Temporal does not know, for a
// violation.
func describeRecords(key placementKey, h holdings) string {
	placement := key.placement
	if placement == "" {
		placement = "recorded before placements"
	}
	return fmt.Sprintf("order %s (workflow %s, placement %s)", orderIDOf(key.workflowID, h), key.workflowID, placement)
}

// orderIDOf is the order ID the records name, or else the one the
// workflow ID names.
func orderIDOf(workflowID string, h holdings) string {
	if id := h.orderID(); id != "" {
		return id
	}
	return strings.TrimPrefix(workflowID, ordersaga.WorkflowIDPrefix)
}
