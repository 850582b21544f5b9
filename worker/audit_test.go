package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/workflows"
)

// The audit command needs Temporal; its report printing does not.

func failedReport() audit.Report {
	return audit.Report{
		OrdersEnded:    map[workflows.Status]int{workflows.Completed: 2, workflows.Cancelled: 1},
		OrdersRunning:  3,
		UnknownOrders:  4,
		SKUs:           5,
		CapturedCents:  1000,
		CompletedCents: 1500,
		Checks: []audit.Check{
			{Name: "stock", Detail: "5 SKUs"},
			{Name: "money", Detail: "captured $10.00 = total of completed orders $15.00", Violations: 1},
		},
		Violations: []string{"money: charges captured for ended orders add up to $10.00, completed orders to $15.00"},
	}
}

func TestPrintReportText(t *testing.T) {
	var out bytes.Buffer
	g := &globals{output: "text", stdout: &out}
	if err := g.printReport(failedReport()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"audit: 3 orders ended (2 COMPLETED, 1 CANCELLED), 3 running (skipped), 4 in the stores but unknown to Temporal (not judged)",
		"ok    stock: 5 SKUs",
		"FAIL  money: captured $10.00 = total of completed orders $15.00",
		"VIOLATION  money: charges captured for ended orders add up to $10.00, completed orders to $15.00",
		"audit failed: 1 violation(s)",
	}
	if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("text report:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}

	out.Reset()
	if err := g.printReport(audit.Report{OrdersEnded: map[workflows.Status]int{}, Violations: []string{}}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "audit passed: no violations\n") {
		t.Errorf("report without violations:\n%s", out.String())
	}
}

func TestPrintReportJSON(t *testing.T) {
	var out bytes.Buffer
	g := &globals{output: "json", stdout: &out}
	if err := g.printReport(failedReport()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK             bool           `json:"ok"`
		OrdersEnded    map[string]int `json:"orders_ended"`
		OrdersRunning  int            `json:"orders_running"`
		UnknownOrders  int            `json:"unknown_orders"`
		CapturedCents  int64          `json:"captured_cents"`
		CompletedCents int64          `json:"completed_cents"`
		Checks         []audit.Check  `json:"checks"`
		Violations     []string       `json:"violations"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out.String())
	}
	if got.OK || got.OrdersEnded["COMPLETED"] != 2 || got.OrdersRunning != 3 || got.UnknownOrders != 4 ||
		got.CapturedCents != 1000 || got.CompletedCents != 1500 || len(got.Checks) != 2 || got.Checks[1].Violations != 1 || len(got.Violations) != 1 {
		t.Errorf("-o json report:\n%s", out.String())
	}
}

func TestAuditRefusesBadOutputBeforeOpeningAnything(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--temporal-address=127.0.0.1:1", "--data-dir=" + dir, "audit", "-o", "yaml"}

	code, stdout, stderr := invoke(t, args...)

	wantOneLineError(t, args, code, stdout, stderr, `--output "yaml"`)
	wantEmptyDir(t, dir)
}

// TestAuditStoreThatWillNotOpen: a store that cannot be opened (here a
// directory where the payment database should be) is a one-line error
// naming it, after the stores opened before it were closed.
func TestAuditStoreThatWillNotOpen(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, payment.DatabaseFile), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"audit", "--temporal-address=127.0.0.1:1", "--data-dir=" + dir}

	code, stdout, stderr := invoke(t, args...)

	wantOneLineError(t, args, code, stdout, stderr, payment.DatabaseFile)
}

func TestPrintReportNeedsAttention(t *testing.T) {
	var out bytes.Buffer
	g := &globals{output: "text", stdout: &out}
	r := audit.Report{OrdersEnded: map[workflows.Status]int{}, OrdersRunning: 2, NeedsAttention: []string{"7", "9"}}
	if err := g.printReport(r); err != nil {
		t.Fatal(err)
	}
	if want := "NOTE  2 order(s) in NEEDS_ATTENTION wait for an operator (starter status ID, then starter resume ID): 7, 9"; !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}
}
