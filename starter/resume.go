package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/workflows"
)

// defaultResumeReason is recorded when --reason is not given.
const defaultResumeReason = "resumed with starter resume"

func newResumeCommand(a *app) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "resume ID",
		Short: "Retry the compensations of an order in NEEDS_ATTENTION",
		Long: `An order whose compensation (release, refund, cancel shipment) could not
succeed, because its service refused it or kept failing for longer than the
worker's --compensation-timeout, stops in NEEDS_ATTENTION; 'starter status'
shows which compensation failed and why. Fix the cause, then resume it:
the order tries that compensation again, then the ones after it, and ends
FAILED or CANCELLED as it would have. If it fails again the order returns
to NEEDS_ATTENTION.

resume is a Temporal update: the order answers at once, and refuses (exit 1,
nothing changed) unless it is in NEEDS_ATTENTION. It needs the order
service's worker to answer.`,
		Example: `  starter list --status NEEDS_ATTENTION
  starter status 42
  starter resume 42 --reason "refunds switched back on (INC-123)"
  starter watch 42`,
		Args: orderIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.resume(cmd.Context(), args[0], reason)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", defaultResumeReason, fmt.Sprintf("why the order is resumed (at most %d characters), recorded in its state", workflows.MaxTextLength))
	return cmd
}

// resumed is resume's JSON output.
type resumed struct {
	OrderID   string `json:"order_id"`
	Remaining int    `json:"remaining"`
}

func (a *app) resume(ctx context.Context, orderID, reason string) error {
	if err := orderclient.CheckReason("resume", reason); err != nil {
		return fmt.Errorf("--reason: %w", err)
	}
	return a.withClient(func(oc *orderclient.Client) error {
		res, err := oc.Resume(ctx, orderID, reason)
		if err != nil {
			return notFoundHint(err)
		}
		return cli.Render(a.stdout, a.output, resumed{OrderID: orderID, Remaining: res.Remaining}, printResumed)
	})
}

func printResumed(w io.Writer, r resumed) error {
	_, err := fmt.Fprintf(w, "Order %s resumed: it tries its %d remaining compensation(s) again.\nFollow it with 'starter watch %s'.\n",
		r.OrderID, r.Remaining, r.OrderID)
	return err
}
