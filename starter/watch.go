package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/workflows"
)

func newWatchCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "watch ID",
		Short: "Follow an order as it runs, until it ends",
		Long: `watch prints an order's changes as they happen: each change of status and
each compensation that ran, with its time, and then one line on how the
order ended. It exits 0 once the order has ended (whatever the outcome);
interrupting it leaves the order running. For an order that already ended
it prints its whole story at once.

It follows the workflow's history with a long poll and reads the order's
state after each workflow task, so it reacts at once and polls nothing.
-o json prints the order (as status -o json does) as one JSON object a line,
at the start and at each change; the last line is its final state.`,
		Example: `  starter watch 42
  starter watch 42 -o json | jq -c '{status, compensations: (.compensations | length)}'`,
		Args: orderIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, orderID := cmd.Context(), args[0]
			return a.withOrder(ctx, orderID, func(oc *orderclient.Client, v orderclient.View) error {
				return a.watch(ctx, oc, orderID, v)
			})
		},
	}
}

// watch follows one order, whose state was v, until it ends.
func (a *app) watch(ctx context.Context, oc *orderclient.Client, orderID string, v orderclient.View) error {
	w := &watcher{out: a.stdout, json: a.json()}
	w.header(v)
	if v.TemporalStatus != "Running" {
		return w.end(v)
	}
	if err := w.update(v); err != nil {
		return err
	}

	// The first read covered the history up to v.HistoryLength: the
	// history's catch-up need not read the state again for those events.
	events := oc.Temporal.GetWorkflowHistory(ctx, v.WorkflowID, v.RunID, true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	err := follow(events, v.HistoryLength, func() error {
		v, err := oc.State(ctx, orderID)
		if err != nil {
			return err
		}
		return w.update(v)
	})
	if err != nil {
		return interrupted(ctx, orderID, err)
	}
	final, err := oc.State(ctx, orderID)
	if err != nil {
		return interrupted(ctx, orderID, err)
	}
	return w.end(final)
}

// historyEvents is what follow reads of a client.HistoryEventIterator.
type historyEvents interface {
	HasNext() bool
	Next() (*historypb.HistoryEvent, error)
}

// follow reads a workflow run's history as it grows (the iterator long-polls)
// until the run closes. It calls changed after each WorkflowTaskCompleted
// event with an ID above after: the workflow's state changes only in its
// workflow tasks, so this is when there may be something new to show.
func follow(events historyEvents, after int64, changed func() error) error {
	for events.HasNext() {
		e, err := events.Next()
		if err != nil {
			return fmt.Errorf("follow the order's workflow history: %w", err)
		}
		switch t := e.GetEventType(); {
		case closeEvent(t):
			return nil
		case t == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && e.GetEventId() > after:
			if err := changed(); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeEvent reports whether an event of type t ends a workflow run.
func closeEvent(t enumspb.EventType) bool {
	switch t {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return true
	}
	return false
}

// watcher prints what is new in an order's state each time it is read:
// in text, the new transitions and compensations in time order; in JSON,
// the whole order, one object a line, when anything changed.
type watcher struct {
	out  io.Writer
	json bool

	// Whether anything was printed, the counts of the transitions and
	// compensations printed so far, and the last statuses and note seen.
	started        bool
	transitions    int
	compensations  int
	status         workflows.Status
	temporalStatus string
	note           string
}

// header says which order is watched, in text.
func (w *watcher) header(v orderclient.View) {
	if !w.json {
		fmt.Fprintf(w.out, "Watching order %s (workflow %s, run %s)\nWeb UI: %s\n", v.OrderID, v.WorkflowID, v.RunID, v.WebURL)
	}
}

// update prints what changed since the last read.
func (w *watcher) update(v orderclient.View) error {
	transitions := newSince(v.Transitions, w.transitions)
	compensations := newSince(v.Compensations, w.compensations)
	noteChanged := v.Note != w.note
	changed := !w.started || len(transitions) > 0 || len(compensations) > 0 || noteChanged ||
		v.Status != w.status || v.TemporalStatus != w.temporalStatus
	w.record(v)
	if !changed {
		return nil
	}
	if w.json {
		return cli.WriteJSON(w.out, v, false)
	}
	for len(transitions) > 0 || len(compensations) > 0 {
		// On a tie the compensation goes first: the final status is set in
		// the same workflow task as the last compensation's record.
		if len(compensations) == 0 || len(transitions) > 0 && transitions[0].At.Before(compensations[0].At) {
			printTransition(w.out, transitions[0])
			transitions = transitions[1:]
		} else {
			printCompensation(w.out, compensations[0])
			compensations = compensations[1:]
		}
	}
	if noteChanged && v.Note != "" {
		fmt.Fprintf(w.out, "note: %s\n", v.Note)
	}
	return nil
}

// end prints the final state: what is new, then, in text, how the order
// ended.
func (w *watcher) end(v orderclient.View) error {
	if err := w.update(v); err != nil || w.json {
		return err
	}
	_, err := fmt.Fprintln(w.out, endLine(v))
	return err
}

func (w *watcher) record(v orderclient.View) {
	w.started = true
	w.transitions = max(w.transitions, len(v.Transitions))
	w.compensations = max(w.compensations, len(v.Compensations))
	w.status, w.temporalStatus, w.note = v.Status, v.TemporalStatus, v.Note
}

// newSince returns the entries after the first n.
func newSince[T any](entries []T, n int) []T {
	if len(entries) <= n {
		return nil
	}
	return entries[n:]
}
