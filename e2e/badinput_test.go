package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// Bounds of TestBadInput.
const (
	// invalidOrderTimeout bounds how long an invalid order may take to
	// fail: it needs one workflow task, no activity and no timer.
	invalidOrderTimeout = 30 * time.Second
	// maxOutcomeSize bounds the final state of an order refused for its
	// size: it must not echo the input.
	maxOutcomeSize = 4 << 10
	// serverBlobSizeLimit is the dev server's default limit on one
	// payload (limit.blobSize.error); a larger start is refused.
	serverBlobSizeLimit = 2 << 20
)

// TestBadInput sends what the starter would refuse through a raw Temporal
// client, as any client that bypasses orderclient.Place can: the workflow
// itself must refuse an invalid order at once without touching a store,
// and the server must refuse at the start an order too large to store.
// The starter's own limit on an order file is checked against the real
// server too. None of it changes a store.
func TestBadInput(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker")
	st := s.stores(t)
	before := stock(t, st)
	temporalClient := s.orders(t).Temporal

	t.Run("invalid order of 300 KB fails at once", func(t *testing.T) {
		order := rawOrder("lines")
		order.Items = make([]inventory.Item, 5000)
		for i := range order.Items {
			order.Items[i] = inventory.Item{SKU: fmt.Sprintf("SKU-%05d-%s", i, strings.Repeat("x", 32)), Qty: 1}
		}
		if size := jsonSize(t, order); size < 250<<10 || size > 400<<10 {
			t.Fatalf("the order is %d bytes of JSON, want about 300 KB", size)
		}
		assertFailsAtOnce(t, temporalClient, order, "invalid order: order has 5000 lines: the limit is 100; split the items over several orders")
	})

	t.Run("order over the server's blob size limit is refused at the start", func(t *testing.T) {
		order := rawOrder("huge")
		order.Address = strings.Repeat("x", serverBlobSizeLimit+serverBlobSizeLimit/4)
		ctx, cancel := context.WithTimeout(context.Background(), invalidOrderTimeout)
		defer cancel()

		_, err := temporalClient.ExecuteWorkflow(ctx, rawStart(order), ordersaga.OrderWorkflowType, order)

		var invalid *serviceerror.InvalidArgument
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "Blob data size exceeds limit") {
			t.Fatalf("start error = %v, want the server's InvalidArgument: Blob data size exceeds limit", err)
		}
		t.Logf("start refused: %v", err)
		assertNoWorkflow(t, temporalClient, order.ID)
	})

	// The CustomerId search attribute holds at most 2 KiB: an order must
	// fail as invalid before its customer ID reaches it.
	t.Run("customer ID over the server's search attribute limit fails at once", func(t *testing.T) {
		order := rawOrder("customer")
		order.CustomerID = strings.Repeat("c", 3<<10)
		assertFailsAtOnce(t, temporalClient, order, "invalid order: customer ID is 3072 characters long: the limit is 128")
	})

	t.Run("starter refuses an oversized order file", func(t *testing.T) {
		order := rawOrder("file")
		order.Address = strings.Repeat("x", serverBlobSizeLimit)
		b, err := json.Marshal(order)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "order.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}

		r := s.starter(t, "place", "--file", path)

		if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "is larger than 1 MiB") {
			t.Fatalf("want exit 1, empty stdout and one line on stderr saying the file is larger than 1 MiB: %s", r)
		}
		assertNoWorkflow(t, temporalClient, order.ID)
	})

	// Nothing reached a store: no stock moved, no order left a record.
	if after := stock(t, st); !reflect.DeepEqual(after, before) {
		t.Errorf("stock changed:\nbefore %+v\n after %+v", before, after)
	}
	assertRecords(t, st, map[string][3]string{"lines": {}, "huge": {}, "customer": {}, "file": {}})
	assertAuditClean(t, s, map[workflows.Status]int{workflows.Failed: 2})
}

// assertFailsAtOnce starts the order with a raw client and checks that it
// fails in its first workflow task, non-retryably, FAILED with the reason
// want, without a step, and with a final state that does not echo it.
func assertFailsAtOnce(t *testing.T, c client.Client, order workflows.Order, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), invalidOrderTimeout)
	defer cancel()

	run, err := c.ExecuteWorkflow(ctx, rawStart(order), ordersaga.OrderWorkflowType, order)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	err = run.Get(ctx, nil)

	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != workflows.OrderFailedError || !appErr.NonRetryable() {
		t.Fatalf("workflow error = %.500v, want a non-retryable %s error", err, workflows.OrderFailedError)
	}
	state, ok := orderclient.Outcome(err)
	if !ok || state.Status != workflows.Failed || state.FailureReason != want {
		t.Fatalf("final state %.500v (decoded: %v), want FAILED with the reason %q", fmt.Sprintf("%+v", state), ok, want)
	}
	if len(state.Steps) != 0 || len(state.Compensations) != 0 {
		t.Errorf("steps %+v, compensations %+v; want none", state.Steps, state.Compensations)
	}
	if size := jsonSize(t, state); size > maxOutcomeSize {
		t.Errorf("the final state is %d bytes, want at most %d", size, maxOutcomeSize)
	}
	desc, err := c.DescribeWorkflow(ctx, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	if desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Errorf("workflow status %s, want FAILED", desc.Status)
	}
	assertNoStepScheduled(t, c, run.GetID())
}

// assertNoStepScheduled checks that the workflow's history holds no activity
// and no timer: the order failed before it touched any service. (How many
// workflow tasks it took depends on the machine's load, not on the order.)
func assertNoStepScheduled(t *testing.T, c client.Client, workflowID string) {
	t.Helper()
	it := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enumspb.EVENT_TYPE_TIMER_STARTED:
			t.Errorf("history of %s has %s (event %d): an invalid order must not start any step", workflowID, e.GetEventType(), e.GetEventId())
		}
	}
}

// rawOrder is a valid order, which a test then spoils.
func rawOrder(id string) workflows.Order {
	return workflows.Order{
		ID: id, CustomerID: "mallory", Items: []inventory.Item{{SKU: "BOOK-GOPL", Qty: 1}},
		PaymentToken: "tok_visa", Address: shipTo,
	}
}

// rawStart starts an order the way a client that bypasses orderclient.Place
// would: the right workflow ID and task queue, nothing else.
func rawStart(order workflows.Order) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: ordersaga.WorkflowID(order.ID), TaskQueue: ordersaga.OrdersTaskQueue}
}

func jsonSize(t *testing.T, v any) int {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// assertNoWorkflow checks that Temporal has no workflow for the order.
func assertNoWorkflow(t *testing.T, c client.Client, orderID string) {
	t.Helper()
	_, err := c.DescribeWorkflow(context.Background(), ordersaga.WorkflowID(orderID), "")
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("describe %s: %v, want NotFound: no workflow may exist", ordersaga.WorkflowID(orderID), err)
	}
}
