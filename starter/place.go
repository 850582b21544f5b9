package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/workflows"
)

// defaultCancelWindow is --cancel-window's default.
const defaultCancelWindow = 10 * time.Second

// placeFlags are place's flags. The order comes either from the order flags
// or from --file, never from both.
type placeFlags struct {
	id, customer, payment, address string
	items                          []string
	file                           string
	cancelWindow                   time.Duration
	wait                           bool
	answerTimeout                  time.Duration
}

// orderFlags are the flags that --file replaces, in the order they are
// reported when missing.
var orderFlags = []string{"id", "customer", "item", "payment", "address"}

func newPlaceCommand(a *app) *cobra.Command {
	var pf placeFlags
	cmd := &cobra.Command{
		Use:   "place (--id ID --customer C --item SKU:QTY... --payment TOKEN --address TEXT | --file order.json)",
		Short: "Place an order: start its saga and answer with its reservation",
		Long: `place starts an order's saga as the Temporal workflow "order-<ID>" and, in
the same call, waits for the order to decide its reservation (Temporal's
Update-with-Start): it prints the priced lines, the total, the reservation ID,
the workflow and run IDs and a Web UI link (-o json: the order as a JSON
object, with reserved, lines, total_cents and reservation_id). An order
refused before its reservation — out of stock, an unknown SKU, an order ID
already used, cancelled first — exits 1 with the reason on one line (-o json
also prints the order, with its refusal). The order is checked before
anything is started, so bad input starts nothing. An order ID can be used
once, even after its order ended; a second placement is refused, never run.

Answering needs a worker. With no answer within --answer-timeout the order
stays placed (a worker takes it when it starts) and place says so and exits 0;
--answer-timeout 0 only starts the order, without waiting for an answer.

The order comes from the flags or from --file, a JSON file (or - for stdin)
with the fields id, customer_id, items [{sku, qty}], payment_token, address
and cancel_window (a duration such as "10s"; when absent, --cancel-window).

Test payment tokens: tok_visa (approved), tok_declined (declined), tok_flaky
(the gateway times out twice; Temporal retries), tok_slow (the gateway takes
3s: time to cancel or to kill a worker mid-charge).

With --wait, place then waits for the order to end, a refused one's too, and
prints its final state (-o json: only the final state); it exits 0 if the
order COMPLETED and 3 if it ended otherwise. A server that does not answer for a while is waited
out; interrupting the wait leaves the order running.`,
		Example: `  starter place --id 42 --customer c-1 --item BOOK-GOPL:2 --item MUG-GOPHER:1 \
      --payment tok_visa --address "1 Main St, Springfield"
  starter place --id 43 --customer c-1 --item BOOK-GOPL:1 --payment tok_visa \
      --address "1 Main St" --cancel-window 0 --wait
  starter place --file order.json --wait -o json
  starter place --file - --temporal-address temporal.example.com:7233 < order.json

  # order.json:
  {"id": "44", "customer_id": "c-1", "items": [{"sku": "BOOK-GOPL", "qty": 2}],
   "payment_token": "tok_visa", "address": "1 Main St", "cancel_window": "30s"}`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			order, err := pf.order(cmd.Flags(), cmd.InOrStdin())
			if err != nil {
				return err
			}
			return a.withClient(func(oc *orderclient.Client) error {
				return a.place(cmd.Context(), oc, order, pf)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&pf.id, "id", "", "order ID: letters, digits, '.', '_', '-'; the workflow ID is order-<ID>")
	f.StringVar(&pf.customer, "customer", "", "customer ID")
	f.StringArrayVar(&pf.items, "item", nil, `an item as SKU:QTY, e.g. BOOK-GOPL:2; repeat for more items`)
	f.StringVar(&pf.payment, "payment", "", "payment token, e.g. tok_visa")
	f.StringVar(&pf.address, "address", "", "shipping address")
	f.StringVar(&pf.file, "file", "", fmt.Sprintf("read the whole order from this JSON file (- for stdin; at most %d MiB) instead of the order flags", maxOrderFileSize>>20))
	f.DurationVar(&pf.cancelWindow, "cancel-window", defaultCancelWindow, "how long the order can still be cancelled before it ships (0 ships at once; used by --file when the file has no cancel_window)")
	f.BoolVar(&pf.wait, "wait", false, "wait for the order to end; exit 0 if it COMPLETED, 3 if not")
	f.DurationVar(&pf.answerTimeout, "answer-timeout", orderclient.DefaultAnswerTimeout, "how long to wait for the order's answer (its reservation or refusal); 0 only starts the order")
	return cmd
}

// order builds the order from the flags or the file and validates it.
// Nothing here touches the network.
func (pf *placeFlags) order(flags *pflag.FlagSet, stdin io.Reader) (workflows.Order, error) {
	if pf.file != "" || flags.Changed("file") {
		return pf.orderFromFile(flags, stdin)
	}
	return pf.orderFromFlags(flags)
}

func (pf *placeFlags) orderFromFlags(flags *pflag.FlagSet) (workflows.Order, error) {
	var missing []string
	for _, name := range orderFlags {
		if !flags.Changed(name) {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return workflows.Order{}, fmt.Errorf("missing %s: give the order with --id, --customer, --item SKU:QTY, --payment and --address, or with --file (see 'starter place --help')",
			strings.Join(missing, ", "))
	}
	items, err := parseItems(pf.items)
	if err != nil {
		return workflows.Order{}, err
	}
	order := workflows.Order{
		ID:           pf.id,
		CustomerID:   pf.customer,
		Items:        items,
		PaymentToken: pf.payment,
		Address:      pf.address,
		CancelWindow: workflows.Duration(pf.cancelWindow),
	}
	if err := order.Validate(); err != nil {
		return workflows.Order{}, fmt.Errorf("invalid order: %w", err)
	}
	return order, nil
}

func (pf *placeFlags) orderFromFile(flags *pflag.FlagSet, stdin io.Reader) (workflows.Order, error) {
	if strings.TrimSpace(pf.file) == "" {
		return workflows.Order{}, errors.New("--file is empty: give the order file's path, or - for stdin")
	}
	var both []string
	for _, name := range orderFlags {
		if flags.Changed(name) {
			both = append(both, "--"+name)
		}
	}
	if len(both) > 0 {
		return workflows.Order{}, fmt.Errorf("--file holds the whole order: drop %s, or drop --file", strings.Join(both, ", "))
	}
	data, err := readOrderFile(pf.file, stdin)
	if err != nil {
		return workflows.Order{}, err
	}
	order, inFile, err := decodeOrder(data, pf.cancelWindow)
	if err != nil {
		return workflows.Order{}, fmt.Errorf("order file %s: %w", pf.file, err)
	}
	if inFile && flags.Changed("cancel-window") {
		return workflows.Order{}, fmt.Errorf("order file %s has a cancel_window (%s) and --cancel-window is %s: give it once", pf.file, time.Duration(order.CancelWindow), pf.cancelWindow)
	}
	if err := order.Validate(); err != nil {
		return workflows.Order{}, fmt.Errorf("order file %s: invalid order: %w", pf.file, err)
	}
	return order, nil
}

// place places the order and prints its answer: the reservation, or the
// refusal (exit 1). With wait it then waits for the order's end (exit 0
// COMPLETED, 3 otherwise), a refused order's too, as before the answer
// existed.
func (a *app) place(ctx context.Context, oc *orderclient.Client, order workflows.Order, pf placeFlags) error {
	v, err := a.placeOrder(ctx, oc, order, pf.answerTimeout)
	var refused *orderclient.PlacementRefusedError
	switch {
	case errors.As(err, &refused):
		if !pf.wait {
			if a.json() {
				if werr := cli.WriteJSON(a.stdout, refused.View, true); werr != nil {
					return werr
				}
			}
			return err
		}
	case errors.Is(err, orderclient.ErrNoAnswer):
		// The order is placed and durable: a worker will take it.
		v.Note = err.Error()
	case err != nil:
		return err
	}
	if !pf.wait {
		return cli.Render(a.stdout, a.output, v, printAnswered)
	}
	if !a.json() {
		if err := printAnswered(a.stdout, v); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "\nWaiting for order %s to end (interrupting stops the wait, not the order)...\n\n", order.ID)
	}
	final, err := oc.Wait(ctx, order.ID)
	if err != nil {
		return interrupted(ctx, order.ID, err)
	}
	if err := cli.Render(a.stdout, a.output, final, printView); err != nil {
		return err
	}
	if final.Status != workflows.Completed {
		return &outcomeError{msg: endLine(final)}
	}
	return nil
}

// placeOrder places the order and waits up to answerTimeout for its
// answer; with no timeout, it only starts it.
func (a *app) placeOrder(ctx context.Context, oc *orderclient.Client, order workflows.Order, answerTimeout time.Duration) (orderclient.View, error) {
	if answerTimeout <= 0 {
		return oc.Place(ctx, order)
	}
	oc.AnswerTimeout = answerTimeout
	return oc.PlaceAndAnswer(ctx, order)
}

// printAnswered prints a placed order and its answer: the reservation, or,
// for an order only started, where to follow it.
func printAnswered(w io.Writer, v orderclient.View) error {
	if v.Reserved {
		fmt.Fprintf(w, "Order %s reserved: %s, total %s, reservation %s.\n",
			v.OrderID, describeLines(v.Lines), workflows.FormatCents(v.TotalCents), v.ReservationID)
	} else if v.Refusal != "" {
		fmt.Fprintf(w, "Order %s refused: %s.\n", v.OrderID, v.Refusal)
	}
	if err := printPlaced(w, v); err != nil {
		return err
	}
	if v.Note != "" {
		fmt.Fprintf(w, "  Note: %s\n", v.Note)
	}
	return nil
}

// describeLines lists priced lines for a person: "2 × BOOK-GOPL $79.98".
func describeLines(lines []inventory.Line) string {
	parts := make([]string, 0, len(lines))
	for _, l := range lines {
		parts = append(parts, fmt.Sprintf("%d × %s %s", l.Qty, l.SKU, workflows.FormatCents(l.AmountCents())))
	}
	return strings.Join(parts, ", ")
}
