package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// fakeHistory replays events, then err if set, as a long-polled history would.
type fakeHistory struct {
	events []*historypb.HistoryEvent
	err    error
}

func (h *fakeHistory) HasNext() bool { return len(h.events) > 0 || h.err != nil }

func (h *fakeHistory) Next() (*historypb.HistoryEvent, error) {
	if len(h.events) == 0 {
		err := h.err
		h.err = nil
		return nil, err
	}
	e := h.events[0]
	h.events = h.events[1:]
	return e, nil
}

func history(types ...enumspb.EventType) *fakeHistory {
	h := &fakeHistory{}
	for i, t := range types {
		h.events = append(h.events, &historypb.HistoryEvent{EventId: int64(i + 1), EventType: t})
	}
	return h
}

const (
	started   = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
	scheduled = enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
	taskDone  = enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
	activity  = enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
	completed = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
)

func TestFollow(t *testing.T) {
	tests := []struct {
		name    string
		history *fakeHistory
		after   int64
		want    int // calls of changed
	}{
		{"reads after each workflow task", history(started, scheduled, taskDone, activity, scheduled, taskDone, completed), 0, 2},
		{"skips tasks the first read covered", history(started, scheduled, taskDone, activity, scheduled, taskDone, completed), 3, 1},
		{"stops at the close event", history(started, scheduled, taskDone, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, taskDone), 0, 1},
		{"a history without a close event ends too", history(started, scheduled, taskDone), 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := follow(tt.history, tt.after, func() error { calls++; return nil })
			if err != nil || calls != tt.want {
				t.Errorf("follow = %v after %d reads, want nil after %d", err, calls, tt.want)
			}
		})
	}
}

func TestFollowErrors(t *testing.T) {
	h := history(started, scheduled)
	h.err = errors.New("connection lost")
	if err := follow(h, 0, func() error { return nil }); err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Errorf("follow = %v, want the history's error", err)
	}
	readErr := errors.New("query failed")
	if err := follow(history(started, scheduled, taskDone, completed), 0, func() error { return readErr }); !errors.Is(err, readErr) {
		t.Errorf("follow = %v, want the read's error", err)
	}
}

func TestCloseEvent(t *testing.T) {
	for _, tt := range []struct {
		t    enumspb.EventType
		want bool
	}{
		{enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, true},
		{enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, true},
		{enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, true},
		{enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, true},
		{enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, true},
		{enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, true},
		{enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED, false},
		{enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, false},
	} {
		if got := closeEvent(tt.t); got != tt.want {
			t.Errorf("closeEvent(%s) = %v, want %v", tt.t, got, tt.want)
		}
	}
}

// stages returns an order's views as watch would read them: running,
// compensating, then cancelled.
func stages() []orderclient.View {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	v := orderclient.View{
		OrderState: workflows.OrderState{OrderID: "43", WorkflowID: "order-43", Status: workflows.AwaitingFulfillment,
			Transitions: []workflows.Transition{{Status: workflows.Pending, At: at(0)}, {Status: workflows.Reserving, At: at(0)}, {Status: workflows.Charging, At: at(1)}, {Status: workflows.AwaitingFulfillment, At: at(2)}}},
		RunID: "run-2", TemporalStatus: "Running", WebURL: "http://ui/x",
	}
	running := v

	v.Status = workflows.Compensating
	v.Transitions = append(v.Transitions[:4:4], workflows.Transition{Status: workflows.Compensating, At: at(5)})
	v.Compensations = []workflows.CompensationRecord{{Name: "refund", Key: "order-43/charge", Detail: "refunded", At: at(6)}}
	compensating := v

	v.Status, v.TemporalStatus = workflows.Cancelled, "Canceled"
	v.Transitions = append(v.Transitions[:5:5], workflows.Transition{Status: workflows.Cancelled, At: at(7)})
	v.Compensations = append(v.Compensations[:1:1], workflows.CompensationRecord{Name: "release", Key: "order-43/reserve", Detail: "released", At: at(7)})
	v.CancelReason, v.CancelledBy = "changed my mind", workflows.CancelledBySignal
	cancelled := v

	return []orderclient.View{running, compensating, compensating, cancelled}
}

func TestWatcherText(t *testing.T) {
	var b bytes.Buffer
	w := &watcher{out: &b}
	s := stages()
	w.header(s[0])
	for _, v := range s[:3] {
		if err := w.update(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.end(s[3]); err != nil {
		t.Fatal(err)
	}
	want := `Watching order 43 (workflow order-43, run run-2)
Web UI: http://ui/x
2026-01-02T03:04:05Z  PENDING
2026-01-02T03:04:05Z  RESERVING
2026-01-02T03:04:06Z  CHARGING
2026-01-02T03:04:07Z  AWAITING_FULFILLMENT
2026-01-02T03:04:10Z  COMPENSATING
2026-01-02T03:04:11Z    compensation refund order-43/charge: refunded
2026-01-02T03:04:12Z    compensation release order-43/reserve: released
2026-01-02T03:04:12Z  CANCELLED
order 43 CANCELLED: changed my mind (cancel-order signal); 2 compensation(s) ran
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWatcherNote(t *testing.T) {
	var b bytes.Buffer
	w := &watcher{out: &b}
	s := stages()
	noAnswer := orderclient.View{OrderState: workflows.OrderState{OrderID: "43", Status: workflows.Charging}, TemporalStatus: "Running", Note: "the order's worker did not answer"}
	for _, v := range []orderclient.View{s[0], noAnswer, noAnswer, s[1]} {
		if err := w.update(v); err != nil {
			t.Fatal(err)
		}
	}
	got := b.String()
	if strings.Count(got, "note: the order's worker did not answer") != 1 {
		t.Errorf("want the note once:\n%s", got)
	}
	if strings.Count(got, "PENDING") != 1 || !strings.Contains(got, "COMPENSATING") {
		t.Errorf("a state without transitions must not reprint or lose any:\n%s", got)
	}
}

func TestWatcherJSON(t *testing.T) {
	var b bytes.Buffer
	w := &watcher{out: &b, json: true}
	s := stages()
	w.header(s[0])
	for _, v := range s[:3] {
		if err := w.update(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.end(s[3]); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	var statuses []string
	for _, line := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", line, err)
		}
		if v["order_id"] != "43" || v["workflow_id"] != "order-43" {
			t.Errorf("line %q lacks the order's IDs", line)
		}
		statuses = append(statuses, v["status"].(string))
	}
	// One line per change: the repeated compensating state prints nothing.
	if got, want := strings.Join(statuses, " "), "AWAITING_FULFILLMENT COMPENSATING CANCELLED"; got != want {
		t.Errorf("statuses = %s, want %s", got, want)
	}
}
