package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
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
			ctx := cmd.Context()
			return a.withOrder(ctx, args[0], func(oc *orderclient.Client, v orderclient.View) error {
				return a.status(ctx, oc, v)
			})
		},
	}
}

// status prints the order v with the ID of its trace.
func (a *app) status(ctx context.Context, oc *orderclient.Client, v orderclient.View) error {
	return cli.Render(a.stdout, a.output, statusView{View: v, TraceID: traceID(ctx, oc, v)}, printStatus)
}

// printStatus prints the order as printView does, then the ID of its
// trace when it has one.
func printStatus(w io.Writer, s statusView) error {
	if err := printView(w, s.View); err != nil {
		return err
	}
	if s.TraceID == "" {
		return nil
	}
	_, err := fmt.Fprintf(w, "Trace ID: %s\n", s.TraceID)
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
