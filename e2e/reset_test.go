package e2e

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestResetChargesOnce resets a completed order's workflow with the
// Temporal CLI, as an operator repairing a bad deployment would, to a
// workflow task before one of its steps. The reset run is the same
// placement (Temporal keeps the first run ID): it claims its order ID
// again and is accepted, and its steps find the first run's records and
// return them. The order completes again with one reservation, one charge
// and one shipment, unchanged, and the audit counts it once.
func TestResetChargesOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		// before finds the event that the reset goes back before: the
		// reset point is the completion of the workflow task that led to
		// it.
		before func(*historypb.HistoryEvent) bool
		// stepsBefore is how many steps the workflow scheduled before the
		// reset point: the run keeps their results.
		stepsBefore int
	}{
		{"before the charge", activityScheduled("ChargePayment"), 1},
		{"before the claim", claimRecorded, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			s.startWorker(t, "worker")
			const id = "reset-1"
			wf := ordersaga.WorkflowID(id)
			first := view(t, s.starter(t, "place", "--id", id, "--customer", "c-1", "--item", "BOOK-GOPL:1", "--payment", payment.TokenVisa,
				"--address", "1 Main St", "--cancel-window", "0s", "--wait", "-o", "json"), 0)
			if first.Status != workflows.Completed || first.Placement != first.RunID {
				t.Fatalf("order ended %s with placement %q (run %s), want COMPLETED, placed as its run", first.Status, first.Placement, first.RunID)
			}
			st := s.stores(t)
			before := st.contents(t)
			assertFirstPlacementRecords(t, before, first)

			event, steps := s.resetPoint(t, wf, first.RunID, tc.before)
			if steps != tc.stepsBefore {
				t.Fatalf("the reset point, event %d, comes after %d step(s), want %d", event, steps, tc.stepsBefore)
			}
			r := runCommand(t, temporalBin(t), "workflow", "reset", "-w", wf, "-e", strconv.FormatInt(event, 10),
				"--reason", "e2e: reset "+tc.name, "--address", s.address)
			if r.code != 0 {
				t.Fatalf("temporal workflow reset -e %d: %s", event, r)
			}
			var newRun string
			eventually(t, orderTimeout, "a new run of "+wf+" completes", func() (bool, string) {
				d, err := s.orders(t).Temporal.DescribeWorkflowExecution(context.Background(), wf, "")
				if err != nil {
					return false, err.Error()
				}
				info := d.GetWorkflowExecutionInfo()
				newRun = info.GetExecution().GetRunId()
				return newRun != first.RunID && info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED,
					fmt.Sprintf("run %s %s", newRun, info.GetStatus())
			})

			if after := st.contents(t); !reflect.DeepEqual(after, before) {
				t.Errorf("the reset run changed the stores:\nbefore %+v\n after %+v", before, after)
			}
			charges := st.contents(t).Charges
			if len(charges) != 1 || charges[0].Key != wf+"/"+workflows.StepCharge || charges[0].Status != payment.Captured ||
				charges[0].ID != first.ChargeID || charges[0].Placement != first.RunID {
				t.Errorf("charges %+v, want one captured charge %s of placement %s (the first run)", charges, first.ChargeID, first.RunID)
			}

			again := view(t, s.starter(t, "status", id, "-o", "json"), 0)
			if again.Status != workflows.Completed || again.RunID != newRun || again.Placement != first.Placement ||
				again.ChargeID != first.ChargeID || again.ReservationID != first.ReservationID || again.ShipmentID != first.ShipmentID {
				t.Errorf("status after the reset: %s, run %s, placement %s, reservation %s, charge %s, shipment %s; "+
					"want COMPLETED, run %s, the first placement %s and its records",
					again.Status, again.RunID, again.Placement, again.ReservationID, again.ChargeID, again.ShipmentID, newRun, first.Placement)
			}
			if len(again.Steps) == 0 || again.Steps[0].Name != workflows.StepClaim || !again.Steps[0].OK ||
				!strings.Contains(again.Steps[0].Detail, first.Placement) {
				t.Errorf("the reset run's steps are %+v, want its claim first, accepted for placement %s", again.Steps, first.Placement)
			}

			eventually(t, orderTimeout, "Temporal lists the reset run of "+wf+" as completed", func() (bool, string) {
				var runs []string
				found := false
				for _, e := range s.listRuns(t, fmt.Sprintf("WorkflowId = '%s'", wf)) {
					runs = append(runs, e.GetExecution().GetRunId()+" "+e.GetStatus().String())
					found = found || e.GetExecution().GetRunId() == newRun && e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
				}
				return found, strings.Join(runs, ", ")
			})
			assertAuditClean(t, s, map[workflows.Status]int{workflows.Completed: 1})
		})
	}
}

// activityScheduled finds the scheduling of the named activity.
func activityScheduled(activity string) func(*historypb.HistoryEvent) bool {
	return func(e *historypb.HistoryEvent) bool {
		return e.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
			e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == activity
	}
}

// claimRecorded finds the claim of the order ID, the order's one local
// activity, recorded as a marker by the workflow task that ran it: the
// order's first.
func claimRecorded(e *historypb.HistoryEvent) bool {
	return e.GetEventType() == enumspb.EVENT_TYPE_MARKER_RECORDED && e.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity"
}

// resetPoint returns the ID of the WorkflowTaskCompleted event just before
// the first event of the run's history that before matches (resetting to
// it runs that workflow task, and everything after, again), and how many
// activities the run scheduled before it.
func (s *stack) resetPoint(t *testing.T, workflowID, runID string, before func(*historypb.HistoryEvent) bool) (event int64, steps int) {
	t.Helper()
	var completed int64
	it := s.orders(t).Temporal.GetWorkflowHistory(context.Background(), workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		switch {
		case before(e):
			if completed == 0 {
				t.Fatalf("history of %s: event %d (%s) comes before any completed workflow task", workflowID, e.GetEventId(), e.GetEventType())
			}
			t.Logf("reset point: event %d, the workflow task before event %d (%s)", completed, e.GetEventId(), e.GetEventType())
			return completed, steps
		case e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			completed = e.GetEventId()
		case e.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			steps++
		}
	}
	t.Fatalf("history of %s: no event to reset before", workflowID)
	return 0, 0
}
