package orderclient

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// updater is a Temporal client whose order is running and answers the
// cancel-order update with result, or fails it with err; it records the
// updates it was sent and counts the signals.
type updater struct {
	client.Client
	result  workflows.CancelResult
	err     error
	updates []client.UpdateWorkflowOptions
	signals int
}

func (u *updater) DescribeWorkflow(context.Context, string, string) (*client.WorkflowExecutionDescription, error) {
	return described("run-1", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)()
}

func (u *updater) SignalWorkflow(context.Context, string, string, string, any) error {
	u.signals++
	return nil
}

func (u *updater) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	u.updates = append(u.updates, opts)
	return &updateHandle{result: u.result, err: u.err}, nil
}

type updateHandle struct {
	client.WorkflowUpdateHandle
	result workflows.CancelResult
	err    error
}

func (h *updateHandle) Get(ctx context.Context, ptr any) error {
	if errors.Is(h.err, context.DeadlineExceeded) {
		<-ctx.Done() // no worker answers: the wait lasts until the deadline
		return ctx.Err()
	}
	if h.err != nil {
		return h.err
	}
	*ptr.(*workflows.CancelResult) = h.result
	return nil
}

// Cancel sends the cancel-order update, never the signal, and turns the
// order's answer into an accepted cancel or an error that says why not.
func TestCancel(t *testing.T) {
	accepted := workflows.CancelResult{Accepted: true, Status: workflows.Compensating, Undoing: []string{"refund", "release"}}
	tests := []struct {
		name    string
		result  workflows.CancelResult
		err     error
		wantErr string // "" for none
		refused bool
	}{
		{name: "accepted", result: accepted},
		{
			name:    "refused by the validator",
			err:     temporal.NewApplicationError("order 42 cannot be cancelled: shipment shp_1 was already created, tracking number TRK1", ""),
			wantErr: "order 42 cannot be cancelled: shipment shp_1 was already created, tracking number TRK1",
			refused: true,
		},
		{
			name:    "refused at the step boundary",
			result:  workflows.CancelResult{Status: workflows.Shipping, Why: "shipment shp_1 was already created, tracking number TRK1"},
			wantErr: "order 42 cannot be cancelled: shipment shp_1 was already created, tracking number TRK1",
			refused: true,
		},
		{name: "server error", err: errors.New("connection reset"), wantErr: "cancel order 42: connection reset"},
		{
			name:    "no worker answers",
			err:     context.DeadlineExceeded,
			wantErr: `order 42 did not answer the cancel within 50ms: is a worker running for task queue "orders"? The cancel may still take effect once one runs`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			temporal := &updater{result: tt.result, err: tt.err}
			c := &Client{Temporal: temporal, Namespace: "default", CancelTimeout: 50 * time.Millisecond}

			got, err := c.Cancel(context.Background(), "42", "changed my mind")

			if len(temporal.updates) != 1 || temporal.signals != 0 {
				t.Fatalf("%d updates and %d signals sent, want 1 update alone", len(temporal.updates), temporal.signals)
			}
			u := temporal.updates[0]
			if u.UpdateName != ordersaga.CancelOrderUpdate || u.WorkflowID != "order-42" || u.RunID != "run-1" ||
				u.WaitForStage != client.WorkflowUpdateStageCompleted || !reflect.DeepEqual(u.Args, []any{workflows.CancelRequest{Reason: "changed my mind"}}) {
				t.Errorf("update sent = %+v", u)
			}
			var refused *RefusedError
			if errors.As(err, &refused) != tt.refused {
				t.Errorf("error %v: refused = %v, want %v", err, !tt.refused, tt.refused)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Cancel: %v", err)
				}
				if !reflect.DeepEqual(got.CancelResult, tt.result) || got.OrderID != "42" || got.RunID != "run-1" {
					t.Errorf("Cancel = %+v, want the update's result %+v", got, tt.result)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Cancel error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// An ended order is refused before any update is sent, saying how it ended.
func TestEndedErrorSaysHowTheOrderEnded(t *testing.T) {
	tests := []struct {
		state workflows.OrderState
		want  string
	}{
		{
			workflows.OrderState{OrderID: "42", Status: workflows.Completed, ShipmentID: "shp_1", TrackingNumber: "TRK1"},
			"order 42 already ended COMPLETED (shipped with tracking number TRK1, shipment shp_1): there is nothing to cancel",
		},
		{
			workflows.OrderState{OrderID: "42", Status: workflows.Failed, FailureReason: "charge failed: payment declined"},
			"order 42 already ended FAILED (charge failed: payment declined): there is nothing to cancel",
		},
		{
			workflows.OrderState{OrderID: "42", Status: workflows.Cancelled, CancelReason: "changed my mind"},
			"order 42 already ended CANCELLED (cancelled: changed my mind): there is nothing to cancel",
		},
		{workflows.OrderState{OrderID: "42", Status: workflows.Completed}, "order 42 already ended COMPLETED: there is nothing to cancel"},
	}
	for _, tt := range tests {
		if got := endedError(View{OrderState: tt.state}, "").Error(); got != tt.want || strings.Contains(got, "\n") {
			t.Errorf("endedError = %q, want %q", got, tt.want)
		}
	}
}

// signaler is a Temporal client for SignalCancel: waitServer's order,
// whose signals fail with err; it records the signals it was sent and
// counts the updates.
type signaler struct {
	waitServer
	err     error
	signals []sentSignal
	updates int
}

// describe is one answer of waitServer's DescribeWorkflow.
type describe = func() (*client.WorkflowExecutionDescription, error)

// sentSignal is one signal a signaler was sent.
type sentSignal struct {
	workflowID, runID, name string
	arg                     any
}

func (s *signaler) SignalWorkflow(_ context.Context, workflowID, runID, name string, arg any) error {
	s.signals = append(s.signals, sentSignal{workflowID, runID, name, arg})
	return s.err
}

func (s *signaler) UpdateWorkflow(context.Context, client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	s.updates++
	return nil, errors.New("no update expected")
}

// SignalCancel sends the cancel-order signal to the running order's run,
// never the update, and sends nothing to an order that has ended.
func TestSignalCancel(t *testing.T) {
	running := described("run-1", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
	ended := described("run-1", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	endedErr := "order 42 already ended COMPLETED: there is nothing to cancel"
	tests := []struct {
		name        string
		describes   []describe
		signalErr   error
		wantSignals int
		wantErr     string // "" for none
	}{
		{name: "running", describes: []describe{running}, wantSignals: 1},
		{name: "server error", describes: []describe{running}, signalErr: errors.New("connection reset"), wantSignals: 1,
			wantErr: "signal the cancel to order 42: connection reset"},
		{name: "ended", describes: []describe{ended}, wantErr: endedErr},
		{name: "ended before the signal", describes: []describe{running, ended}, signalErr: serviceerror.NewNotFound("workflow not found"), wantSignals: 1,
			wantErr: endedErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			temporal := &signaler{waitServer: waitServer{describes: tt.describes, gets: []func(any) error{completed}}, err: tt.signalErr}
			c := &Client{Temporal: temporal, Namespace: "default"}

			v, err := c.SignalCancel(context.Background(), "42", "changed my mind")

			if len(temporal.signals) != tt.wantSignals || temporal.updates != 0 {
				t.Fatalf("%d signals and %d updates sent, want %d signals alone", len(temporal.signals), temporal.updates, tt.wantSignals)
			}
			want := sentSignal{"order-42", "run-1", ordersaga.CancelOrderSignal, workflows.CancelRequest{Reason: "changed my mind"}}
			if tt.wantSignals > 0 && !reflect.DeepEqual(temporal.signals[0], want) {
				t.Errorf("signal sent = %+v, want %+v", temporal.signals[0], want)
			}
			if tt.wantErr == "" {
				if err != nil || v.OrderID != "42" || v.RunID != "run-1" || v.TemporalStatus != "Running" {
					t.Errorf("SignalCancel = %+v, %v; want the running order's view", v, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("SignalCancel error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
