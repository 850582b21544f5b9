package workflows

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
)

// historiesDir holds the recorded histories, one directory per version of
// the workflow that recorded them (`make histories` records the current
// one). Every file of every version must replay against the current code:
// they stand for the orders still running when a new version is deployed.
const historiesDir = "testdata/histories"

// recordedPaths are the saga's paths a version's recording covers, each
// from the version that introduced it on.
var recordedPaths = map[string]string{
	"completed": "v1", "flaky-payment": "v1", "declined": "v1", "out-of-stock": "v1", "undeliverable": "v1",
	"cancelled-by-signal": "v1", "cancelled-by-temporal": "v1", "refused-cancel-while-compensating": "v1", "compensation-retried": "v1",
	"needs-attention-resumed": "v2",
	"refused-late-cancel":     "v3", "refused-late-temporal-cancel": "v3",
	"reused-order-id": "v4", "cancelled-by-update": "v4", "placed-with-answer": "v4",
}

func historyFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(historiesDir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories under %s (%v); record them with `make histories`", historiesDir, err)
	}
	return files
}

// TestReplayRecordedHistories replays every recorded history against the
// current OrderWorkflow: a change that would make a running order's
// workflow take a different path than its history says fails here.
func TestReplayRecordedHistories(t *testing.T) {
	for _, file := range historyFiles(t) {
		t.Run(strings.TrimPrefix(file, historiesDir+"/"), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r, Config{})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
		})
	}
}

// TestRecordedPathsComplete checks that each version's recording has every
// path, so a path the recorder stopped covering does not go unnoticed.
func TestRecordedPathsComplete(t *testing.T) {
	versions, err := os.ReadDir(historiesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		for path, since := range recordedPaths {
			if v.Name() < since {
				continue
			}
			if _, err := os.Stat(filepath.Join(historiesDir, v.Name(), path+".json")); err != nil {
				t.Errorf("version %s has no recorded %q history: %v", v.Name(), path, err)
			}
		}
	}
}

// discardLogger keeps the expected replay failures' stack traces out of
// the test output.
var discardLogger = log.NewStructuredLogger(slog.New(slog.DiscardHandler))

// fraudCheckOptions are the options of the new step in the changed
// workflows below.
var fraudCheckOptions = workflow.ActivityOptions{StartToCloseTimeout: time.Second, TaskQueue: ordersaga.PaymentTaskQueue}

// orderWorkflowWithFraudCheck is the order workflow after a careless
// change: a new step, a fraud check before the reservation, added without
// versioning. Orders started before the change have histories without it.
func orderWorkflowWithFraudCheck(ctx workflow.Context, order Order) (OrderState, error) {
	check := workflow.WithActivityOptions(ctx, fraudCheckOptions)
	if err := workflow.ExecuteActivity(check, "CheckFraud", order.ID).Get(check, nil); err != nil {
		return OrderState{}, err
	}
	return OrderWorkflow(ctx, order)
}

// orderWorkflowWithVersionedFraudCheck makes the same change safely: the
// new step runs only for orders that reach this point on the new code
// (GetVersion records the choice in the history); orders already past it
// replay as they ran.
func orderWorkflowWithVersionedFraudCheck(ctx workflow.Context, order Order) (OrderState, error) {
	if workflow.GetVersion(ctx, "fraud-check", workflow.DefaultVersion, 1) == 1 {
		check := workflow.WithActivityOptions(ctx, fraudCheckOptions)
		if err := workflow.ExecuteActivity(check, "CheckFraud", order.ID).Get(check, nil); err != nil {
			return OrderState{}, err
		}
	}
	return OrderWorkflow(ctx, order)
}

// TestReplayCatchesUnversionedChange shows that the replay test does its
// job: the unversioned change fails to replay every recorded history with
// a nondeterminism error, while the same change behind GetVersion replays
// them all.
func TestReplayCatchesUnversionedChange(t *testing.T) {
	for _, file := range historyFiles(t) {
		t.Run(strings.TrimPrefix(file, historiesDir+"/"), func(t *testing.T) {
			careless := worker.NewWorkflowReplayer()
			careless.RegisterWorkflowWithOptions(orderWorkflowWithFraudCheck, workflow.RegisterOptions{Name: ordersaga.OrderWorkflowType})
			// TMPRL1100 is the SDK's code for a nondeterminism error.
			err := careless.ReplayWorkflowHistoryFromJSONFile(discardLogger, file)
			if err == nil || !strings.Contains(err.Error(), "TMPRL1100") {
				t.Errorf("unversioned change: replay error = %q, want a nondeterminism error", err)
			}

			versioned := worker.NewWorkflowReplayer()
			versioned.RegisterWorkflowWithOptions(orderWorkflowWithVersionedFraudCheck, workflow.RegisterOptions{Name: ordersaga.OrderWorkflowType})
			if err := versioned.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Errorf("versioned change: %v", err)
			}
		})
	}
}
