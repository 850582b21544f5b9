package orderclient

import (
	"context"
	"errors"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/workflows"
)

// waitServer is a Temporal client for Wait: DescribeWorkflow answers from
// describes in turn (the last one again once they run out), and each run's
// Get from gets in turn. Every other method is unimplemented.
type waitServer struct {
	client.Client
	describes []func() (*client.WorkflowExecutionDescription, error)
	gets      []func(valuePtr any) error
	described int
	polled    []string // the runs Get was asked for, in order
}

func (w *waitServer) DescribeWorkflow(context.Context, string, string) (*client.WorkflowExecutionDescription, error) {
	d := w.describes[min(w.described, len(w.describes)-1)]
	w.described++
	return d()
}

func (w *waitServer) GetWorkflow(_ context.Context, _, runID string) client.WorkflowRun {
	return fakeRun{get: func(valuePtr any) error {
		w.polled = append(w.polled, runID)
		if len(w.gets) == 0 {
			return errors.New("no more polls expected")
		}
		get := w.gets[0]
		w.gets = w.gets[1:]
		return get(valuePtr)
	}}
}

func described(runID string, status enumspb.WorkflowExecutionStatus) func() (*client.WorkflowExecutionDescription, error) {
	return func() (*client.WorkflowExecutionDescription, error) {
		return &client.WorkflowExecutionDescription{WorkflowExecutionMetadata: client.WorkflowExecutionMetadata{
			WorkflowExecution: workflow.Execution{ID: "order-42", RunID: runID},
			Status:            status,
		}}, nil
	}
}

func failing(err error) func() (*client.WorkflowExecutionDescription, error) {
	return func() (*client.WorkflowExecutionDescription, error) { return nil, err }
}

// completed is the Get of a run that completed. The polls that wait for
// the ending decode nothing (nil): a client without the payload keys could
// not; only the final read does.
func completed(valuePtr any) error {
	if state, ok := valuePtr.(*workflows.OrderState); ok {
		*state = workflows.OrderState{OrderID: "42", Status: workflows.Completed, TotalCents: 1299}
	}
	return nil
}

// Wait tells the server's hiccups from the order's ending: polls that time
// out and a server that is briefly unavailable are waited out, so an order
// still running is never returned as its final state (which `place --wait`
// would report as "ended otherwise", exit 3); a reset run is followed to
// the newest one.
func TestWaitOutlastsAnUnavailableServer(t *testing.T) {
	defer func(d time.Duration) { awaitRetryInterval = d }(awaitRetryInterval)
	awaitRetryInterval = time.Millisecond
	slowPoll := func(any) error { return serviceerror.NewDeadlineExceeded("context deadline exceeded") }
	unavailable := func(any) error { return serviceerror.NewUnavailable("connection refused") }
	tests := []struct {
		name       string
		describes  []func() (*client.WorkflowExecutionDescription, error)
		gets       []func(any) error
		wantPolled []string
	}{
		{
			name:       "polls time out while the server is stopped",
			describes:  []func() (*client.WorkflowExecutionDescription, error){described("run-1", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING), described("run-1", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)},
			gets:       []func(any) error{slowPoll, unavailable, slowPoll, completed, completed},
			wantPolled: []string{"run-1", "run-1", "run-1", "run-1", "run-1"},
		},
		{
			name: "the server is unavailable when the ended order is read",
			describes: []func() (*client.WorkflowExecutionDescription, error){
				described("run-1", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING),
				failing(serviceerror.NewUnavailable("connection refused")),
				failing(serviceerror.NewDeadlineExceeded("context deadline exceeded")),
				described("run-1", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED),
			},
			gets:       []func(any) error{completed, completed},
			wantPolled: []string{"run-1", "run-1"},
		},
		{
			name: "the run was reset: the newest run is waited for",
			describes: []func() (*client.WorkflowExecutionDescription, error){
				described("run-1", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING),
				described("run-2", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING),
				described("run-2", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED),
			},
			// run-1's poll returns once it has closed (how, the next
			// Describe tells: here a newer run took over).
			gets:       []func(any) error{completed, completed, completed},
			wantPolled: []string{"run-1", "run-2", "run-2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			temporal := &waitServer{describes: tt.describes, gets: tt.gets}
			c := &Client{Temporal: temporal, Namespace: "default"}

			v, err := c.Wait(context.Background(), "42")

			if err != nil || v.Status != workflows.Completed || v.TotalCents != 1299 || v.TemporalStatus != "Completed" {
				t.Fatalf("Wait = %s (%s), total %d, %v; want COMPLETED, Completed, total 1299", v.Status, v.TemporalStatus, v.TotalCents, err)
			}
			if !equal(temporal.polled, tt.wantPolled) {
				t.Errorf("Wait polled runs %v, want %v", temporal.polled, tt.wantPolled)
			}
		})
	}
}

// Wait stops when its caller gives up, with the caller's error, however
// long the server stays away; and a failure that is neither the server's
// absence nor the order's ending is an error at once, not a loop.
func TestWaitGivesUp(t *testing.T) {
	defer func(d time.Duration) { awaitRetryInterval = d }(awaitRetryInterval)
	awaitRetryInterval = time.Millisecond
	running := []func() (*client.WorkflowExecutionDescription, error){described("run-1", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polls := 0
	away := &waitServer{describes: running}
	for range 100 {
		away.gets = append(away.gets, func(any) error {
			if polls++; polls == 3 {
				cancel()
			}
			return serviceerror.NewUnavailable("connection refused")
		})
	}
	if _, err := (&Client{Temporal: away}).Wait(ctx, "42"); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after its context ended = %v, want context.Canceled", err)
	}

	denied := &waitServer{describes: running, gets: []func(any) error{
		func(any) error { return serviceerror.NewPermissionDenied("no access to history", "") },
	}}
	_, err := (&Client{Temporal: denied}).Wait(context.Background(), "42")
	var permission *serviceerror.PermissionDenied
	if !errors.As(err, &permission) || len(denied.polled) != 1 {
		t.Errorf("Wait = %v after %d polls, want the permission error after 1", err, len(denied.polled))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
