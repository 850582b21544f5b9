package orderclient

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/workflows"
)

// updateWithStarter is a Temporal client that answers Update-with-Start
// with answer (or fails it with err) and records what it was asked;
// DescribeWorkflow reports the order as ended with final (or running
// when final is nil). Every other method is unimplemented.
type updateWithStarter struct {
	client.Client
	answer workflows.PlacedResult
	err    error
	final  *workflows.OrderState

	start  client.StartWorkflowOptions
	update client.UpdateWorkflowOptions
}

type startOp struct{ runID string }

func (s startOp) Get(context.Context) (client.WorkflowRun, error) { return fakeRunID{id: s.runID}, nil }

type fakeRunID struct {
	client.WorkflowRun
	id string
}

func (r fakeRunID) GetRunID() string { return r.id }

type answerHandle struct {
	client.WorkflowUpdateHandle
	answer workflows.PlacedResult
}

// Get hands over the answer as the SDK does: through its encoding.
func (h answerHandle) Get(_ context.Context, valuePtr any) error {
	data, err := json.Marshal(h.answer)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, valuePtr)
}

func (u *updateWithStarter) NewWithStartWorkflowOperation(opts client.StartWorkflowOptions, _ any, _ ...any) client.WithStartWorkflowOperation {
	u.start = opts
	return startOp{runID: "run-1"}
}

func (u *updateWithStarter) UpdateWithStartWorkflow(_ context.Context, opts client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	u.update = opts.UpdateOptions
	if u.err != nil {
		return nil, u.err
	}
	return answerHandle{answer: u.answer}, nil
}

func (u *updateWithStarter) DescribeWorkflow(_ context.Context, id, _ string) (*client.WorkflowExecutionDescription, error) {
	status := enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if u.final != nil {
		status = enumspb.WORKFLOW_EXECUTION_STATUS_FAILED
	}
	desc := &client.WorkflowExecutionDescription{}
	desc.WorkflowExecution.ID, desc.WorkflowExecution.RunID, desc.Status = id, "run-1", status
	return desc, nil
}

func (u *updateWithStarter) GetWorkflow(context.Context, string, string) client.WorkflowRun {
	return fakeRun{get: func(valuePtr any) error {
		*valuePtr.(*workflows.OrderState) = *u.final
		return nil
	}}
}

// PlaceAndAnswer starts the order under its ID, never a second time, sends
// the order-placed update with the start and waits for its completion; it
// answers with the reservation, or a one-line refusal, or reads the answer
// from the final state of an order that ended before answering.
func TestPlaceAndAnswer(t *testing.T) {
	lines := []inventory.Line{{SKU: "BOOK-GOPL", Name: "The Go Programming Language", Qty: 2, UnitPriceCents: 3999}}
	tests := []struct {
		name        string
		fake        updateWithStarter
		wantErr     string // "" if reserved
		wantRefusal string
		wantIs      error
	}{
		{
			name: "reserved",
			fake: updateWithStarter{answer: workflows.PlacedResult{Reserved: true, Status: workflows.Charging, Lines: lines, TotalCents: 7998, ReservationID: "rsv_1"}},
		},
		{
			name:        "out of stock",
			fake:        updateWithStarter{answer: workflows.PlacedResult{Status: workflows.Compensating, Refusal: "reserve failed: out of stock: BOOK-GOPL"}},
			wantErr:     "order 42 refused: reserve failed: out of stock: BOOK-GOPL",
			wantRefusal: "reserve failed: out of stock: BOOK-GOPL",
		},
		{
			name:    "ID already in Temporal",
			fake:    updateWithStarter{err: serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", "run-0")},
			wantErr: "order 42 was placed before (workflow order-42); order IDs cannot be reused, pick another",
			wantIs:  ErrExists,
		},
		{
			name: "ended before answering",
			fake: updateWithStarter{err: errors.New("workflow execution already completed"),
				final: &workflows.OrderState{OrderID: "42", Status: workflows.Failed, FailureReason: `claim failed: order ID "42" already used`}},
			wantErr:     `order 42 refused: claim failed: order ID "42" already used`,
			wantRefusal: `claim failed: order ID "42" already used`,
		},
		{
			name:    "no answer in time",
			fake:    updateWithStarter{err: context.DeadlineExceeded},
			wantErr: `order 42 started (workflow order-42) but did not answer within 30s`,
			wantIs:  ErrNoAnswer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := tt.fake
			c := &Client{Temporal: &fake, Namespace: "default"}
			order := workflows.Order{ID: "42", CustomerID: "c-1", Items: []inventory.Item{{SKU: "BOOK-GOPL", Qty: 2}},
				PaymentToken: "tok_visa", Address: "1 Main St"}

			v, err := c.PlaceAndAnswer(context.Background(), order)

			if fake.start.ID != "order-42" || fake.start.TaskQueue != ordersaga.OrdersTaskQueue ||
				fake.start.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE ||
				fake.start.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL {
				t.Errorf("started with %+v; want order-42 on %s, REJECT_DUPLICATE, conflict FAIL", fake.start, ordersaga.OrdersTaskQueue)
			}
			if fake.update.UpdateName != ordersaga.OrderPlacedUpdate || fake.update.WaitForStage != client.WorkflowUpdateStageCompleted ||
				fake.update.WorkflowID != fake.start.ID || fake.update.RunID != "" {
				t.Errorf("update %q of %q (run %q) waiting for stage %v; want %q of the started %q, no run, completed",
					fake.update.UpdateName, fake.update.WorkflowID, fake.update.RunID, fake.update.WaitForStage, ordersaga.OrderPlacedUpdate, fake.start.ID)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("PlaceAndAnswer: %v", err)
				}
				if !v.Reserved || v.ReservationID != "rsv_1" || v.TotalCents != 7998 || len(v.Lines) != 1 || v.RunID != "run-1" || v.Status != workflows.Charging {
					t.Errorf("view %+v: want reserved rsv_1, $79.98, one line, run run-1, CHARGING", v)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %v, want one line containing %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			var refused *PlacementRefusedError
			if got := errors.As(err, &refused); got != (tt.wantRefusal != "") {
				t.Fatalf("refusal = %v for %v, want %v", got, err, tt.wantRefusal != "")
			}
			if refused != nil && (refused.View.Refusal != tt.wantRefusal || refused.View.Reserved || v.Refusal != tt.wantRefusal) {
				t.Errorf("refused view %+v, want the refusal %q", refused.View, tt.wantRefusal)
			}
		})
	}
}
