package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestReusedOrderIDAfterTemporalForgot places an order that completes,
// deletes its workflow with the Temporal CLI (as an operator, or the
// namespace's retention, would), and places the same order ID again, to
// another address and to the same one. Temporal no longer refuses the ID;
// the order service's register does: the second order ends FAILED at once,
// saying the ID was used and to pick another, runs no step and undoes
// nothing, and the stores hold exactly the first order's records,
// unchanged. The audit judges both: the first by the stores alone.
func TestReusedOrderIDAfterTemporalForgot(t *testing.T) {
	for _, tc := range []struct{ name, address string }{
		{"other address", "2 Elm St"},
		{"same address", "1 Main St"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			s.startWorker(t, "worker")
			const id = "reused-1"
			wf := ordersaga.WorkflowID(id)
			place := func(address string) result {
				return s.starter(t, "place", "--id", id, "--customer", "c-1", "--item", "BOOK-GOPL:1", "--payment", payment.TokenVisa,
					"--address", address, "--cancel-window", "0s", "--wait")
			}

			if r := place("1 Main St"); r.code != 0 || !strings.Contains(r.stdout, "Order "+id+": COMPLETED") {
				t.Fatalf("first placement: want exit 0 and COMPLETED: %s", r)
			}
			first := view(t, s.starter(t, "status", id, "-o", "json"), 0)
			if first.Status != workflows.Completed || first.Placement == "" || first.Placement != first.RunID {
				t.Fatalf("first placement: status %s, placement %q, run %s; want COMPLETED, placed as its run", first.Status, first.Placement, first.RunID)
			}
			st := s.stores(t)
			before := st.contents(t)
			assertFirstPlacementRecords(t, before, first)

			s.deleteWorkflow(t, id)

			r := place(tc.address)
			claim := registeredClaim(t, s, id)
			if claim.Placement != first.Placement || claim.WorkflowID != wf {
				t.Fatalf("the register holds %+v, want the first placement %s of %s", claim, first.Placement, wf)
			}
			reason := fmt.Sprintf("claim failed: order ID %q already used: claimed %s by workflow %s (placement %s); order IDs cannot be reused, pick another",
				id, claim.ClaimedAt.UTC().Format(time.RFC3339), wf, first.Placement)
			if r.code != 3 || !strings.Contains(r.stdout, "Order "+id+": FAILED") || !strings.Contains(r.stdout, reason) ||
				!strings.Contains(r.stderr, reason) {
				t.Fatalf("second placement: want exit 3, FAILED with the reason %q: %s", reason, r)
			}

			second := view(t, s.starter(t, "status", id, "-o", "json"), 0)
			if second.Status != workflows.Failed || second.FailureReason != reason || second.TemporalStatus != "Failed" {
				t.Errorf("second placement ended %s (%s): %q; want FAILED with the claim's reason", second.Status, second.TemporalStatus, second.FailureReason)
			}
			if second.Placement == "" || second.Placement == first.Placement || second.Placement != second.RunID {
				t.Errorf("second placement is %q (run %s), want a placement of its own, not the first's %s", second.Placement, second.RunID, first.Placement)
			}
			if len(second.Steps) != 1 || second.Steps[0].Name != workflows.StepClaim || second.Steps[0].OK || len(second.Compensations) != 0 {
				t.Errorf("second placement: steps %+v, compensations %+v; want only the refused claim, nothing undone", second.Steps, second.Compensations)
			}
			assertNoStepScheduled(t, s.orders(t).Temporal, wf)

			if after := st.contents(t); !reflect.DeepEqual(after, before) {
				t.Errorf("the stores changed:\nbefore %+v\n after %+v", before, after)
			}

			// The audit reads Temporal's list: once it shows the second run
			// and no longer the first, it judges the first placement by the
			// stores alone and the second as failed, holding nothing.
			eventually(t, orderTimeout, "Temporal lists only the second run of "+wf, func() (bool, string) {
				var runs []string
				for _, e := range s.listRuns(t, fmt.Sprintf("WorkflowId = '%s'", wf)) {
					runs = append(runs, e.GetExecution().GetRunId()+" "+e.GetStatus().String())
				}
				return slices.Equal(runs, []string{second.RunID + " Failed"}), strings.Join(runs, ", ")
			})
			assertAuditJudged(t, s, map[workflows.Status]int{workflows.Failed: 1}, 1)
		})
	}
}

// assertFirstPlacementRecords checks that the stores hold exactly the
// completed order's records, each carrying its placement.
func assertFirstPlacementRecords(t *testing.T, c contents, v orderclient.View) {
	t.Helper()
	key := v.WorkflowID + "/"
	wantRes := inventory.Reservation{ID: v.ReservationID, Key: key + workflows.StepReserve, OrderID: v.OrderID, Placement: v.Placement,
		Status: inventory.Reserved, Lines: v.Lines, TotalCents: v.TotalCents}
	wantCharge := payment.Charge{ID: v.ChargeID, Key: key + workflows.StepCharge, OrderID: v.OrderID, Placement: v.Placement,
		AmountCents: v.TotalCents, Status: payment.Captured}
	wantShipment := shipping.Shipment{ID: v.ShipmentID, Key: key + workflows.StepShip, OrderID: v.OrderID, Placement: v.Placement,
		TrackingNumber: v.TrackingNumber, Status: shipping.Created}
	if !reflect.DeepEqual(c.Reservations, []inventory.Reservation{wantRes}) {
		t.Errorf("reservations %+v, want %+v", c.Reservations, wantRes)
	}
	if !reflect.DeepEqual(c.Charges, []payment.Charge{wantCharge}) {
		t.Errorf("charges %+v, want %+v", c.Charges, wantCharge)
	}
	if !reflect.DeepEqual(c.Shipments, []shipping.Shipment{wantShipment}) {
		t.Errorf("shipments %+v, want %+v", c.Shipments, wantShipment)
	}
}

// deleteWorkflow deletes the order's workflow with the Temporal CLI, as
// an operator or the namespace's retention would, and waits until Temporal
// no longer knows it.
func (s *stack) deleteWorkflow(t *testing.T, orderID string) {
	t.Helper()
	wf := ordersaga.WorkflowID(orderID)
	if r := runCommand(t, temporalBin(t), "workflow", "delete", "-w", wf, "--address", s.address); r.code != 0 {
		t.Fatalf("temporal workflow delete -w %s: %s", wf, r)
	}
	eventually(t, orderTimeout, "Temporal forgets "+wf, func() (bool, string) {
		_, err := s.orders(t).Temporal.DescribeWorkflowExecution(context.Background(), wf, "")
		var notFound *serviceerror.NotFound
		return errors.As(err, &notFound), fmt.Sprint(err)
	})
}

// registeredClaim reads the order service's register for the claim on
// orderID.
func registeredClaim(t *testing.T, s *stack, orderID string) orders.Claim {
	t.Helper()
	reg, err := orders.Open(context.Background(), filepath.Join(s.dataDir, orders.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	claim, found, err := reg.ClaimByOrderID(context.Background(), orderID)
	if err != nil || !found {
		t.Fatalf("the register has no claim on order ID %s (%v)", orderID, err)
	}
	return claim
}
