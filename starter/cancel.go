package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// defaultCancelReason is recorded when --reason is not given.
const defaultCancelReason = "cancelled with starter cancel"

func newCancelCommand(a *app) *cobra.Command {
	var reason string
	var wait bool
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Ask an order to cancel and undo what it did",
		Long: `cancel sends the cancel-order signal to a running order. Before its shipment
exists the order stops and undoes its steps in reverse order (releases the
stock, refunds the charge) and ends CANCELLED; after that the cancel is
refused and recorded, and the order goes on to COMPLETED.

Without --wait, cancel prints that the cancel was requested and the status
the order was in (-o json: the order as it was). With --wait it waits for
the order to end and prints its final state: exit 0 if it was CANCELLED, 3
if it ended otherwise (with the reason the cancel was refused). A server
that does not answer for a while is waited out.

An unknown order, or one that has already ended, is an error.`,
		Example: `  starter cancel 42
  starter cancel 42 --reason "customer changed their mind" --wait`,
		Args: orderIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.cancel(cmd.Context(), args[0], reason, wait)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", defaultCancelReason, fmt.Sprintf("why the order is cancelled (at most %d characters), recorded in its state", workflows.MaxTextLength))
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the order to end; exit 0 if it was CANCELLED, 3 if not")
	return cmd
}

func (a *app) cancel(ctx context.Context, orderID, reason string, wait bool) error {
	if err := orderclient.CheckCancelReason(reason); err != nil {
		return fmt.Errorf("--reason: %w", err)
	}
	oc, done, err := a.connect()
	if err != nil {
		return err
	}
	defer done()
	before, err := oc.Cancel(ctx, orderID, reason)
	if err != nil {
		return notFoundHint(err)
	}
	if !wait {
		return render(a, before, printCancelRequested)
	}
	if !a.json() {
		fmt.Fprintf(a.stdout, "Cancel of order %s requested (it was %s); waiting for it to end...\n\n", orderID, statusText(before.Status))
	}
	final, err := oc.Wait(ctx, orderID)
	if err != nil {
		return interrupted(ctx, orderID, err)
	}
	if err := render(a, final, printView); err != nil {
		return err
	}
	return cancelOutcome(final)
}

// cancelOutcome is nil for a CANCELLED order and says why the cancel did
// not take effect otherwise.
func cancelOutcome(v orderclient.View) error {
	switch v.Status {
	case workflows.Cancelled:
		return nil
	case workflows.Completed:
		why := "the order completed before the cancel took effect"
		if n := len(v.RefusedCancels); n > 0 {
			why = v.RefusedCancels[n-1].Why
		}
		return &outcomeError{msg: fmt.Sprintf("the cancel of order %s was refused: %s; the order COMPLETED", v.OrderID, why)}
	}
	return &outcomeError{msg: "the order was not cancelled: " + endLine(v)}
}

// printCancelRequested says that the cancel is on its way and where the
// order stood when it was sent.
func printCancelRequested(w io.Writer, v orderclient.View) error {
	fmt.Fprintf(w, "Cancel of order %s requested; it was %s.\n", v.OrderID, statusText(v.Status))
	if v.ShipmentID != "" {
		fmt.Fprintf(w, "Its shipment %s already exists, so the order will refuse the cancel.\n", v.ShipmentID)
	}
	_, err := fmt.Fprintf(w, "Follow it with 'starter watch %s', or see how it ended with 'starter status %s'.\n", v.OrderID, v.OrderID)
	return err
}

// notFoundHint adds what to do to an unknown order's error.
func notFoundHint(err error) error {
	if errors.Is(err, orderclient.ErrNotFound) {
		return fmt.Errorf("%w; check the ID, or list orders with 'starter list'", err)
	}
	return err
}
