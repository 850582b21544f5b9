package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestAuditReportsAnOrderWithoutAPaymentWorker places an order while no
// payment worker runs: the order waits for its charge, and once it has
// waited longer than --stuck-after the audit fails, naming the order, why
// it is stuck and the command that unsticks it. Once a payment worker
// starts, the order completes and the audit passes.
func TestAuditReportsAnOrderWithoutAPaymentWorker(t *testing.T) {
	s := newStack(t)
	// The payment service has run here before (its store exists, as the
	// audit requires) and is down now.
	s.startWorker(t, "worker-payment-before", "--services", "payment").stop(t, syscall.SIGTERM)
	s.startWorker(t, "worker", "--services", "order,inventory,shipping")
	const id = "no-payment"
	view(t, s.starter(t, "place", "--id", id, "--customer", "c-1", "--item", "BOOK-GOPL:1", "--payment", payment.TokenVisa,
		"--address", shipTo, "--cancel-window", "0s", "-o", "json"), 0)

	var stuck audit.Stuck
	eventually(t, orderTimeout, "the audit fails on order "+id+" stuck without a payment worker", func() (bool, string) {
		report, r := s.audit(t, "--stuck-after", "2s")
		for _, st := range report.Stuck {
			if st.OrderID == id {
				stuck = st
			}
		}
		return r.code == 1 && !report.OK && stuck.Overdue, r.String()
	})
	if stuck.Kind != audit.KindNoServiceWorker || !strings.Contains(stuck.Action, "worker run --services payment") ||
		!strings.Contains(stuck.Detail, "ChargePayment") {
		t.Errorf("stuck %+v; want kind %s, ChargePayment waiting, and the action to start a payment worker", stuck, audit.KindNoServiceWorker)
	}
	r := s.worker(t, "audit", "--stuck-after", "2s")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 1 ||
		!strings.Contains(r.stdout, "order "+id+": "+audit.KindNoServiceWorker) ||
		lines[len(lines)-1] != "audit failed: 0 violation(s), 1 order(s) stuck over 2s" {
		t.Errorf("audit text output: want exit 1, the order stuck, and the failure last: %s", r)
	}

	s.startWorker(t, "worker-payment", "--services", "payment")
	if v := s.wait(t, id); v.Status != workflows.Completed {
		t.Fatalf("order %s ended %s once a payment worker runs: %+v", id, v.Status, v.OrderState)
	}
	assertAuditClean(t, s, map[workflows.Status]int{workflows.Completed: 1})
}

// TestAuditOfAMistypedDataDirCreatesNothing runs the audit on a data
// directory that does not exist: it fails with one line naming the missing
// store, and creates neither the directory nor a store in it.
func TestAuditOfAMistypedDataDirCreatesNothing(t *testing.T) {
	srv := startServer(t)
	typo := filepath.Join(t.TempDir(), "typo")

	r := runCommand(t, workerBin, "audit", "--temporal-address", srv.address, "--data-dir", typo)

	named := slices.ContainsFunc([]string{inventory.DatabaseFile, payment.DatabaseFile, shipping.DatabaseFile}, func(file string) bool {
		return strings.Contains(r.stderr, "no store at "+filepath.Join(typo, file))
	})
	if r.code == 0 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !named {
		t.Errorf("want a non-zero exit, nothing on stdout and one line on stderr naming a missing store in %s: %s", typo, r)
	}
	if _, err := os.Stat(typo); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the audit left %s behind (stat: %v)", typo, err)
	}
}
