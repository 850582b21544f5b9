package e2e

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

const shipTo = "1 Gopher Way, Mountain View"

// refusedCancelBound is how long `starter cancel` may take to refuse an
// order that has shipped or ended: it reads the order and answers at once,
// far within the 30s it would wait for a running order's worker.
const refusedCancelBound = 5 * time.Second

// TestDemoOrders runs the demo's orders through the real server, the real
// worker and the starter, then checks that the stores agree with how each
// order ended and that the audit passes: each placement answers with its
// total and reservation (the order-placed update), and a cancel of the
// shipped order is refused at once and changes nothing. A fourth order is
// cancelled through Temporal's own cancellation, as the Web UI's button
// does.
func TestDemoOrders(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker")
	st := s.stores(t)
	before := stock(t, st)
	oc := s.orders(t)

	// 1. Completes; its placement answers with the priced lines, the total
	// and the reservation, in text as the demo prints it.
	r := s.starter(t, "place", "--id", "ok", "--customer", "alice", "--item", "BOOK-GOPL:1", "--item", "MUG-GOPHER:2",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "1s", "--wait")
	if r.code != 0 {
		t.Fatalf("order ok: want exit 0: %s", r)
	}
	reservation := printedReservation(t, r, "Order ok reserved: 1 × BOOK-GOPL $39.99, 2 × MUG-GOPHER $25.98, total $65.97, reservation ")
	ok := view(t, s.starter(t, "status", "ok", "-o", "json"), 0)
	if ok.Status != workflows.Completed || ok.TotalCents != 3999+2*1299 || ok.TrackingNumber == "" || len(ok.Compensations) != 0 {
		t.Fatalf("order ok: %+v", ok.OrderState)
	}
	if stored := reservationOf(t, s, "ok"); ok.ReservationID != reservation || stored.ID != reservation || stored.TotalCents != ok.TotalCents {
		t.Errorf("order ok answered with reservation %s; its state has %s, the inventory %+v", reservation, ok.ReservationID, stored)
	}
	assertPlacedAnswer(t, s, "ok", ok.OrderState)
	desc, err := oc.Temporal.DescribeWorkflow(context.Background(), "order-ok", "")
	if err != nil {
		t.Fatal(err)
	}
	if summary, _ := desc.GetStaticSummary(); summary != "Order ok for customer alice: 1 × BOOK-GOPL, 2 × MUG-GOPHER" {
		t.Errorf("the Web UI's summary of order ok is %q", summary)
	}
	wantSummaries := []string{"Reserve 1 × BOOK-GOPL, 2 × MUG-GOPHER", "Charge $65.97", "Ship 1 × BOOK-GOPL, 2 × MUG-GOPHER"}
	if got := activitySummaries(t, oc, "order-ok"); !slices.Equal(got, wantSummaries) {
		t.Errorf("the Web UI's activity summaries of order ok are %q, want %q", got, wantSummaries)
	}

	// 2. Declined: the charge fails, the reservation is released.
	r = s.starter(t, "place", "--id", "declined", "--customer", "bob", "--item", "TEE-TEMPORAL-M:1",
		"--payment", "tok_declined", "--address", shipTo, "--wait", "-o", "json")
	declined := view(t, r, 3)
	if declined.Status != workflows.Failed || !strings.Contains(declined.FailureReason, "declined") {
		t.Fatalf("order declined: %+v", declined.OrderState)
	}
	assertCompensations(t, declined.OrderState, "refund order-declined/charge", "release order-declined/reserve")

	// 3. Cancelled in its cancel window (the cancel-order update): refunded
	// and released.
	r = s.starter(t, "place", "--id", "cancel", "--customer", "carol", "--item", "STICKER-PACK:3",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "10m", "-o", "json")
	placed := view(t, r, 0)
	if !placed.Reserved || placed.ReservationID == "" || len(placed.Lines) != 1 || placed.Lines[0].Qty != 3 ||
		placed.TotalCents != placed.Lines[0].AmountCents() || placed.TotalCents <= 0 {
		t.Fatalf("order cancel answered %+v: want reserved, 3 × STICKER-PACK, their total and a reservation ID", placed)
	}
	s.waitStatus(t, "cancel", workflows.AwaitingFulfillment)
	r = s.starter(t, "cancel", "cancel", "--reason", "customer changed their mind", "--wait", "-o", "json")
	cancelled := view(t, r, 0)
	if cancelled.Status != workflows.Cancelled || cancelled.CancelledBy != workflows.CancelledByUpdate ||
		cancelled.CancelReason != "customer changed their mind" || cancelled.TemporalStatus != "Canceled" {
		t.Fatalf("order cancel: %+v", cancelled)
	}
	assertCompensations(t, cancelled.OrderState, "refund order-cancel/charge", "release order-cancel/reserve")
	if details := currentDetails(t, oc, "order-cancel"); !strings.Contains(details, "CANCELLED") || !strings.Contains(details, "customer changed their mind") {
		t.Errorf("the Web UI's current details of order cancel are %q", details)
	}
	if got := updateNames(s.acceptedUpdates(t, "cancel")); !slices.Equal(got, []string{ordersaga.OrderPlacedUpdate, ordersaga.CancelOrderUpdate}) {
		t.Errorf("order cancel's history has the updates %q, want its placement's then the cancel's", got)
	}

	// 4. Cancelled through Temporal (CancelWorkflow) in its window.
	r = s.starter(t, "place", "--id", "wfcancel", "--customer", "dave", "--item", "BOOK-GOPL:2",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "10m", "-o", "json")
	view(t, r, 0)
	s.waitStatus(t, "wfcancel", workflows.AwaitingFulfillment)
	if err := oc.Temporal.CancelWorkflow(context.Background(), "order-wfcancel", ""); err != nil {
		t.Fatal(err)
	}
	wfcancel := s.wait(t, "wfcancel")
	if wfcancel.Status != workflows.Cancelled || wfcancel.CancelledBy != workflows.CancelledByTemporal {
		t.Fatalf("order wfcancel: %+v", wfcancel.OrderState)
	}
	assertCompensations(t, wfcancel.OrderState, "refund order-wfcancel/charge", "release order-wfcancel/reserve")

	// 5. A cancel of the shipped order is refused at once, saying why, and
	// changes nothing (the stores' checks below include it).
	assertCancelRefused(t, s, ok)

	// The stores hold exactly what the outcomes say.
	after := stock(t, st)
	wantTaken := map[string]int{"BOOK-GOPL": 1, "MUG-GOPHER": 2}
	for sku, p := range after {
		if got, want := before[sku].OnHand-p.OnHand, wantTaken[sku]; got != want {
			t.Errorf("%s: %d units left stock, want %d (only the completed order keeps its stock)", sku, got, want)
		}
	}
	assertRecords(t, st, map[string][3]string{
		"ok":       {inventory.Reserved, payment.Captured, shipping.Created},
		"declined": {inventory.Released, payment.Declined, ""},
		"cancel":   {inventory.Released, payment.Refunded, ""},
		"wfcancel": {inventory.Released, payment.Refunded, ""},
	})
	if c, _, _ := st.payment.ChargeByKey(context.Background(), "order-ok/charge"); c.AmountCents != ok.TotalCents {
		t.Errorf("order ok: captured %d cents, total is %d", c.AmountCents, ok.TotalCents)
	}

	// The list by status finds the cancelled ones (visibility catches up).
	eventually(t, 30*time.Second, "list --status CANCELLED shows both cancelled orders", func() (bool, string) {
		r := s.starter(t, "list", "--status", "cancelled", "-o", "json")
		var list []orderclient.Summary
		decode(t, r, &list)
		var ids []string
		for _, o := range list {
			ids = append(ids, o.OrderID)
		}
		slices.Sort(ids)
		return slices.Equal(ids, []string{"cancel", "wfcancel"}), strings.Join(ids, ",")
	})
	assertAuditClean(t, s, map[workflows.Status]int{workflows.Completed: 1, workflows.Failed: 1, workflows.Cancelled: 2})
}

// printedReservation returns the reservation ID from the line with which
// `starter place` answered a reserved order; the line must begin with
// prefix ("Order ID reserved: lines, total $T, reservation ").
func printedReservation(t *testing.T, r result, prefix string) string {
	t.Helper()
	for _, line := range strings.Split(r.stdout, "\n") {
		id, found := strings.CutPrefix(line, prefix)
		if found && len(id) > 1 && strings.HasSuffix(id, ".") {
			return strings.TrimSuffix(id, ".")
		}
	}
	t.Fatalf("the placement did not answer with a line %q followed by the reservation ID: %s", prefix, r)
	return ""
}

// assertPlacedAnswer checks that the order's history records its placement
// as the order-placed update, the only update, answered with the total
// and the reservation of its final state.
func assertPlacedAnswer(t *testing.T, s *stack, orderID string, final workflows.OrderState) {
	t.Helper()
	updates := s.acceptedUpdates(t, orderID)
	if got := updateNames(updates); !slices.Equal(got, []string{ordersaga.OrderPlacedUpdate}) {
		t.Fatalf("order %s's history has the updates %q, want its placement's alone", orderID, got)
	}
	var answer workflows.PlacedResult
	if err := converter.GetDefaultDataConverter().FromPayloads(updates[0].outcome, &answer); err != nil {
		t.Fatalf("order %s's answer to its placement: %v", orderID, err)
	}
	if !answer.Reserved || answer.TotalCents != final.TotalCents || answer.ReservationID != final.ReservationID {
		t.Errorf("order %s answered its placement with %+v, want reserved with total %d and reservation %s",
			orderID, answer, final.TotalCents, final.ReservationID)
	}
}

// assertCancelRefused runs `starter cancel` on the shipped order v and
// checks that it exits 1 at once with one line that says how the order
// ended, and that the order's history and state are unchanged.
func assertCancelRefused(t *testing.T, s *stack, v orderclient.View) {
	t.Helper()
	events := historyLength(t, s.orders(t), v.WorkflowID)
	began := time.Now()
	r := s.starter(t, "cancel", v.OrderID, "--reason", "too late")
	took := time.Since(began)
	why := "order " + v.OrderID + " already ended COMPLETED (shipped with tracking number " + v.TrackingNumber
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, why) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("cancel of the shipped order %s: want exit 1 and one line with %q: %s", v.OrderID, why, r)
	}
	if took > refusedCancelBound {
		t.Errorf("cancel of the shipped order %s refused in %s, want at once (under %s)", v.OrderID, took, refusedCancelBound)
	}
	if got := historyLength(t, s.orders(t), v.WorkflowID); got != events {
		t.Errorf("the refused cancel added %d event(s) to order %s's history", got-events, v.OrderID)
	}
	if got := updateNames(s.acceptedUpdates(t, v.OrderID)); slices.Contains(got, ordersaga.CancelOrderUpdate) {
		t.Errorf("order %s's history has the updates %q, want no cancel", v.OrderID, got)
	}
	after := view(t, s.starter(t, "status", v.OrderID, "-o", "json"), 0)
	if !reflect.DeepEqual(after, v) {
		t.Errorf("order %s changed after the refused cancel:\nbefore %+v\nafter  %+v", v.OrderID, v, after)
	}
}

// acceptedUpdate is an update that an order accepted, as its history
// records it.
type acceptedUpdate struct {
	name string
	// outcome is its result once completed; nil while it runs, or if it
	// failed.
	outcome *commonpb.Payloads
	// completedID is the ID of the event with its outcome; 0 while it runs.
	completedID int64
}

// acceptedUpdates returns the updates that the order's history records, in
// the order they were accepted.
func (s *stack) acceptedUpdates(t *testing.T, orderID string) []acceptedUpdate {
	t.Helper()
	var out []acceptedUpdate
	index := map[int64]int{} // accepted event ID → index in out
	for _, e := range s.history(t, orderID).GetEvents() {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			index[e.GetEventId()] = len(out)
			a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes()
			out = append(out, acceptedUpdate{name: a.GetAcceptedRequest().GetInput().GetName()})
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
			a := e.GetWorkflowExecutionUpdateCompletedEventAttributes()
			if i, found := index[a.GetAcceptedEventId()]; found {
				out[i].outcome, out[i].completedID = a.GetOutcome().GetSuccess(), e.GetEventId()
			}
		}
	}
	return out
}

// updateNames lists the updates' names.
func updateNames(updates []acceptedUpdate) []string {
	names := make([]string, 0, len(updates))
	for _, u := range updates {
		names = append(names, u.name)
	}
	return names
}

// activitySummaries returns the summaries of the workflow's scheduled
// activities, in order, as the Web UI shows them.
func activitySummaries(t *testing.T, oc *orderclient.Client, workflowID string) []string {
	t.Helper()
	var out []string
	it := oc.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.GetEventType() != enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
			continue
		}
		var summary string
		if err := converter.GetDefaultDataConverter().FromPayload(e.GetUserMetadata().GetSummary(), &summary); err != nil {
			t.Fatal(err)
		}
		out = append(out, summary)
	}
	return out
}

// currentDetails returns what the workflow last set with
// workflow.SetCurrentDetails, as the Web UI reads it.
func currentDetails(t *testing.T, oc *orderclient.Client, workflowID string) string {
	t.Helper()
	res, err := oc.Temporal.QueryWorkflow(context.Background(), workflowID, "", "__temporal_workflow_metadata")
	if err != nil {
		t.Fatal(err)
	}
	var md sdkpb.WorkflowMetadata
	if err := res.Get(&md); err != nil {
		t.Fatal(err)
	}
	return md.GetCurrentDetails()
}

// view decodes a starter's JSON view and checks its exit code.
func view(t *testing.T, r result, wantCode int) orderclient.View {
	t.Helper()
	if r.code != wantCode {
		t.Fatalf("want exit %d: %s", wantCode, r)
	}
	var v orderclient.View
	decode(t, r, &v)
	return v
}

// waitStatus waits until the order's OrderStatus is status.
func (s *stack) waitStatus(t *testing.T, orderID string, status workflows.Status) {
	t.Helper()
	oc := s.orders(t)
	// A forward step is not in the OrderStatus search attribute: only the
	// order-status query shows it, which needs an order worker.
	read := oc.Snapshot
	if !status.Listed() {
		read = oc.State
	}
	eventually(t, orderTimeout, "order "+orderID+" reaches "+string(status), func() (bool, string) {
		v, err := read(context.Background(), orderID)
		if err != nil {
			return false, err.Error()
		}
		return v.Status == status, string(v.Status)
	})
}

// wait waits for the order to end and returns its final state.
func (s *stack) wait(t *testing.T, orderID string) orderclient.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), orderTimeout)
	defer cancel()
	v, err := s.orders(t).Wait(ctx, orderID)
	if err != nil {
		t.Fatalf("wait for order %s: %v", orderID, err)
	}
	return v
}

func assertCompensations(t *testing.T, st workflows.OrderState, want ...string) {
	t.Helper()
	var got []string
	for _, c := range st.Compensations {
		got = append(got, c.Name+" "+c.Key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("order %s: compensations %q, want %q", st.OrderID, got, want)
	}
}

func stock(t *testing.T, st stores) map[string]inventory.Product {
	t.Helper()
	products, err := st.inventory.Products(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]inventory.Product{}
	for _, p := range products {
		m[p.SKU] = p
	}
	return m
}

// assertRecords checks each order's reservation, charge and shipment
// status in the stores ("" means no record).
func assertRecords(t *testing.T, st stores, want map[string][3]string) {
	t.Helper()
	ctx := context.Background()
	for id, w := range want {
		key := "order-" + id + "/"
		r, _, err1 := st.inventory.Reservation(ctx, key+workflows.StepReserve)
		c, _, err2 := st.payment.ChargeByKey(ctx, key+workflows.StepCharge)
		sh, _, err3 := st.shipping.ShipmentByKey(ctx, key+workflows.StepShip)
		for _, err := range []error{err1, err2, err3} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := [3]string{r.Status, c.Status, sh.Status}; got != w {
			t.Errorf("order %s: reservation, charge, shipment = %q, want %q", id, got, w)
		}
	}
}

// auditReport is the part of `worker audit -o json` the tests read.
type auditReport struct {
	OK          bool                     `json:"ok"`
	OrdersEnded map[workflows.Status]int `json:"orders_ended"`
	Running     int                      `json:"orders_running"`
	// ForgottenCompleted and ForgottenUndone count the placements that
	// Temporal no longer knows, judged by the stores alone.
	ForgottenCompleted int           `json:"forgotten_completed"`
	ForgottenUndone    int           `json:"forgotten_undone"`
	Stuck              []audit.Stuck `json:"stuck"`
	Violations         []string      `json:"violations"`
}

// audit runs `worker audit -o json` with args against the stack and
// decodes its report.
func (s *stack) audit(t *testing.T, args ...string) (auditReport, result) {
	t.Helper()
	r := s.worker(t, append([]string{"audit", "-o", "json"}, args...)...)
	var report auditReport
	decode(t, r, &report)
	return report, r
}

// assertAuditClean runs `worker audit -o json` once Temporal lists no
// running order, and checks that it passed, judged exactly the ended
// orders it was given, found no order running or stuck, and no placement
// that Temporal forgot.
func assertAuditClean(t *testing.T, s *stack, ended map[workflows.Status]int) {
	t.Helper()
	assertAuditJudged(t, s, ended, 0)
}

// assertAuditJudged is assertAuditClean where Temporal forgot
// forgottenCompleted completed placements (deleted workflows), which the
// audit must judge by the stores alone, as completed.
func assertAuditJudged(t *testing.T, s *stack, ended map[workflows.Status]int, forgottenCompleted int) {
	t.Helper()
	s.waitNoneRunning(t)
	report, r := s.audit(t)
	if r.code != 0 || !report.OK || len(report.Violations) > 0 {
		t.Fatalf("audit failed: %s", r)
	}
	want := maps.Clone(ended)
	maps.DeleteFunc(want, func(_ workflows.Status, n int) bool { return n == 0 })
	if !maps.Equal(report.OrdersEnded, want) {
		t.Errorf("audit judged the ended orders %v, want %v: %s", report.OrdersEnded, want, r)
	}
	if report.ForgottenCompleted != forgottenCompleted || report.ForgottenUndone != 0 {
		t.Errorf("audit judged %d completed and %d undone placements that Temporal forgot, want %d and 0",
			report.ForgottenCompleted, report.ForgottenUndone, forgottenCompleted)
	}
	if report.Running != 0 || len(report.Stuck) != 0 {
		t.Errorf("audit found %d orders still running and %d stuck (%+v), want none", report.Running, len(report.Stuck), report.Stuck)
	}
}
