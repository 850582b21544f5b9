package audit

import (
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var at = time.Date(2030, time.March, 4, 12, 0, 0, 0, time.UTC)

func event(t enumspb.EventType, when time.Time, fill func(e *historypb.HistoryEvent)) *historypb.HistoryEvent {
	e := &historypb.HistoryEvent{EventType: t, EventTime: timestamppb.New(when)}
	if fill != nil {
		fill(e)
	}
	return e
}

func timerStarted(id string, when time.Time, d time.Duration) *historypb.HistoryEvent {
	return event(enumspb.EVENT_TYPE_TIMER_STARTED, when, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_TimerStartedEventAttributes{TimerStartedEventAttributes: &historypb.TimerStartedEventAttributes{
			TimerId: id, StartToFireTimeout: durationpb.New(d)}}
	})
}

// readLatestEvents reads, from a run's latest events (newest first), when
// it last moved, the timer it waits for and why its workflow task fails.
func TestReadLatestEvents(t *testing.T) {
	t.Run("waiting for a timer", func(t *testing.T) {
		var in Inspection
		readLatestEvents([]*historypb.HistoryEvent{
			timerStarted("1", at, 10*time.Minute),
			event(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, at, nil),
		}, &in)
		if !in.LastEventAt.Equal(at) || in.LastEvent != "TimerStarted" || !in.TimerDue.Equal(at.Add(10*time.Minute)) {
			t.Errorf("inspection = %+v, want the last event at %s and the timer due 10m later", in, at)
		}
	})
	t.Run("a timer that fired", func(t *testing.T) {
		var in Inspection
		readLatestEvents([]*historypb.HistoryEvent{
			event(enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, at, nil),
			event(enumspb.EVENT_TYPE_TIMER_FIRED, at, func(e *historypb.HistoryEvent) {
				e.Attributes = &historypb.HistoryEvent_TimerFiredEventAttributes{TimerFiredEventAttributes: &historypb.TimerFiredEventAttributes{TimerId: "1"}}
			}),
			timerStarted("1", at.Add(-time.Minute), time.Minute),
		}, &in)
		if !in.TimerDue.IsZero() {
			t.Errorf("TimerDue = %s, want none: the timer fired", in.TimerDue)
		}
	})
	t.Run("a failing workflow task", func(t *testing.T) {
		in := Inspection{WorkflowTask: &PendingTask{Attempt: 4}}
		readLatestEvents([]*historypb.HistoryEvent{
			event(enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED, at, func(e *historypb.HistoryEvent) {
				e.Attributes = &historypb.HistoryEvent_WorkflowTaskFailedEventAttributes{WorkflowTaskFailedEventAttributes: &historypb.WorkflowTaskFailedEventAttributes{
					Cause:   enumspb.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
					Failure: &failurepb.Failure{Message: "[TMPRL1100] nondeterministic workflow\nstack trace"},
				}}
			}),
		}, &in)
		if want := "NonDeterministicError: [TMPRL1100] nondeterministic workflow"; in.WorkflowTask.LastFailure != want {
			t.Errorf("LastFailure = %q, want %q", in.WorkflowTask.LastFailure, want)
		}
	})
}

// The audit knows the task queue and service of every activity of the
// order saga, to say which worker is missing.
func TestActivityQueueKnowsEveryActivity(t *testing.T) {
	for _, name := range []string{"ReserveStock", "ReleaseStock", "ChargePayment", "RefundPayment", "CreateShipment", "CancelShipment"} {
		if q, s := activityQueue(name); q == "?" || s == "?" {
			t.Errorf("activityQueue(%s) = %q, %q", name, q, s)
		}
	}
}
