package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/tracing"
)

func newStatusCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status ID",
		Short: "Show an order: status, total, steps, compensations and why it ended",
		Long: `status shows everything known about an order: its status, customer, total
and lines, the reservation, charge and shipment IDs and the tracking number,
the steps done and the compensations run, why it failed or was cancelled,
any cancel it refused, and a link to its workflow in the Web UI.

A running order's state comes from its worker (the order-status query); an
ended order's from its workflow's result, so no worker is needed. When the
state is incomplete (no worker answered, the workflow was terminated) a Note
says why. An order placed with tracing on shows the ID of its trace, to look
it up in a trace viewer. -o json prints the order as one JSON object, with
that ID as trace_id.`,
		Example: `  starter status 42
  starter status 42 -o json | jq -r .status`,
		Args: orderIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.status(cmd.Context(), args[0])
		},
	}
}

func (a *app) status(ctx context.Context, orderID string) error {
	oc, done, err := a.connect()
	if err != nil {
		return err
	}
	defer done()
	v, err := oc.State(ctx, orderID)
	if err != nil {
		return notFoundHint(err)
	}
	tid := traceID(ctx, oc, v)
	if !a.json() {
		return printStatus(a.stdout, v, tid)
	}
	return cli.WriteJSON(a.stdout, statusView{View: v, TraceID: tid}, true)
}

// printStatus prints the order as printView does, then the ID of its
// trace when it has one.
func printStatus(w io.Writer, v orderclient.View, traceID string) error {
	if err := printView(w, v); err != nil {
		return err
	}
	if traceID == "" {
		return nil
	}
	_, err := fmt.Fprintf(w, "Trace ID: %s\n", traceID)
	return err
}

// statusView is an order as status -o json prints it: with the ID of the
// trace its placement started, when it has one.
type statusView struct {
	orderclient.View
	TraceID string `json:"trace_id,omitempty"`
}

// traceID is the ID of the order's trace: the span context that the
// workflow's start carried in its header (tracing.HeaderKey), read from
// the first event of the run's history. "" when the order was placed with
// tracing off, or the history cannot be read: the rest of the status
// stands without it.
func traceID(ctx context.Context, oc *orderclient.Client, v orderclient.View) string {
	it := oc.Temporal.GetWorkflowHistory(ctx, v.WorkflowID, v.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return ""
	}
	first, err := it.Next()
	if err != nil {
		return ""
	}
	return tracing.TraceIDFromHeader(first.GetWorkflowExecutionStartedEventAttributes().GetHeader())
}
