package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/workflows"
)

// The audit command needs Temporal; its report printing does not.

func failedReport() audit.Report {
	return audit.Report{
		OrdersEnded:        map[workflows.Status]int{workflows.Completed: 2, workflows.Cancelled: 1},
		OrdersRunning:      3,
		ForgottenCompleted: 4,
		ForgottenUndone:    1,
		StuckAfter:         "30m0s",
		Stuck: []audit.Stuck{
			{OrderID: "7", Kind: audit.KindNeedsAttention, For: "5m0s", Detail: "a compensation could not be done", Action: "starter resume 7"},
			{OrderID: "9", Kind: audit.KindNoServiceWorker, For: "45m0s", Detail: "ChargePayment waits", Action: "start one", Overdue: true},
		},
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
		"audit: 3 orders ended (2 COMPLETED, 1 CANCELLED), 3 running, 5 forgotten by Temporal and judged by the stores alone (4 completed, 1 undone)",
		"NOTE   order 7: needs_attention for 5m0s: a compensation could not be done; starter resume 7",
		"STUCK  order 9: no_service_worker for 45m0s (over the threshold): ChargePayment waits; start one",
		"ok    stock: 5 SKUs",
		"FAIL  money: captured $10.00 = total of completed orders $15.00",
		"VIOLATION  money: charges captured for ended orders add up to $10.00, completed orders to $15.00",
		"audit failed: 1 violation(s), 1 order(s) stuck over 30m0s",
	}
	if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("text report:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}

	out.Reset()
	if err := g.printReport(audit.Report{OrdersEnded: map[workflows.Status]int{}, Violations: []string{}, StuckAfter: "30m0s"}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "audit passed: no violations, no order stuck over 30m0s\n") {
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
		OK                 bool           `json:"ok"`
		OrdersEnded        map[string]int `json:"orders_ended"`
		OrdersRunning      int            `json:"orders_running"`
		ForgottenCompleted int            `json:"forgotten_completed"`
		Stuck              []audit.Stuck  `json:"stuck"`
		CapturedCents      int64          `json:"captured_cents"`
		CompletedCents     int64          `json:"completed_cents"`
		Checks             []audit.Check  `json:"checks"`
		Violations         []string       `json:"violations"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out.String())
	}
	if got.OK || got.OrdersEnded["COMPLETED"] != 2 || got.OrdersRunning != 3 || got.ForgottenCompleted != 4 || len(got.Stuck) != 2 ||
		!got.Stuck[1].Overdue || got.CapturedCents != 1000 || got.CompletedCents != 1500 || len(got.Checks) != 2 || got.Checks[1].Violations != 1 || len(got.Violations) != 1 {
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
	inv, err := inventory.Open(context.Background(), filepath.Join(dir, inventory.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	inv.Close()
	if err := os.Mkdir(filepath.Join(dir, payment.DatabaseFile), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"audit", "--temporal-address=127.0.0.1:1", "--data-dir=" + dir}

	code, stdout, stderr := invoke(t, args...)

	wantOneLineError(t, args, code, stdout, stderr, payment.DatabaseFile)
}

// A mistyped --data-dir is a one-line error, and the audit creates
// nothing there: no directory, no store.
func TestAuditMistypedDataDirCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mistyped")
	args := []string{"audit", "--temporal-address=127.0.0.1:1", "--data-dir=" + dir}

	code, stdout, stderr := invoke(t, args...)

	wantOneLineError(t, args, code, stdout, stderr, "no store at "+filepath.Join(dir, "inventory.db"))
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the audit created %s: %v", dir, err)
	}
}

func TestAuditRefusesANonPositiveStuckAfter(t *testing.T) {
	dir := t.TempDir()
	args := []string{"audit", "--temporal-address=127.0.0.1:1", "--data-dir=" + dir, "--stuck-after", "0s"}

	code, stdout, stderr := invoke(t, args...)

	wantOneLineError(t, args, code, stdout, stderr, "--stuck-after is 0s")
	wantEmptyDir(t, dir)
}

// A duration in the environment that does not parse is refused, not
// replaced by the default.
func TestAuditRefusesAMalformedDurationInTheEnvironment(t *testing.T) {
	for _, name := range []string{StuckAfterEnv, AuditEveryEnv} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "thirty minutes")
			dir := t.TempDir()
			args := []string{"audit", "--temporal-address=127.0.0.1:1", "--data-dir=" + dir}

			code, stdout, stderr := invoke(t, args...)

			wantOneLineError(t, args, code, stdout, stderr, name+`="thirty minutes" is not a duration`)
			wantEmptyDir(t, dir)
		})
	}
}
