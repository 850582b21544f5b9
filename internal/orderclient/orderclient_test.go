package orderclient

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/workflows"
)

// describeCounter is a Temporal client that knows no workflow and counts
// the calls that reach it; every other method is unimplemented.
type describeCounter struct {
	client.Client
	calls int
}

func (d *describeCounter) DescribeWorkflow(context.Context, string, string) (*client.WorkflowExecutionDescription, error) {
	d.calls++
	return nil, serviceerror.NewNotFound("workflow not found")
}

// A cancel reason longer than the limit on an order's texts is refused
// before Temporal is asked anything, whichever way the cancel goes; one at
// the limit is sent on.
func TestCancelRefusesALongReasonBeforeReachingTemporal(t *testing.T) {
	ways := map[string]func(c *Client, reason string) error{
		"Cancel": func(c *Client, reason string) error {
			_, err := c.Cancel(context.Background(), "42", reason)
			return err
		},
		"SignalCancel": func(c *Client, reason string) error {
			_, err := c.SignalCancel(context.Background(), "42", reason)
			return err
		},
	}
	tests := []struct {
		name      string
		reason    string
		wantErr   string
		wantCalls int
	}{
		{"empty", "", ErrNotFound.Error(), 1},
		{"at the limit", strings.Repeat("r", workflows.MaxTextLength), ErrNotFound.Error(), 1},
		{"one over the limit", strings.Repeat("r", workflows.MaxTextLength+1), "cancel reason is 513 characters long: the limit is 512; give a shorter reason", 0},
		{"huge", strings.Repeat("r", 1<<20), "cancel reason is 1048576 characters long: the limit is 512", 0},
		{"over the limit in bytes", strings.Repeat("é", workflows.MaxTextLength/2+1), "cancel reason is 514 characters long", 0},
	}
	for way, cancel := range ways {
		for _, tt := range tests {
			t.Run(way+"/"+tt.name, func(t *testing.T) {
				temporal := &describeCounter{}
				c := &Client{Temporal: temporal, Namespace: "default"}

				err := cancel(c, tt.reason)

				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%s error = %.200v, want one containing %q", way, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") || len(err.Error()) > 200 {
					t.Errorf("%s error is not one short line: %.300q", way, err)
				}
				if temporal.calls != tt.wantCalls {
					t.Errorf("Temporal was called %d times, want %d", temporal.calls, tt.wantCalls)
				}
				if tt.wantCalls == 0 && errors.Is(err, ErrNotFound) {
					t.Errorf("a refused reason must not look up the order: %v", err)
				}
			})
		}
	}
}

// runGetter is a Temporal client whose runs' Get returns what get does;
// it records the run it was asked for. Every other method is
// unimplemented.
type runGetter struct {
	client.Client
	get               func(valuePtr any) error
	workflowID, runID string
}

func (r *runGetter) GetWorkflow(_ context.Context, workflowID, runID string) client.WorkflowRun {
	r.workflowID, r.runID = workflowID, runID
	return fakeRun{get: r.get}
}

type fakeRun struct {
	client.WorkflowRun
	get func(valuePtr any) error
}

func (f fakeRun) Get(_ context.Context, valuePtr any) error { return f.get(valuePtr) }

// TestAwaitOutlastsSlowPolls: a poll the server did not answer in time, or
// shed while it was busy or restarting, is polled again; the wait ends with
// the order's ending, or when its context ends.
func TestAwaitOutlastsSlowPolls(t *testing.T) {
	defer func(d time.Duration) { awaitRetryInterval = d }(awaitRetryInterval)
	awaitRetryInterval = time.Millisecond
	placed := View{OrderState: workflows.OrderState{OrderID: "42", WorkflowID: "order-42"}, RunID: "run-1"}
	slow := []error{
		serviceerror.NewDeadlineExceeded("context deadline exceeded"),
		serviceerror.NewUnavailable("connection refused"),
		serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT, "busy"),
	}
	polls := 0
	temporal := &runGetter{get: func(valuePtr any) error {
		polls++
		if polls <= len(slow) {
			return slow[polls-1]
		}
		*valuePtr.(*workflows.OrderState) = workflows.OrderState{OrderID: "42", Status: workflows.Completed}
		return nil
	}}
	v, err := (&Client{Temporal: temporal}).Await(context.Background(), placed)
	if err != nil || v.Status != workflows.Completed || polls != len(slow)+1 {
		t.Errorf("Await = %s, %v after %d polls; want COMPLETED after %d", v.Status, err, polls, len(slow)+1)
	}

	ctx, cancel := context.WithCancel(context.Background())
	never := &runGetter{get: func(any) error {
		cancel() // the caller gives up while the server is slow
		return serviceerror.NewDeadlineExceeded("context deadline exceeded")
	}}
	if _, err := (&Client{Temporal: never}).Await(ctx, placed); !errors.Is(err, context.Canceled) {
		t.Errorf("Await after its context ended = %v, want context.Canceled", err)
	}
}

// Await reads the ending of the very run Place started, and tells a
// failure to wait from an ending: the former is an error, with no view.
func TestAwait(t *testing.T) {
	placed := View{OrderState: workflows.OrderState{OrderID: "42", WorkflowID: "order-42", Status: workflows.Pending}, RunID: "run-1", TemporalStatus: "Running"}
	tests := []struct {
		name       string
		get        func(valuePtr any) error
		wantStatus workflows.Status
		wantTotal  int64
		wantErr    string
	}{
		{
			name: "completed",
			get: func(valuePtr any) error {
				*valuePtr.(*workflows.OrderState) = workflows.OrderState{OrderID: "42", Status: workflows.Completed, TotalCents: 1299}
				return nil
			},
			wantStatus: workflows.Completed, wantTotal: 1299,
		},
		{
			name:    "the order's own failure is no reason to poll again",
			get:     func(any) error { return errors.New("bad result") },
			wantErr: "wait for order 42: bad result",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			temporal := &runGetter{get: tt.get}
			c := &Client{Temporal: temporal, Namespace: "default"}

			v, err := c.Await(context.Background(), placed)

			if temporal.workflowID != "order-42" || temporal.runID != "run-1" {
				t.Errorf("Await waited on %s/%s, want order-42/run-1", temporal.workflowID, temporal.runID)
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || v.OrderID != "" {
					t.Errorf("Await = %+v, %v; want no view and error %q", v, err, tt.wantErr)
				}
				return
			}
			if err != nil || v.Status != tt.wantStatus || v.TotalCents != tt.wantTotal || v.TemporalStatus != "Completed" || v.RunID != "run-1" {
				t.Errorf("Await = %+v, %v; want %s, total %d, Temporal status Completed, run run-1", v, err, tt.wantStatus, tt.wantTotal)
			}
		})
	}
}

// Workflow statuses read as the Web UI shows them.
func TestTemporalStatus(t *testing.T) {
	for s, want := range map[enumspb.WorkflowExecutionStatus]string{
		enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:          "Running",
		enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:        "TimedOut",
		enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: "ContinuedAsNew",
	} {
		if got := temporalStatus(s); got != want {
			t.Errorf("temporalStatus(%v) = %q, want %q", s, got, want)
		}
	}
}
