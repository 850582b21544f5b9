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
}

// orderFlags are the flags that --file replaces, in the order they are
// reported when missing.
var orderFlags = []string{"id", "customer", "item", "payment", "address"}

func newPlaceCommand(a *app) *cobra.Command {
	var pf placeFlags
	cmd := &cobra.Command{
		Use:   "place (--id ID --customer C --item SKU:QTY... --payment TOKEN --address TEXT | --file order.json)",
		Short: "Place an order: start its saga",
		Long: `place starts an order's saga as the Temporal workflow "order-<ID>" and prints
the order ID, workflow ID, run ID and a Web UI link (-o json: the order as a
JSON object). The order is checked before anything is started, so bad input
starts nothing. An order ID can be used once, even after its order ended.

The order comes from the flags or from --file, a JSON file (or - for stdin)
with the fields id, customer_id, items [{sku, qty}], payment_token, address
and cancel_window (a duration such as "10s"; when absent, --cancel-window).

Test payment tokens: tok_visa (approved), tok_declined (declined), tok_flaky
(the gateway times out twice; Temporal retries), tok_slow (the gateway takes
3s: time to cancel or to kill a worker mid-charge).

With --wait, place waits for the order to end and prints its final state
(-o json: only the final state); it exits 0 if the order COMPLETED and 3 if
it ended otherwise. A server that does not answer for a while is waited
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
			return a.place(cmd.Context(), order, pf.wait)
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

// place starts the order and, with wait, waits for its end.
func (a *app) place(ctx context.Context, order workflows.Order, wait bool) error {
	oc, done, err := a.connect()
	if err != nil {
		return err
	}
	defer done()
	v, err := oc.Place(ctx, order)
	if err != nil {
		return err
	}
	if !wait {
		return render(a, v, printPlaced)
	}
	if !a.json() {
		if err := printPlaced(a.stdout, v); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "\nWaiting for order %s to end (interrupting stops the wait, not the order)...\n\n", order.ID)
	}
	final, err := oc.Wait(ctx, order.ID)
	if err != nil {
		return interrupted(ctx, order.ID, err)
	}
	if err := render(a, final, printView); err != nil {
		return err
	}
	if final.Status != workflows.Completed {
		return &outcomeError{msg: endLine(final)}
	}
	return nil
}
