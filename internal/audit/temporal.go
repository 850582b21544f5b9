package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// Temporal is what the audit reads from Temporal: every order run that
// visibility lists, and a closer look at single runs where the list is not
// enough. TemporalClient reads them through the SDK; the tests use a fake.
type Temporal interface {
	// Runs calls fn for every run of the order workflow that Temporal
	// lists, in no particular order.
	Runs(ctx context.Context, fn func(OrderRun) error) error
	// FirstRunID is the first run ID of the run's workflow chain: the
	// placement of the order it runs. ErrGone when Temporal no longer has
	// the run.
	FirstRunID(ctx context.Context, workflowID, runID string) (string, error)
	// Inspect looks at a running run's pending work and latest events.
	// ErrGone when Temporal no longer has the run.
	Inspect(ctx context.Context, workflowID, runID string) (Inspection, error)
}

// ErrGone means Temporal no longer has a run it listed a moment before
// (deleted, or removed by retention, during the audit).
var ErrGone = errors.New("run no longer in Temporal")

// OrderRun is one run of the order workflow as Temporal's list shows it.
type OrderRun struct {
	WorkflowID string
	RunID      string
	Start      time.Time
	// Status is the run's Temporal status: Running, Completed, Failed,
	// Canceled, Terminated, TimedOut.
	Status string
	// OrderStatus is the order's status as its OrderStatus search
	// attribute last said: its final status once the run has ended.
	OrderStatus workflows.Status
	// Placed says the run started under placements: its records carry
	// its placement. Runs started before carry none.
	Placed bool
}

// Running reports whether the run has not ended.
func (r OrderRun) Running() bool { return r.Status == "Running" }

// Inspection is a closer look at a running run.
type Inspection struct {
	// LastEventAt and LastEvent are the time and type of the run's
	// latest history event: when it last made progress.
	LastEventAt time.Time
	LastEvent   string
	// TimerDue is when the run's pending timer fires, if its latest
	// events started one that has not fired (the cancel window).
	TimerDue time.Time
	// WorkflowTask is the run's pending workflow task, if any.
	WorkflowTask *PendingTask
	// Activities are the run's pending activities.
	Activities []PendingActivity
}

// PendingTask is a workflow task that Temporal waits for a worker to run
// or to complete.
type PendingTask struct {
	ScheduledAt time.Time
	Started     bool
	Attempt     int32
	// LastFailure says why the latest attempt failed (such as a
	// nondeterminism error), when the history says so.
	LastFailure string
}

// PendingActivity is an activity that has not completed.
type PendingActivity struct {
	Type        string
	ScheduledAt time.Time
	Started     bool
	Attempt     int32
	LastFailure string
}

// TemporalClient reads the audit's view of Temporal through the SDK.
type TemporalClient struct {
	Client    client.Client
	Namespace string
}

// listPageSize is how many runs one list call returns.
const listPageSize = 1000

// Runs lists every run of the order workflow, page by page.
func (tc TemporalClient) Runs(ctx context.Context, fn func(OrderRun) error) error {
	query := fmt.Sprintf("WorkflowType = '%s'", ordersaga.OrderWorkflowType)
	var token []byte
	for {
		resp, err := tc.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: tc.Namespace, Query: query, NextPageToken: token, PageSize: listPageSize,
		})
		if err != nil {
			return fmt.Errorf("list orders in Temporal: %w", err)
		}
		for _, e := range resp.Executions {
			fields := e.GetSearchAttributes().GetIndexedFields()
			dc := converter.GetDefaultDataConverter()
			var status string
			var versions []string
			if p, ok := fields[ordersaga.OrderStatusAttribute]; ok {
				_ = dc.FromPayload(p, &status)
			}
			if p, ok := fields["TemporalChangeVersion"]; ok {
				_ = dc.FromPayload(p, &versions)
			}
			if err := fn(OrderRun{
				WorkflowID: e.GetExecution().GetWorkflowId(),
				RunID:      e.GetExecution().GetRunId(),
				Start:      e.GetStartTime().AsTime(),
				Status:     e.GetStatus().String(), // as the Web UI shows it: TimedOut

				OrderStatus: workflows.Status(status),
				Placed:      workflows.StartedWithPlacements(versions),
			}); err != nil {
				return err
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return nil
		}
	}
}

// FirstRunID describes the run.
func (tc TemporalClient) FirstRunID(ctx context.Context, workflowID, runID string) (string, error) {
	desc, err := tc.Client.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return "", gone(workflowID, runID, err)
	}
	return desc.GetWorkflowExecutionInfo().GetFirstRunId(), nil
}

// inspectEvents is how many of a run's latest events Inspect reads.
const inspectEvents = 10

// Inspect describes the run and reads its latest events.
func (tc TemporalClient) Inspect(ctx context.Context, workflowID, runID string) (Inspection, error) {
	desc, err := tc.Client.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return Inspection{}, gone(workflowID, runID, err)
	}
	var in Inspection
	if wt := desc.GetPendingWorkflowTask(); wt != nil {
		in.WorkflowTask = &PendingTask{
			ScheduledAt: wt.GetOriginalScheduledTime().AsTime(),
			Started:     wt.GetState() == enumspb.PENDING_WORKFLOW_TASK_STATE_STARTED,
			Attempt:     wt.GetAttempt(),
		}
	}
	for _, a := range desc.GetPendingActivities() {
		in.Activities = append(in.Activities, PendingActivity{
			Type:        a.GetActivityType().GetName(),
			ScheduledAt: a.GetScheduledTime().AsTime(),
			Started:     a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED,
			Attempt:     a.GetAttempt(),
			LastFailure: a.GetLastFailure().GetMessage(),
		})
	}
	resp, err := tc.Client.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
		Namespace: tc.Namespace, Execution: desc.GetWorkflowExecutionInfo().GetExecution(), MaximumPageSize: inspectEvents,
	})
	if err != nil {
		return Inspection{}, gone(workflowID, runID, err)
	}
	readLatestEvents(resp.GetHistory().GetEvents(), &in)
	return in, nil
}

// readLatestEvents fills in what the run's latest events (newest first)
// say: when it last moved, its pending timer, why its workflow task fails.
func readLatestEvents(events []*historypb.HistoryEvent, in *Inspection) {
	if len(events) == 0 {
		return
	}
	in.LastEventAt = events[0].GetEventTime().AsTime()
	in.LastEvent = events[0].GetEventType().String()
	fired := map[string]bool{}
	for _, e := range events {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			fired[e.GetTimerFiredEventAttributes().GetTimerId()] = true
		case enumspb.EVENT_TYPE_TIMER_CANCELED:
			fired[e.GetTimerCanceledEventAttributes().GetTimerId()] = true
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			a := e.GetTimerStartedEventAttributes()
			if !fired[a.GetTimerId()] && in.TimerDue.IsZero() {
				in.TimerDue = e.GetEventTime().AsTime().Add(a.GetStartToFireTimeout().AsDuration())
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			if in.WorkflowTask != nil && in.WorkflowTask.LastFailure == "" {
				a := e.GetWorkflowTaskFailedEventAttributes()
				in.WorkflowTask.LastFailure = fmt.Sprintf("%s: %s", a.GetCause(), firstLine(a.GetFailure().GetMessage()))
			}
		}
	}
}

// gone turns Temporal's not-found into ErrGone.
func gone(workflowID, runID string, err error) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("%w: workflow %s run %s", ErrGone, workflowID, runID)
	}
	return fmt.Errorf("read workflow %s run %s: %w", workflowID, runID, err)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
