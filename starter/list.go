package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/workflows"
)

// defaultListLimit is --limit's default.
const defaultListLimit = 50

func newListCommand(a *app) *cobra.Command {
	var status, customer string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--status S] [--customer C] [--limit N]",
		Short: "List orders, newest first",
		Long: `list shows orders, newest first, from Temporal's visibility store, which the
order workflow keeps up to date through the OrderStatus and CustomerId search
attributes: ORDER, STATUS, CUSTOMER, STARTED, ENDED and TEMPORAL (the
workflow's status in Temporal). -o json prints a JSON array of orders.

--status is one of ` + statusList() + ` (any case): the
statuses an order rests in. The forward steps (RESERVING, CHARGING,
SHIPPING) are not written to visibility; 'starter status' and 'starter
watch' show them.
Visibility is eventually consistent: an order placed a moment ago may take a
second to show, or to show its latest status.`,
		Example: `  starter list
  starter list --status compensating
  starter list --customer c-1 --limit 0 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := listFilter(status, customer, limit)
			if err != nil {
				return err
			}
			return a.withClient(func(oc *orderclient.Client) error {
				return a.list(cmd.Context(), oc, f)
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only orders in this status (e.g. COMPLETED, any case)")
	cmd.Flags().StringVar(&customer, "customer", "", "only this customer's orders")
	cmd.Flags().IntVar(&limit, "limit", defaultListLimit, "at most this many orders; 0 lists all")
	return cmd
}

// listFilter checks list's flags; it needs no server.
func listFilter(status, customer string, limit int) (orderclient.Filter, error) {
	s, err := parseStatus(status)
	if err != nil {
		return orderclient.Filter{}, err
	}
	if limit < 0 {
		return orderclient.Filter{}, fmt.Errorf("--limit %d is negative: give a number of orders, or 0 for all", limit)
	}
	return orderclient.Filter{Status: s, CustomerID: strings.TrimSpace(customer), Limit: limit}, nil
}

// parseStatus accepts an order status in any case ("completed",
// "Awaiting_Fulfillment") and returns it as the workflow writes it. Empty
// means any status.
func parseStatus(s string) (workflows.Status, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	want := workflows.Status(strings.ToUpper(s))
	if slices.Contains(workflows.Statuses, want) && !want.Listed() {
		return "", fmt.Errorf("--status %s: orders are not listed by their forward steps (RESERVING, CHARGING, SHIPPING), which last seconds; such an order lists as PENDING or AWAITING_FULFILLMENT: see its step with 'starter status ID' or 'starter watch ID'", want)
	}
	for _, st := range listedStatuses() {
		if st == want {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown --status %q: use one of %s", s, statusList())
}

// listedStatuses are the statuses the OrderStatus search attribute shows.
func listedStatuses() []workflows.Status {
	var out []workflows.Status
	for _, s := range workflows.Statuses {
		if s.Listed() {
			out = append(out, s)
		}
	}
	return out
}

func statusList() string {
	var names []string
	for _, s := range listedStatuses() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// list prints the orders that f lets through.
func (a *app) list(ctx context.Context, oc *orderclient.Client, f orderclient.Filter) error {
	orders, err := oc.List(ctx, f)
	if err != nil {
		return err
	}
	if orders == nil {
		orders = []orderclient.Summary{} // JSON: [] rather than null
	}
	return cli.Render(a.stdout, a.output, orders, printSummaries)
}
