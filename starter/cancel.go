package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/workflows"
)

// defaultCancelReason is recorded when --reason is not given.
const defaultCancelReason = "cancelled with starter cancel"

func newCancelCommand(a *app) *cobra.Command {
	var reason string
	var wait, signal bool
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel an order and undo what it did, or say why it cannot be",
		Long: `cancel asks a running order to cancel (the cancel-order update) and says
whether it accepted. Before its shipment exists the order stops its forward
steps and undoes them in reverse order (cancels the shipment under way,
refunds the charge, releases the stock), then ends CANCELLED: cancel prints
"accepted" once the order is COMPENSATING and exits 0. Once the shipment
exists, or if the order is already failing or being cancelled, the order
refuses: cancel exits 1 with the reason (the shipment and its tracking
number), and nothing is added to the order's history. -o json prints the
order's answer (accepted, status, why, undoing).

It needs a worker for task queue "orders" to answer; with none running it
gives up after 30s. --signal sends the cancel-order signal instead, as the
Web UI and older clients do: it needs no worker (the server keeps it until
one runs) but does not say whether the order accepted; the order's state
and --wait tell.

With --wait, cancel then waits for the order to end and prints its final
state (-o json: the order's final state): exit 0 if it was CANCELLED, 3 if
it ended otherwise. A server that does not answer for a while is waited out.

An unknown order, or one that has already ended, is an error.`,
		Example: `  starter cancel 42
  starter cancel 42 --reason "customer changed their mind" --wait
  starter cancel 42 --signal`,
		Args: orderIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := orderclient.CheckCancelReason(reason); err != nil {
				return fmt.Errorf("--reason: %w", err)
			}
			return a.withClient(func(oc *orderclient.Client) error {
				if signal {
					return a.signalCancel(cmd.Context(), oc, args[0], reason, wait)
				}
				return a.cancel(cmd.Context(), oc, args[0], reason, wait)
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", defaultCancelReason, fmt.Sprintf("why the order is cancelled (at most %d characters), recorded in its state", workflows.MaxTextLength))
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the order to end; exit 0 if it was CANCELLED, 3 if not")
	cmd.Flags().BoolVar(&signal, "signal", false, "send the cancel-order signal, which needs no running worker, without waiting for the order's answer")
	return cmd
}

// cancel sends the cancel-order update and reports the order's answer; a
// refusal is an error that says why.
func (a *app) cancel(ctx context.Context, oc *orderclient.Client, orderID, reason string, wait bool) error {
	answer, err := oc.Cancel(ctx, orderID, reason)
	var noAnswer *orderclient.NoAnswerError
	if errors.As(err, &noAnswer) {
		return fmt.Errorf("%w; check with 'starter status %s', or send the cancel with --signal, which waits in the server for a worker", err, orderID)
	}
	if err != nil {
		return notFoundHint(err)
	}
	if !wait {
		return cli.Render(a.stdout, a.output, answer, printCancelAccepted)
	}
	if !a.json() {
		if err := printCancelAccepted(a.stdout, answer); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Waiting for order %s to end...\n\n", orderID)
	}
	return a.waitCancelled(ctx, oc, orderID)
}

// signalCancel sends the cancel-order signal, which needs no worker, and
// reports the status the order was in.
func (a *app) signalCancel(ctx context.Context, oc *orderclient.Client, orderID, reason string, wait bool) error {
	before, err := oc.SignalCancel(ctx, orderID, reason)
	if err != nil {
		return notFoundHint(err)
	}
	if !wait {
		return cli.Render(a.stdout, a.output, before, printCancelRequested)
	}
	if !a.json() {
		fmt.Fprintf(a.stdout, "Cancel of order %s requested (it was %s); waiting for it to end...\n\n", orderID, statusText(before.Status))
	}
	return a.waitCancelled(ctx, oc, orderID)
}

// waitCancelled waits for a cancelled order to end and prints its final
// state; an order that did not end CANCELLED is an outcome error.
func (a *app) waitCancelled(ctx context.Context, oc *orderclient.Client, orderID string) error {
	final, err := oc.Wait(ctx, orderID)
	if err != nil {
		return interrupted(ctx, orderID, err)
	}
	if err := cli.Render(a.stdout, a.output, final, printView); err != nil {
		return err
	}
	return cancelOutcome(final)
}

// printCancelAccepted says that the order accepted the cancel, what it is
// undoing, and how to follow it.
func printCancelAccepted(w io.Writer, c orderclient.Cancellation) error {
	undoing := "nothing to undo"
	if len(c.Undoing) > 0 {
		undoing = "undoing " + workflows.DescribeUndoing(c.Undoing)
	}
	fmt.Fprintf(w, "Cancel of order %s accepted: %s (%s).\n", c.OrderID, statusText(c.Status), undoing)
	_, err := fmt.Fprintf(w, "Follow it with 'starter watch %s', or see how it ended with 'starter status %s'.\n", c.OrderID, c.OrderID)
	return err
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
