package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/workflows"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// completedView is an order that completed after refusing a late cancel.
func completedView() orderclient.View {
	return orderclient.View{
		OrderState: workflows.OrderState{
			OrderID: "42", WorkflowID: "order-42", CustomerID: "c-1", Status: workflows.Completed,
			Lines:         []inventory.Line{{SKU: "BOOK-GOPL", Name: "The Go book", Qty: 2, UnitPriceCents: 3999}},
			TotalCents:    7998,
			ReservationID: "rsv_1", ChargeID: "ch_1", ShipmentID: "shp_1", TrackingNumber: "TRK1",
			Steps: []workflows.StepRecord{
				{Name: workflows.StepReserve, Key: "order-42/reserve", OK: true, Detail: "reservation rsv_1", At: t0},
				{Name: workflows.StepCancelWindow, OK: true, Detail: "0s passed without a cancel", At: t0},
			},
			Compensations:  []workflows.CompensationRecord{},
			Transitions:    []workflows.Transition{{Status: workflows.Pending, At: t0}, {Status: workflows.Completed, At: t0.Add(time.Second)}},
			RefusedCancels: []workflows.RefusedCancel{{Reason: "too late", Why: "shipment shp_1 was already created", At: t0}},
			StartedAt:      t0, EndedAt: t0.Add(time.Second),
		},
		RunID: "run-1", TemporalStatus: "Completed", WebURL: "http://ui/namespaces/default/workflows/order-42/run-1/history?a=1&b=2",
	}
}

// cancelledView is an order that was cancelled and undid two steps.
func cancelledView() orderclient.View {
	return orderclient.View{
		OrderState: workflows.OrderState{
			OrderID: "43", WorkflowID: "order-43", CustomerID: "c-2", Status: workflows.Cancelled,
			Steps: []workflows.StepRecord{{Name: workflows.StepCharge, Key: "order-43/charge", Detail: "stopped by the cancel", At: t0}},
			Compensations: []workflows.CompensationRecord{
				{Name: workflows.CompensateRefund, Key: "order-43/charge", Detail: "refunded: $1.00 given back", At: t0},
				{Name: workflows.CompensateRelease, Key: "order-43/reserve", Detail: "released: 1 unit(s) returned to stock", At: t0},
			},
			CancelReason: "changed my mind", CancelledBy: workflows.CancelledBySignal,
			StartedAt: t0, EndedAt: t0,
		},
		RunID: "run-2", TemporalStatus: "Canceled", WebURL: "http://ui/x",
	}
}

func TestPrintViewText(t *testing.T) {
	var b bytes.Buffer
	if err := printView(&b, completedView()); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"Order 42: COMPLETED\n",
		"Temporal status Completed",
		"Customer:", "c-1",
		"Total:", "$79.98",
		"2 × BOOK-GOPL", "$39.99 each",
		"Reservation:", "rsv_1", "Charge:", "ch_1", "Shipment:", "shp_1", "Tracking number:", "TRK1",
		"Steps done:", "2026-01-02T03:04:05Z", "reserve", "order-42/reserve", "done", "cancel-window",
		"Refused cancels:", `"too late"`, "shipment shp_1 was already created",
		"Web UI: http://ui/namespaces/default/workflows/order-42/run-1/history?a=1&b=2\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Compensations run:") {
		t.Errorf("text shows an empty compensations section:\n%s", got)
	}

	b.Reset()
	if err := printView(&b, cancelledView()); err != nil {
		t.Fatal(err)
	}
	got = b.String()
	for _, want := range []string{
		"Order 43: CANCELLED\n",
		"Cancelled:", "changed my mind (cancel-order signal)",
		"Steps done:", "not done", "stopped by the cancel",
		"Compensations run:", "refund", "order-43/charge", "refunded: $1.00 given back", "release", "order-43/reserve",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
}

func TestPrintViewNote(t *testing.T) {
	v := orderclient.View{
		OrderState:     workflows.OrderState{OrderID: "44", WorkflowID: "order-44", Status: workflows.Pending},
		TemporalStatus: "Running",
		Note:           "the order's worker did not answer",
	}
	var b bytes.Buffer
	if err := printView(&b, v); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.Contains(got, "Note:") || !strings.Contains(got, "the order's worker did not answer") || strings.Contains(got, "Started:") {
		t.Errorf("text = %s; want the note and no empty Started", got)
	}
}

func TestPrintViewNeedsAttention(t *testing.T) {
	at := time.Date(2030, 1, 2, 10, 5, 0, 0, time.UTC)
	v := orderclient.View{
		OrderState: workflows.OrderState{
			OrderID: "45", WorkflowID: "order-45", Status: workflows.NeedsAttention,
			Attention: &workflows.Attention{Compensation: workflows.CompensateRefund, Key: "order-45/charge", Error: "refund refused: refunds are switched off", Since: at},
			Resumes:   []workflows.Resume{{Reason: "tried once", At: at.Add(-time.Minute)}},
		},
		TemporalStatus: "Running",
	}
	var b bytes.Buffer
	if err := printView(&b, v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Order 45: NEEDS_ATTENTION",
		"since 2030-01-02T10:05:00Z, the refund of order-45/charge could not be done: refund refused: refunds are switched off",
		"starter resume 45",
		`"tried once"`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRenderViewJSON(t *testing.T) {
	var b bytes.Buffer
	a := &app{stdout: &b, output: cli.JSON}
	if err := cli.Render(a.stdout, a.output, completedView(), printView); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, b.String())
	}
	for key, want := range map[string]any{
		"order_id": "42", "workflow_id": "order-42", "status": "COMPLETED", "run_id": "run-1",
		"temporal_status": "Completed", "customer_id": "c-1", "total_cents": 7998.0, "tracking_number": "TRK1",
		"web_url": "http://ui/namespaces/default/workflows/order-42/run-1/history?a=1&b=2",
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if strings.Contains(b.String(), `\u0026`) {
		t.Errorf("the Web UI link is HTML-escaped: %s", b.String())
	}
}

func TestPrintPlaced(t *testing.T) {
	v := orderclient.View{
		OrderState: workflows.OrderState{OrderID: "42", WorkflowID: "order-42", Status: workflows.Pending},
		RunID:      "run-1", TemporalStatus: "Running", WebURL: "http://ui/x",
	}
	var b bytes.Buffer
	if err := printPlaced(&b, v); err != nil {
		t.Fatal(err)
	}
	want := `Placed order 42.
  Order ID:     42
  Workflow ID:  order-42
  Run ID:       run-1
  Web UI:       http://ui/x
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func summaries() []orderclient.Summary {
	return []orderclient.Summary{
		{OrderID: "43", WorkflowID: "order-43", RunID: "r2", Status: workflows.AwaitingFulfillment, CustomerID: "c-2", TemporalStatus: "Running", StartedAt: t0.Add(time.Minute)},
		{OrderID: "42", WorkflowID: "order-42", RunID: "r1", Status: workflows.Completed, CustomerID: "c-1", TemporalStatus: "Completed", StartedAt: t0, EndedAt: t0.Add(time.Second)},
	}
}

func TestPrintSummariesText(t *testing.T) {
	var b bytes.Buffer
	if err := printSummaries(&b, summaries()); err != nil {
		t.Fatal(err)
	}
	want := `ORDER  STATUS                CUSTOMER  STARTED               ENDED                 TEMPORAL
43     AWAITING_FULFILLMENT  c-2       2026-01-02T03:05:05Z  -                     Running
42     COMPLETED             c-1       2026-01-02T03:04:05Z  2026-01-02T03:04:06Z  Completed
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	if err := printSummaries(&b, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != "No orders found.\n" {
		t.Errorf("empty list = %q", b.String())
	}
}

func TestRenderSummariesJSON(t *testing.T) {
	var b bytes.Buffer
	a := &app{stdout: &b, output: cli.JSON}
	if err := cli.Render(a.stdout, a.output, summaries(), printSummaries); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, b.String())
	}
	if len(got) != 2 || got[0]["order_id"] != "43" || got[0]["workflow_id"] != "order-43" || got[0]["status"] != "AWAITING_FULFILLMENT" ||
		got[1]["status"] != "COMPLETED" || got[1]["ended_at"] != "2026-01-02T03:04:06Z" {
		t.Errorf("JSON = %s", b.String())
	}
	if _, ok := got[0]["ended_at"]; ok {
		t.Errorf("a running order has an ended_at: %s", b.String())
	}

	b.Reset()
	if err := cli.Render(a.stdout, a.output, []orderclient.Summary{}, printSummaries); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("empty list as JSON = %q, want []", b.String())
	}
}

func TestEndLine(t *testing.T) {
	failed := cancelledView()
	failed.Status, failed.FailureReason, failed.CancelReason, failed.CancelledBy = workflows.Failed, "charge failed: card declined", "", ""
	terminated := orderclient.View{OrderState: workflows.OrderState{OrderID: "45", Status: workflows.Reserving}, TemporalStatus: "Terminated", Note: "no final state"}
	for _, tt := range []struct {
		v    orderclient.View
		want string
	}{
		{completedView(), "order 42 COMPLETED: $79.98 charged, shipment shp_1, tracking number TRK1"},
		{cancelledView(), "order 43 CANCELLED: changed my mind (cancel-order signal); 2 compensation(s) ran"},
		{failed, "order 43 FAILED: charge failed: card declined; 2 compensation(s) ran"},
		{terminated, "order 45 is RESERVING, its workflow Terminated: no final state"},
	} {
		if got := endLine(tt.v); got != tt.want {
			t.Errorf("endLine = %q, want %q", got, tt.want)
		}
	}
}
