package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// printPlaced prints what a script or a person needs to find a new order.
func printPlaced(w io.Writer, v orderclient.View) error {
	fmt.Fprintf(w, "Placed order %s.\n", v.OrderID)
	tw := newTable(w)
	fmt.Fprintf(tw, "  Order ID:\t%s\n", v.OrderID)
	fmt.Fprintf(tw, "  Workflow ID:\t%s\n", v.WorkflowID)
	fmt.Fprintf(tw, "  Run ID:\t%s\n", v.RunID)
	fmt.Fprintf(tw, "  Web UI:\t%s\n", v.WebURL)
	return tw.Flush()
}

// printView prints everything known about an order.
func printView(w io.Writer, v orderclient.View) error {
	fmt.Fprintf(w, "Order %s: %s\n", v.OrderID, statusText(v.Status))
	tw := newTable(w)
	row(tw, "Workflow", fmt.Sprintf("%s (run %s, Temporal status %s)", v.WorkflowID, v.RunID, v.TemporalStatus))
	row(tw, "Placement", v.Placement)
	row(tw, "Customer", v.CustomerID)
	if v.TotalCents != 0 || len(v.Lines) > 0 {
		row(tw, "Total", workflows.FormatCents(v.TotalCents))
	}
	row(tw, "Reservation", v.ReservationID)
	row(tw, "Charge", v.ChargeID)
	row(tw, "Shipment", v.ShipmentID)
	row(tw, "Tracking number", v.TrackingNumber)
	if v.Status == workflows.AwaitingFulfillment {
		row(tw, "Ships at", formatTime(v.CancelWindowEndsAt)+" unless cancelled")
	}
	if !v.StartedAt.IsZero() {
		row(tw, "Started", formatTime(v.StartedAt))
	}
	if !v.EndedAt.IsZero() {
		row(tw, "Ended", formatTime(v.EndedAt))
	}
	row(tw, "Failure", v.FailureReason)
	if at := v.Attention; at != nil {
		row(tw, "Needs attention", fmt.Sprintf("since %s, the %s of %s could not be done: %s", formatTime(at.Since), at.Compensation, at.Key, at.Error))
		row(tw, "To resume", fmt.Sprintf("fix the cause, then: starter resume %s", v.OrderID))
	}
	if v.CancelReason != "" || v.CancelledBy != "" {
		row(tw, "Cancelled", cancelText(v.OrderState))
	}
	row(tw, "Note", v.Note)
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := printLines(w, v.Lines); err != nil {
		return err
	}
	if err := printSteps(w, v.Steps); err != nil {
		return err
	}
	if err := printCompensations(w, v.Compensations); err != nil {
		return err
	}
	if err := printRefusedCancels(w, v.RefusedCancels, v.MoreRefusedCancels); err != nil {
		return err
	}
	if err := printResumes(w, v.Resumes); err != nil {
		return err
	}
	fmt.Fprintf(w, "Web UI: %s\n", v.WebURL)
	return nil
}

func printLines(w io.Writer, lines []inventory.Line) error {
	return printList(w, "Lines:", lines, func(tw io.Writer, l inventory.Line) {
		fmt.Fprintf(tw, "  %d × %s\t%s\t%s each\t%s\n", l.Qty, l.SKU, l.Name, workflows.FormatCents(l.UnitPriceCents), workflows.FormatCents(l.AmountCents()))
	})
}

func printSteps(w io.Writer, steps []workflows.StepRecord) error {
	return printList(w, "Steps done:", steps, func(tw io.Writer, s workflows.StepRecord) {
		result := "done"
		if !s.OK {
			result = "not done"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", formatTime(s.At), s.Name, result, dash(s.Key), s.Detail)
	})
}

func printCompensations(w io.Writer, comps []workflows.CompensationRecord) error {
	return printList(w, "Compensations run:", comps, func(tw io.Writer, c workflows.CompensationRecord) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", formatTime(c.At), c.Name, c.Key, c.Detail)
	})
}

// printRefusedCancels prints the refused cancels the order kept, and how
// many more it refused.
func printRefusedCancels(w io.Writer, refused []workflows.RefusedCancel, more int) error {
	err := printList(w, "Refused cancels:", refused, func(tw io.Writer, r workflows.RefusedCancel) {
		fmt.Fprintf(tw, "  %s\t%q\t%s\n", formatTime(r.At), r.Reason, r.Why)
	})
	if err != nil || len(refused) == 0 || more <= 0 {
		return err
	}
	_, err = fmt.Fprintf(w, "  and %d more\n", more)
	return err
}

func printResumes(w io.Writer, resumes []workflows.Resume) error {
	return printList(w, "Resumed by an operator:", resumes, func(tw io.Writer, r workflows.Resume) {
		fmt.Fprintf(tw, "  %s\t%q\n", formatTime(r.At), r.Reason)
	})
}

// printList prints one of an order's lists under its heading, a row an
// entry with the columns aligned; an empty list prints nothing, heading
// included, so that a view shows only what the order has.
func printList[T any](w io.Writer, heading string, entries []T, printRow func(io.Writer, T)) error {
	if len(entries) == 0 {
		return nil
	}
	fmt.Fprintln(w, heading)
	tw := newTable(w)
	for _, e := range entries {
		printRow(tw, e)
	}
	return tw.Flush()
}

// printSummaries prints orders as an aligned table.
func printSummaries(w io.Writer, orders []orderclient.Summary) error {
	if len(orders) == 0 {
		_, err := fmt.Fprintln(w, "No orders found.")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ORDER\tSTATUS\tCUSTOMER\tSTARTED\tENDED\tTEMPORAL")
	for _, s := range orders {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.OrderID, dash(string(s.Status)), dash(s.CustomerID),
			formatTime(s.StartedAt), formatTime(s.EndedAt), s.TemporalStatus)
	}
	return tw.Flush()
}

// printTransition prints one change of status, as watch follows an order.
func printTransition(w io.Writer, t workflows.Transition) {
	fmt.Fprintf(w, "%s  %s\n", formatTime(t.At), t.Status)
}

// printCompensation prints one compensation that ran, as watch follows an
// order.
func printCompensation(w io.Writer, c workflows.CompensationRecord) {
	fmt.Fprintf(w, "%s    compensation %s %s: %s\n", formatTime(c.At), c.Name, c.Key, c.Detail)
}

// endLine sums up in one line how an order ended, or where it stands if
// it did not end as an order (a terminated workflow).
func endLine(v orderclient.View) string {
	switch v.Status {
	case workflows.Completed:
		return fmt.Sprintf("order %s COMPLETED: %s charged, shipment %s, tracking number %s",
			v.OrderID, workflows.FormatCents(v.TotalCents), v.ShipmentID, v.TrackingNumber)
	case workflows.Failed:
		return fmt.Sprintf("order %s FAILED: %s; %d compensation(s) ran", v.OrderID, v.FailureReason, len(v.Compensations))
	case workflows.Cancelled:
		return fmt.Sprintf("order %s CANCELLED: %s; %d compensation(s) ran", v.OrderID, cancelText(v.OrderState), len(v.Compensations))
	}
	line := fmt.Sprintf("order %s is %s, its workflow %s", v.OrderID, statusText(v.Status), v.TemporalStatus)
	if v.Note != "" {
		line += ": " + v.Note
	}
	return line
}

// cancelText says why and how an order was cancelled.
func cancelText(s workflows.OrderState) string {
	reason := s.CancelReason
	if reason == "" {
		reason = "no reason given"
	}
	switch s.CancelledBy {
	case workflows.CancelledByUpdate:
		return reason + " (cancel-order update)"
	case workflows.CancelledBySignal:
		return reason + " (cancel-order signal)"
	case workflows.CancelledByTemporal:
		return reason + " (Temporal cancellation)"
	}
	return reason
}

func statusText(s workflows.Status) string {
	if s == "" {
		return "status unknown"
	}
	return string(s)
}

// formatTime writes a time in UTC, RFC 3339; "-" for none.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// row writes "label: value" into a table, or nothing for an empty value.
func row(tw *tabwriter.Writer, label, value string) {
	if value != "" {
		fmt.Fprintf(tw, "  %s:\t%s\n", label, value)
	}
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}
