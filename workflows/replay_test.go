package workflows

import (
	"bytes"
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
// one). Each version's files replay against the code of the build that
// runs its orders (buildOf): they stand for the orders of that build still
// running when a new one is deployed.
const historiesDir = "testdata/histories"

// currentVersion is the version the current code records. Its orders run
// on this build's workers only: they are pinned to the Worker Deployment
// Version they started on (Register).
const currentVersion = "v6"

// firstPinnedVersion is the first version recorded through Worker
// Versioning: from it on, each version's orders run on its own build.
const firstPinnedVersion = "v5"

// buildOf returns the workflow code that runs the orders of a recorded
// version. v1 to v4 were recorded on unversioned workers; their orders run
// on the last build that writes every status to visibility (everyStatus),
// the deployment's first version, which takes over the unversioned orders
// and keeps its own pinned until they end. From v5 on, a version's orders
// run on its own build. v6 changed how the workflow's code reads (one
// field for why the steps stopped), not the commands it issues, so v5's
// build is the current code: its histories replaying here is the proof.
func buildOf(version string) func(workflow.Context, Order) (OrderState, error) {
	writes := restingStatuses
	if version < firstPinnedVersion {
		writes = everyStatus
	}
	return func(ctx workflow.Context, order Order) (OrderState, error) {
		return Config{}.orderWorkflow(ctx, order, writes)
	}
}

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

// versionOf is the recorded version of a history file: its directory.
func versionOf(file string) string { return filepath.Base(filepath.Dir(file)) }

// replayer returns a replayer with workflow registered as the order
// workflow.
func replayer(wf func(workflow.Context, Order) (OrderState, error)) worker.WorkflowReplayer {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: ordersaga.OrderWorkflowType})
	return r
}

// TestReplayRecordedHistories replays every recorded history against the
// code of the build that runs its orders: a change that would make a
// running order's workflow take a different path than its history says
// fails here. The current version's histories replay against the workflow
// as Register registers it.
func TestReplayRecordedHistories(t *testing.T) {
	for _, file := range historyFiles(t) {
		t.Run(strings.TrimPrefix(file, historiesDir+"/"), func(t *testing.T) {
			r := replayer(buildOf(versionOf(file)))
			if versionOf(file) == currentVersion {
				r = worker.NewWorkflowReplayer()
				Register(r, Config{})
			}
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
		})
	}
}

// TestOlderBuildsNeedTheirOwnWorkers shows why an order stays pinned to the
// build it started on: the current code does not write every status, so
// it cannot run an unversioned build's orders. Every history recorded
// before Worker Versioning whose order took a step fails to replay against
// it with a nondeterminism error (one that ended at its claim wrote only
// its end).
func TestOlderBuildsNeedTheirOwnWorkers(t *testing.T) {
	for _, file := range historyFiles(t) {
		if versionOf(file) >= firstPinnedVersion || !tookAStep(t, file) {
			continue
		}
		t.Run(strings.TrimPrefix(file, historiesDir+"/"), func(t *testing.T) {
			err := replayer(OrderWorkflow).ReplayWorkflowHistoryFromJSONFile(discardLogger, file)
			// TMPRL1100 is the SDK's code for a nondeterminism error.
			if err == nil || !strings.Contains(err.Error(), "TMPRL1100") {
				t.Errorf("replay against the current code: error = %v, want a nondeterminism error", err)
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

// tookAStep reports whether the recorded order scheduled an activity: a
// forward step.
func tookAStep(t *testing.T, file string) bool {
	t.Helper()
	history, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(history, []byte("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"))
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
func orderWorkflowWithFraudCheck(build func(workflow.Context, Order) (OrderState, error)) func(workflow.Context, Order) (OrderState, error) {
	return func(ctx workflow.Context, order Order) (OrderState, error) {
		check := workflow.WithActivityOptions(ctx, fraudCheckOptions)
		if err := workflow.ExecuteActivity(check, "CheckFraud", order.ID).Get(check, nil); err != nil {
			return OrderState{}, err
		}
		return build(ctx, order)
	}
}

// orderWorkflowWithVersionedFraudCheck makes the same change safely: the
// new step runs only for orders that reach this point on the new code
// (GetVersion records the choice in the history); orders already past it
// replay as they ran.
func orderWorkflowWithVersionedFraudCheck(build func(workflow.Context, Order) (OrderState, error)) func(workflow.Context, Order) (OrderState, error) {
	return func(ctx workflow.Context, order Order) (OrderState, error) {
		if workflow.GetVersion(ctx, "fraud-check", workflow.DefaultVersion, 1) == 1 {
			check := workflow.WithActivityOptions(ctx, fraudCheckOptions)
			if err := workflow.ExecuteActivity(check, "CheckFraud", order.ID).Get(check, nil); err != nil {
				return OrderState{}, err
			}
		}
		return build(ctx, order)
	}
}

// TestReplayCatchesUnversionedChange shows that the replay test does its
// job: the unversioned change fails to replay every recorded history with
// a nondeterminism error, while the same change behind GetVersion replays
// them all.
func TestReplayCatchesUnversionedChange(t *testing.T) {
	for _, file := range historyFiles(t) {
		t.Run(strings.TrimPrefix(file, historiesDir+"/"), func(t *testing.T) {
			build := buildOf(versionOf(file))
			// TMPRL1100 is the SDK's code for a nondeterminism error.
			err := replayer(orderWorkflowWithFraudCheck(build)).ReplayWorkflowHistoryFromJSONFile(discardLogger, file)
			if err == nil || !strings.Contains(err.Error(), "TMPRL1100") {
				t.Errorf("unversioned change: replay error = %v, want a nondeterminism error", err)
			}
			if err := replayer(orderWorkflowWithVersionedFraudCheck(build)).ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Errorf("versioned change: %v", err)
			}
		})
	}
}
