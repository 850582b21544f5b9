package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestCancelAnswersAcceptedOrRefused runs `starter cancel` against the real
// server and worker: a cancel in the window is accepted once the order is
// compensating, and the order ends CANCELLED; a cancel the order refuses
// (shipped, ended, a reason it cannot keep) exits 1 at once with the
// reason, and adds nothing to the order's history.
func TestCancelAnswersAcceptedOrRefused(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker")
	oc := s.orders(t)
	place := func(id, window string) {
		t.Helper()
		view(t, s.starter(t, "place", "--id", id, "--customer", "c-"+id, "--item", "BOOK-GOPL:1", "--item", "STICKER-PACK:2",
			"--payment", payment.TokenVisa, "--address", shipTo, "--cancel-window", window, "-o", "json"), 0)
	}
	place("upd-text", "10m")
	place("upd-json", "10m")
	place("upd-shipped", "0s")

	// Accepted, in text: the answer comes once the order compensates.
	s.waitStatus(t, "upd-text", workflows.AwaitingFulfillment)
	r := s.starter(t, "cancel", "upd-text", "--reason", "customer changed their mind")
	if r.code != 0 || !strings.Contains(r.stdout, "Cancel of order upd-text accepted: COMPENSATING (undoing refund, then release).") {
		t.Fatalf("cancel in the window: %s", r)
	}
	end := s.wait(t, "upd-text")
	if end.Status != workflows.Cancelled || end.CancelReason != "customer changed their mind" || len(end.RefusedCancels) != 0 {
		t.Fatalf("order upd-text ended %s, cancel reason %q, refused %+v", end.Status, end.CancelReason, end.RefusedCancels)
	}
	assertCompensations(t, end.OrderState, "refund order-upd-text/charge", "release order-upd-text/reserve")

	// Accepted, in JSON: the order's answer.
	s.waitStatus(t, "upd-json", workflows.AwaitingFulfillment)
	r = s.starter(t, "cancel", "upd-json", "-o", "json")
	var answer orderclient.Cancellation
	decode(t, r, &answer)
	if r.code != 0 || !answer.Accepted || answer.Status != workflows.Compensating || answer.Why != "" ||
		strings.Join(answer.Undoing, ",") != "refund,release" || answer.WorkflowID != "order-upd-json" {
		t.Fatalf("cancel -o json: %+v\n%s", answer, r)
	}
	if end := s.wait(t, "upd-json"); end.Status != workflows.Cancelled {
		t.Fatalf("order upd-json ended %s, want CANCELLED", end.Status)
	}

	// Refused by the validator: nothing enters the history.
	place("upd-long", "10m")
	s.waitStatus(t, "upd-long", workflows.AwaitingFulfillment)
	before := historyLength(t, oc, "order-upd-long")
	handle, err := oc.Temporal.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: "order-upd-long", UpdateName: ordersaga.CancelOrderUpdate, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.CancelRequest{Reason: strings.Repeat("r", workflows.MaxTextLength+1)}},
	})
	if err == nil {
		err = handle.Get(context.Background(), nil)
	}
	if err == nil || !strings.Contains(err.Error(), "cancel reason is 513 characters long: the limit is 512") {
		t.Errorf("update with a reason over the limit: %v, want the validator's refusal", err)
	}
	if after := historyLength(t, oc, "order-upd-long"); after != before {
		t.Errorf("the refused update added %d event(s) to the order's history", after-before)
	}
	if v := s.runningState(t, "upd-long"); v.Status != workflows.AwaitingFulfillment {
		t.Errorf("order upd-long is %s after the refused update, want %s", v.Status, workflows.AwaitingFulfillment)
	}

	// Shipped: refused at once with the tracking number, and nothing added.
	shipped := s.wait(t, "upd-shipped")
	if shipped.Status != workflows.Completed || shipped.TrackingNumber == "" {
		t.Fatalf("order upd-shipped ended %s with tracking number %q", shipped.Status, shipped.TrackingNumber)
	}
	before = historyLength(t, oc, "order-upd-shipped")
	r = s.starter(t, "cancel", "upd-shipped")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "tracking number "+shipped.TrackingNumber) ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("cancel of a shipped order: want exit 1 and one line with tracking number %s: %s", shipped.TrackingNumber, r)
	}
	if after := historyLength(t, oc, "order-upd-shipped"); after != before {
		t.Errorf("the refused cancel added %d event(s) to the order's history", after-before)
	}

	// Ended: refused, saying how it ended.
	r = s.starter(t, "cancel", "upd-text")
	if r.code != 1 || !strings.Contains(r.stderr, "order upd-text already ended CANCELLED (cancelled: customer changed their mind)") {
		t.Errorf("cancel of a cancelled order: %s", r)
	}

	// The signal, as the Web UI and older clients send it, has the same effect.
	r = s.starter(t, "cancel", "upd-long", "--signal")
	if r.code != 0 || !strings.Contains(r.stdout, "Cancel of order upd-long requested; it was AWAITING_FULFILLMENT.") {
		t.Errorf("cancel --signal: %s", r)
	}
	if end := s.wait(t, "upd-long"); end.Status != workflows.Cancelled || end.CancelledBy != workflows.CancelledBySignal {
		t.Errorf("order upd-long, cancelled by signal, ended %s by %q", end.Status, end.CancelledBy)
	}
}

// historyLength counts the events in a workflow's history.
func historyLength(t *testing.T, oc *orderclient.Client, workflowID string) int {
	t.Helper()
	it := oc.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			t.Fatalf("read the history of %s: %v", workflowID, err)
		}
		n++
	}
	return n
}

// runningState reads a running order's state from its worker.
func (s *stack) runningState(t *testing.T, orderID string) orderclient.View {
	t.Helper()
	v, err := s.orders(t).State(context.Background(), orderID)
	if err != nil || v.Note != "" {
		t.Fatalf("state of order %s: %v %s", orderID, err, v.Note)
	}
	return v
}

// TestCancelUpdateRacingTheShipment sends the cancel-order update while the
// order service is down and the shipment was just created, so that the
// order reads the update and the shipment's result in one workflow task:
// the shipment, past the point of no return, wins, the update says it was
// refused and why, and the order completes with the refusal recorded. The
// order's history replays against the current workflow code.
func TestCancelUpdateRacingTheShipment(t *testing.T) {
	s := newStack(t)
	w := startServiceWorkers(t, s)
	oc := s.orders(t)
	const orderID, updateID = "upd-race", "race-cancel"
	if _, err := oc.Place(context.Background(), recordOrder(orderID, payment.TokenVisa, 5*time.Second)); err != nil {
		t.Fatalf("place: %v", err)
	}
	answered := make(chan error, 1)
	var answer workflows.CancelResult
	w.cancelAfterShipment(t, orderID, func(t *testing.T, id string) {
		go func() {
			handle, err := oc.Temporal.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
				WorkflowID: ordersaga.WorkflowID(id), UpdateID: updateID, UpdateName: ordersaga.CancelOrderUpdate,
				WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{workflows.CancelRequest{Reason: "too late"}},
			})
			if err == nil {
				err = handle.Get(context.Background(), &answer)
			}
			answered <- err
		}()
		s.waitUpdateAdmitted(t, id, updateID)
	})
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("the racing update failed: %v", err)
		}
	case <-time.After(orderTimeout):
		t.Fatalf("the racing update was not answered within %s", orderTimeout)
	}
	end := s.wait(t, orderID)
	why := fmt.Sprintf("shipment %s was already created, tracking number %s", end.ShipmentID, end.TrackingNumber)
	if answer.Accepted || answer.Why != why {
		t.Errorf("update answered %+v, want refused because %s", answer, why)
	}
	if end.Status != workflows.Completed || len(end.RefusedCancels) != 1 || end.RefusedCancels[0].Why != why || len(end.Compensations) != 0 {
		t.Errorf("order ended %s, refused cancels %+v, compensations %+v", end.Status, end.RefusedCancels, end.Compensations)
	}

	history := s.history(t, orderID)
	replayer := worker.NewWorkflowReplayer()
	workflows.Register(replayer, workflows.Config{})
	if err := replayer.ReplayWorkflowHistory(quietLogger{}, history); err != nil {
		t.Errorf("the order's history does not replay: %v", err)
	}
}

// waitUpdateAdmitted waits until the server holds the update, before any
// worker has seen it.
func (s *stack) waitUpdateAdmitted(t *testing.T, orderID, updateID string) {
	t.Helper()
	eventually(t, orderTimeout, "update "+updateID+" is admitted", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := s.orders(t).Temporal.WorkflowService().PollWorkflowExecutionUpdate(ctx, &workflowservice.PollWorkflowExecutionUpdateRequest{
			Namespace:  s.orders(t).Namespace,
			UpdateRef:  &updatepb.UpdateRef{WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: ordersaga.WorkflowID(orderID)}, UpdateId: updateID},
			WaitPolicy: &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED},
		})
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// history reads the order's whole history.
func (s *stack) history(t *testing.T, orderID string) *historypb.History {
	t.Helper()
	it := s.orders(t).Temporal.GetWorkflowHistory(context.Background(), ordersaga.WorkflowID(orderID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", orderID, err)
		}
		h.Events = append(h.Events, e)
	}
	return &h
}
