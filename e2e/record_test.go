package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/workflows"
)

// recordDirEnv names the directory TestRecordHistories writes to; the test
// is skipped without it. `make histories` sets it.
const recordDirEnv = "ORDERSAGA_RECORD_HISTORIES"

// TestRecordHistories drives one order down each path of the saga on a real
// server (for reused-order-id, the second order placed with an ID whose
// first order Temporal has forgotten) and writes each order's history as
// JSON (the format of `temporal workflow show --output json`) to
// $ORDERSAGA_RECORD_HISTORIES/<path>.json.
// workflows/replay_test.go replays those files against the current code, so
// a change that would break running orders fails `go test`.
func TestRecordHistories(t *testing.T) {
	dir := os.Getenv(recordDirEnv)
	if dir == "" {
		t.Skip(recordDirEnv + " is not set; run `make histories` to record the histories again")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := newStack(t)
	w := startServiceWorkers(t, s)

	paths := []struct {
		name  string
		order workflows.Order
		drive func(t *testing.T, orderID string)
		want  workflows.Status
	}{
		{"completed", recordOrder("completed", payment.TokenVisa, 0), nil, workflows.Completed},
		{"flaky-payment", recordOrder("flaky-payment", payment.TokenFlaky, 0), nil, workflows.Completed},
		{"declined", recordOrder("declined", payment.TokenDeclined, 0), nil, workflows.Failed},
		{"out-of-stock", withItems(recordOrder("out-of-stock", payment.TokenVisa, 0), inventory.Item{SKU: "LAMP-LIMITED", Qty: 4}), nil, workflows.Failed},
		{"undeliverable", withAddress(recordOrder("undeliverable", payment.TokenVisa, 0), "undeliverable: nowhere"), nil, workflows.Failed},
		{"cancelled-by-signal", recordOrder("cancelled-by-signal", payment.TokenVisa, time.Hour), s.cancelInWindow, workflows.Cancelled},
		{"cancelled-by-update", recordOrder("cancelled-by-update", payment.TokenVisa, time.Hour), s.cancelByUpdateInWindow, workflows.Cancelled},
		{"cancelled-by-temporal", recordOrder("cancelled-by-temporal", payment.TokenVisa, time.Hour), s.cancelThroughTemporal, workflows.Cancelled},
		{"refused-late-cancel", recordOrder("refused-late-cancel", payment.TokenVisa, 5*time.Second),
			func(t *testing.T, id string) { w.cancelAfterShipment(t, id, s.signalCancel) }, workflows.Completed},
		{"refused-late-temporal-cancel", recordOrder("refused-late-temporal-cancel", payment.TokenVisa, 5*time.Second),
			func(t *testing.T, id string) { w.cancelAfterShipment(t, id, s.cancelWorkflow) }, workflows.Completed},
		{"refused-cancel-while-compensating", withAddress(recordOrder("refused-cancel-while-compensating", payment.TokenVisa, 5*time.Second), "undeliverable: nowhere"),
			w.cancelWhileCompensating, workflows.Failed},
		{"compensation-retried", withAddress(recordOrder("compensation-retried", payment.TokenVisa, 5*time.Second), "undeliverable: nowhere"),
			s.failRefundOnce, workflows.Failed},
		{"needs-attention-resumed", withAddress(recordOrder("needs-attention-resumed", payment.TokenVisa, 5*time.Second), "undeliverable: nowhere"),
			s.needsAttentionThenResume, workflows.Failed},
		{"reused-order-id", recordOrder("reused-order-id", payment.TokenVisa, 0), s.placeAgainAfterDelete, workflows.Failed},
		{placedWithAnswer, recordOrder(placedWithAnswer, payment.TokenVisa, 0), nil, workflows.Completed},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			place := s.orders(t).Place
			if p.name == placedWithAnswer {
				place = s.orders(t).PlaceAndAnswer
			}
			if _, err := place(context.Background(), p.order); err != nil {
				t.Fatalf("place: %v", err)
			}
			if p.drive != nil {
				p.drive(t, p.order.ID)
			}
			v := s.wait(t, p.order.ID)
			if v.Status != p.want {
				t.Fatalf("order ended %s, want %s: %+v", v.Status, p.want, v.OrderState)
			}
			if refused := strings.HasPrefix(p.name, "refused-"); refused != (len(v.RefusedCancels) == 1) {
				t.Fatalf("order refused cancels %+v; want one refused cancel for a refused-* path only", v.RefusedCancels)
			}
			s.writeHistory(t, p.order.ID, filepath.Join(dir, p.name+".json"))
		})
	}
}

// placedWithAnswer is the path placed as `starter place` places an order:
// with the order-placed update in its first workflow task
// (Update-with-Start). The other paths are placed with a plain start.
const placedWithAnswer = "placed-with-answer"

func recordOrder(id, token string, window time.Duration) workflows.Order {
	return workflows.Order{
		ID: id, CustomerID: "c-" + id, PaymentToken: token, Address: shipTo,
		Items:        []inventory.Item{{SKU: "BOOK-GOPL", Qty: 1}, {SKU: "STICKER-PACK", Qty: 2}},
		CancelWindow: workflows.Duration(window),
	}
}

func withItems(o workflows.Order, items ...inventory.Item) workflows.Order {
	o.Items = items
	return o
}

func withAddress(o workflows.Order, address string) workflows.Order {
	o.Address = address
	return o
}

// serviceWorkers are one worker process per service, so that each can be
// stopped and started again on its own; they live as long as the test top.
type serviceWorkers struct {
	top   *testing.T
	s     *stack
	procs map[string]*process
}

func startServiceWorkers(top *testing.T, s *stack) *serviceWorkers {
	w := &serviceWorkers{top: top, s: s, procs: map[string]*process{}}
	for _, name := range []string{"order", "inventory", "payment", "shipping"} {
		w.start(name)
	}
	return w
}

// start starts the service's worker. A compensation gives up after 20s:
// longer than one attempt blocked on a locked store (compensation-retried),
// shorter than a lock held until the order needs attention
// (needs-attention-resumed).
func (w *serviceWorkers) start(service string) {
	w.procs[service] = w.s.startWorker(w.top, "worker-"+service, "--services", service, "--compensation-timeout", "20s")
}

func (w *serviceWorkers) stop(t *testing.T, service string) {
	w.procs[service].stop(t, syscall.SIGTERM)
}

// cancelAfterShipment makes a cancel reach the order together with its
// shipment's result, past the point of no return: with the shipping service
// down the order waits in SHIPPING; the order service stops; the shipment is
// created; the cancel is sent; then the order service starts again and
// reads both in one workflow task. The order refuses the cancel.
func (w *serviceWorkers) cancelAfterShipment(t *testing.T, orderID string, cancel func(t *testing.T, orderID string)) {
	w.s.waitStatus(t, orderID, workflows.AwaitingFulfillment)
	w.stop(t, "shipping")
	w.s.waitStatus(t, orderID, workflows.Shipping)
	w.stop(t, "order")
	w.start("shipping")
	eventually(t, orderTimeout, "the shipment of "+orderID+" is created", func() (bool, string) {
		d, err := w.s.orders(t).Temporal.DescribeWorkflowExecution(context.Background(), ordersaga.WorkflowID(orderID), "")
		if err != nil {
			return false, err.Error()
		}
		return len(d.GetPendingActivities()) == 0, fmt.Sprint(d.GetPendingActivities())
	})
	cancel(t, orderID)
	w.start("order")
}

// cancelWhileCompensating stops the payment service once the order is
// charged, so that after its shipment fails the order stays COMPENSATING
// (its refund waits for a payment worker); a cancel sent then is refused
// and recorded. The payment service then starts again and the order ends.
func (w *serviceWorkers) cancelWhileCompensating(t *testing.T, orderID string) {
	w.s.waitStatus(t, orderID, workflows.AwaitingFulfillment)
	w.stop(t, "payment")
	w.s.waitStatus(t, orderID, workflows.Compensating)
	w.s.signalCancel(t, orderID)
	eventually(t, orderTimeout, "the late cancel is refused", func() (bool, string) {
		v, err := w.s.orders(t).State(context.Background(), orderID)
		if err != nil {
			return false, err.Error()
		}
		return len(v.RefusedCancels) == 1, fmt.Sprint(v.RefusedCancels)
	})
	w.start("payment")
}

func (s *stack) signalCancel(t *testing.T, orderID string) {
	if _, err := s.orders(t).SignalCancel(context.Background(), orderID, "too late"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
}

func (s *stack) cancelWorkflow(t *testing.T, orderID string) {
	if err := s.orders(t).Temporal.CancelWorkflow(context.Background(), ordersaga.WorkflowID(orderID), ""); err != nil {
		t.Fatalf("cancel workflow: %v", err)
	}
}

// cancelInWindow sends the cancel-order signal once the order waits in its
// cancel window.
func (s *stack) cancelInWindow(t *testing.T, orderID string) {
	s.waitStatus(t, orderID, workflows.AwaitingFulfillment)
	if _, err := s.orders(t).SignalCancel(context.Background(), orderID, "customer changed their mind"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
}

// cancelByUpdateInWindow sends the cancel-order update once the order waits
// in its cancel window; the order accepts it.
func (s *stack) cancelByUpdateInWindow(t *testing.T, orderID string) {
	s.waitStatus(t, orderID, workflows.AwaitingFulfillment)
	answer, err := s.orders(t).Cancel(context.Background(), orderID, "customer changed their mind")
	if err != nil || !answer.Accepted {
		t.Fatalf("cancel by update: %+v, %v", answer, err)
	}
}

// cancelThroughTemporal cancels the workflow itself, as `temporal workflow
// cancel` or the Web UI would, once the order waits in its cancel window.
func (s *stack) cancelThroughTemporal(t *testing.T, orderID string) {
	s.waitStatus(t, orderID, workflows.AwaitingFulfillment)
	s.cancelWorkflow(t, orderID)
}

// failRefundOnce holds the payment database's write lock while the order's
// refund runs, so that the refund's first attempt fails (its store stays
// busy) and Temporal retries it; the lock is released once a second attempt
// is under way.
func (s *stack) failRefundOnce(t *testing.T, orderID string) {
	s.waitStatus(t, orderID, workflows.AwaitingFulfillment)
	release := holdWriteLock(t, filepath.Join(s.dataDir, payment.DatabaseFile))
	defer release()
	eventually(t, orderTimeout, "the refund of "+orderID+" is retried", func() (bool, string) {
		d, err := s.orders(t).Temporal.DescribeWorkflowExecution(context.Background(), ordersaga.WorkflowID(orderID), "")
		if err != nil {
			return false, err.Error()
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == "RefundPayment" && a.GetAttempt() >= 2 {
				return true, ""
			}
		}
		return false, fmt.Sprint(d.GetPendingActivities())
	})
}

// needsAttentionThenResume holds the payment database's write lock until
// the order's refund has given up and the order needs attention, then
// releases it, as an operator fixing the cause would, and resumes the
// order.
func (s *stack) needsAttentionThenResume(t *testing.T, orderID string) {
	s.waitStatus(t, orderID, workflows.AwaitingFulfillment)
	release := holdWriteLock(t, filepath.Join(s.dataDir, payment.DatabaseFile))
	s.waitStatus(t, orderID, workflows.NeedsAttention)
	release()
	if _, err := s.orders(t).Resume(context.Background(), orderID, "payment database unlocked"); err != nil {
		t.Fatalf("resume: %v", err)
	}
}

// placeAgainAfterDelete waits for the order to complete, deletes its
// workflow, as the namespace's retention would, and places the same order
// again: the second placement fails on its claim of the order ID, and its
// history is the one recorded.
func (s *stack) placeAgainAfterDelete(t *testing.T, orderID string) {
	if v := s.wait(t, orderID); v.Status != workflows.Completed {
		t.Fatalf("the first placement of %s ended %s, want COMPLETED", orderID, v.Status)
	}
	s.deleteWorkflow(t, orderID)
	order := recordOrder(orderID, payment.TokenVisa, 0)
	if _, err := s.orders(t).Place(context.Background(), order); err != nil {
		t.Fatalf("place %s again: %v", orderID, err)
	}
}

// writeHistory writes the order's whole history as JSON.
func (s *stack) writeHistory(t *testing.T, orderID, path string) {
	t.Helper()
	it := s.orders(t).Temporal.GetWorkflowHistory(context.Background(), ordersaga.WorkflowID(orderID), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", orderID, err)
		}
		h.Events = append(h.Events, e)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&h)
	if err != nil {
		t.Fatalf("encode history of %s: %v", orderID, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d events)", path, len(h.Events))
}
