package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/connect"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// auditParallelism bounds how many orders' outcomes are read from Temporal
// at once.
const auditParallelism = 16

func newAuditCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the saga's invariants across the three stores and Temporal",
		Long: `audit reads every order from Temporal and every record from the inventory,
payment and shipping stores, and checks that:
  - a COMPLETED order holds one reservation, one captured charge equal to its
    total, and one shipment;
  - a FAILED or CANCELLED order holds no reservation, no captured charge and
    no shipment;
  - for every SKU, units received = on hand + reserved;
  - captured charges add up to the totals of the COMPLETED orders.
Orders still running are skipped. It prints what it checked and every
violation, and exits 1 if there is any.`,
		Example: "  worker audit\n  worker audit -o json --data-dir /var/lib/ordersaga",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(g.output); err != nil {
				return err
			}
			report, err := runAudit(cmd.Context(), g)
			if err != nil {
				return err
			}
			if err := g.printReport(report); err != nil {
				return err
			}
			if !report.OK() {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runAudit(ctx context.Context, g *globals) (audit.Report, error) {
	st, closeStores, err := stores.Open(ctx, g.dataDir, g.dsns)
	if err != nil {
		return audit.Report{}, err
	}
	defer closeStores()
	c, opts, err := g.conn.Dial(nil)
	if err != nil {
		return audit.Report{}, err
	}
	defer c.Close()
	oc := &orderclient.Client{Temporal: c, Namespace: connect.Namespace(opts)}
	orders, err := ordersFromTemporal(ctx, oc)
	if err != nil {
		return audit.Report{}, err
	}
	return audit.Run(ctx, st, orders)
}

// ordersFromTemporal lists every order and reads the outcome of each one
// that has ended.
func ordersFromTemporal(ctx context.Context, oc *orderclient.Client) ([]audit.Order, error) {
	list, err := oc.List(ctx, orderclient.Filter{})
	if err != nil {
		return nil, err
	}
	orders := make([]audit.Order, len(list))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(auditParallelism)
	for i, s := range list {
		g.Go(func() error {
			v, err := oc.Snapshot(gctx, s.OrderID)
			if err != nil {
				return fmt.Errorf("audit order %s: %w", s.OrderID, err)
			}
			orders[i] = audit.Order{ID: s.OrderID, Status: v.Status, TotalCents: v.TotalCents,
				Running: v.TemporalStatus == "Running", TemporalStatus: v.TemporalStatus}
			return nil
		})
	}
	return orders, g.Wait()
}

func (g *globals) printReport(r audit.Report) error {
	if g.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			OK bool `json:"ok"`
			audit.Report
		}{r.OK(), r})
	}
	ended := 0
	var parts []string
	for _, s := range workflows.Statuses {
		if n := r.OrdersEnded[s]; n > 0 {
			ended += n
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	byStatus := ""
	if len(parts) > 0 {
		byStatus = " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(g.stdout, "audit: %d orders ended%s, %d running (skipped), %d in the stores but unknown to Temporal (not judged)\n",
		ended, byStatus, r.OrdersRunning, r.UnknownOrders)
	if n := len(r.NeedsAttention); n > 0 {
		fmt.Fprintf(g.stdout, "NOTE  %d order(s) in NEEDS_ATTENTION wait for an operator (starter status ID, then starter resume ID): %s\n",
			n, strings.Join(r.NeedsAttention, ", "))
	}
	for _, c := range r.Checks {
		mark := "ok  "
		if c.Violations > 0 {
			mark = "FAIL"
		}
		fmt.Fprintf(g.stdout, "%s  %s: %s\n", mark, c.Name, c.Detail)
	}
	for _, v := range r.Violations {
		fmt.Fprintf(g.stdout, "VIOLATION  %s\n", v)
	}
	if r.OK() {
		fmt.Fprintln(g.stdout, "audit passed: no violations")
	} else {
		fmt.Fprintf(g.stdout, "audit failed: %d violation(s)\n", len(r.Violations))
	}
	return nil
}
