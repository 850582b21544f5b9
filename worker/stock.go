package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/workflows"
)

// newStockCommand is the inventory owner's view of stock: it works on the
// inventory store directly, without Temporal.
func newStockCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stock",
		Short: "List or set stock in the inventory store",
		Long: `stock is the inventory service owner's view of its store (--inventory-dsn,
or SQLite in --data-dir), read and written directly, without Temporal.`,
		Example: `  worker stock list
  worker stock set LAMP-LIMITED 10`,
		Args: cobra.NoArgs,
		// Runnable, so that a mistyped subcommand ("stock lst") fails with
		// "unknown command" and exit 1 instead of printing help with exit 0.
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the catalog with stock on hand, reserved and received",
		Example: "  worker stock list\n  worker stock list -o json | jq '.[] | select(.on_hand < 10)'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckOutput(g.output); err != nil {
				return err
			}
			store, err := g.openInventoryStore(cmd.Context())
			if err != nil {
				return err
			}
			defer store.Close()
			products, err := store.Products(cmd.Context())
			if err != nil {
				return err
			}
			return g.printProducts(products)
		},
	}
	set := &cobra.Command{
		Use:   "set SKU QTY",
		Short: "Set the stock on hand of a SKU (after a count or a delivery)",
		Long: `set makes QTY the stock on hand of SKU. The difference counts as received, so
the audit's stock invariant (received = on hand + reserved) keeps holding.`,
		Example: "  worker stock set LAMP-LIMITED 10",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.CheckOutput(g.output); err != nil {
				return err
			}
			qty, err := strconv.Atoi(args[1])
			if err != nil || qty < 0 {
				return badQuantity(args[1])
			}
			store, err := g.openInventoryStore(cmd.Context())
			if err != nil {
				return err
			}
			defer store.Close()
			p, err := store.SetStock(cmd.Context(), args[0], qty)
			if err != nil {
				return fmt.Errorf("%w; `worker stock list` shows the catalog", err)
			}
			return g.printProducts([]inventory.Product{p})
		},
	}
	// The flag parser reads a negative QTY ("-5") as a shorthand flag; say
	// what is wrong with it instead of "unknown shorthand flag: '5' in -5".
	set.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		var unknown *pflag.NotExistError
		if errors.As(err, &unknown) {
			if s := unknown.GetSpecifiedShortnames(); s != "" {
				if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
					return badQuantity("-" + s)
				}
			}
		}
		return err
	})
	for _, c := range []*cobra.Command{list, set} {
		cli.RegisterOutput(c.Flags(), &g.output)
	}
	cmd.AddCommand(list, set)
	return cmd
}

func badQuantity(arg string) error {
	return fmt.Errorf("quantity %q: give a whole number of units, 0 or more", arg)
}

// printProducts prints the products as -o asks.
func (g *globals) printProducts(products []inventory.Product) error {
	if products == nil {
		products = []inventory.Product{} // JSON: [] rather than null
	}
	return cli.RenderEscapingHTML(g.stdout, g.output, products, printProductTable)
}

// printProductTable prints the products as a table, a SKU a row.
func printProductTable(w io.Writer, products []inventory.Product) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SKU\tNAME\tPRICE\tON HAND\tRESERVED\tRECEIVED")
	for _, p := range products {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", p.SKU, p.Name, workflows.FormatCents(p.UnitPriceCents), p.OnHand, p.Reserved, p.Received)
	}
	return tw.Flush()
}
