package e2e

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

const shipTo = "1 Gopher Way, Mountain View"

// TestDemoOrders runs the demo's three orders through the real server, the
// real worker and the starter, then checks that the stores agree with how
// each order ended and that the audit passes. A fourth order is cancelled
// through Temporal's own cancellation, as the Web UI's button does.
func TestDemoOrders(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker")
	st := s.stores(t)
	before := stock(t, st)

	// 1. Completes.
	r := s.starter(t, "place", "--id", "ok", "--customer", "alice", "--item", "BOOK-GOPL:1", "--item", "MUG-GOPHER:2",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "1s", "--wait", "-o", "json")
	ok := view(t, r, 0)
	if ok.Status != workflows.Completed || ok.TotalCents != 3999+2*1299 || ok.TrackingNumber == "" || len(ok.Compensations) != 0 {
		t.Fatalf("order ok: %+v", ok.OrderState)
	}
	oc := s.orders(t)
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

	// 3. Cancelled by signal in its cancel window: refunded and released.
	r = s.starter(t, "place", "--id", "cancel", "--customer", "carol", "--item", "STICKER-PACK:3",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "10m", "-o", "json")
	view(t, r, 0)
	s.waitStatus(t, "cancel", workflows.AwaitingFulfillment)
	r = s.starter(t, "cancel", "cancel", "--reason", "customer changed their mind", "--wait", "-o", "json")
	cancelled := view(t, r, 0)
	if cancelled.Status != workflows.Cancelled || cancelled.CancelledBy != workflows.CancelledBySignal ||
		cancelled.CancelReason != "customer changed their mind" || cancelled.TemporalStatus != "Canceled" {
		t.Fatalf("order cancel: %+v", cancelled)
	}
	assertCompensations(t, cancelled.OrderState, "refund order-cancel/charge", "release order-cancel/reserve")
	if details := currentDetails(t, oc, "order-cancel"); !strings.Contains(details, "CANCELLED") || !strings.Contains(details, "customer changed their mind") {
		t.Errorf("the Web UI's current details of order cancel are %q", details)
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
	eventually(t, orderTimeout, "order "+orderID+" reaches "+string(status), func() (bool, string) {
		v, err := oc.Snapshot(context.Background(), orderID)
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
