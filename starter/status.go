package main

import (
	"context"

	"github.com/spf13/cobra"
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
says why. -o json prints the order as one JSON object.`,
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
	return render(a, v, printView)
}
