package e2e

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/workflows"
)

const (
	// testDeployment is the Worker Deployment that both builds join.
	testDeployment = "ordersaga"
	// buildBIdentity names build B's workers in the histories, so that a
	// test sees which build ran an activity.
	buildBIdentity = "ordersaga-build-B"
	// buildMemo is the memo field that build B's order workflow sets: the
	// workflow change a rollout ships.
	buildMemo = "build"
)

// TestVersioningRollOutAndBack rolls out a build B with a changed order
// workflow while orders of build A wait in their cancel window, then rolls
// back. Pinned orders end on the build they started on, workflow and
// activities alike; new orders start on the current build.
func TestVersioningRollOutAndBack(t *testing.T) {
	s := newStack(t)
	// The first build of a new deployment makes itself current; a later
	// one waits for an operator.
	a := s.startWorker(t, "worker-A", "--deployment-name", testDeployment, "--build-id", "A")
	a.waitOutput(t, "build is the deployment's current version", workerStartTimeout)
	c := s.startWorker(t, "worker-C", "--deployment-name", testDeployment, "--build-id", "C")
	c.waitOutput(t, "build is not the deployment's current version", workerStartTimeout)
	c.stop(t, syscall.SIGTERM)
	if got := currentVersion(t, s); got != "A" {
		t.Fatalf("current version is %q after build C started, want A", got)
	}

	waiting := []string{"ver-a-1", "ver-a-2"}
	for _, id := range waiting {
		view(t, placeOrder(t, s, id, "30s"), 0)
	}
	for _, id := range waiting {
		s.waitStatus(t, id, workflows.AwaitingFulfillment)
	}

	startBuildB(t, s)
	setCurrentVersion(t, s, "B")
	for _, id := range waiting {
		v, err := s.orders(t).Snapshot(context.Background(), id)
		if err != nil || v.Status != workflows.AwaitingFulfillment {
			t.Fatalf("order %s is %s (%v) once B is current, want it still %s: lengthen its cancel window", id, v.Status, err, workflows.AwaitingFulfillment)
		}
	}
	if v := view(t, placeOrder(t, s, "ver-b-1", "1s", "--wait"), 0); v.Status != workflows.Completed {
		t.Fatalf("order ver-b-1 on build B is %s, want %s: %+v", v.Status, workflows.Completed, v.OrderState)
	}
	for _, id := range waiting {
		if v := s.wait(t, id); v.Status != workflows.Completed {
			t.Fatalf("order %s of build A is %s after the rollout, want %s: %+v", id, v.Status, workflows.Completed, v.OrderState)
		}
	}

	// Retiring A is safe once Temporal finds no open order pinned to it.
	waitDrained(t, s, "A")

	setCurrentVersion(t, s, "A") // the rollback: A's workers still run
	if v := view(t, placeOrder(t, s, "ver-r-1", "1s", "--wait"), 0); v.Status != workflows.Completed {
		t.Fatalf("order ver-r-1 after the rollback is %s, want %s: %+v", v.Status, workflows.Completed, v.OrderState)
	}

	tests := []struct {
		id        string
		build     string
		changed   bool // ran build B's workflow
		activityB bool // build B's workers ran its activities
	}{
		{id: "ver-a-1", build: "A"},
		{id: "ver-a-2", build: "A"},
		{id: "ver-b-1", build: "B", changed: true, activityB: true},
		{id: "ver-r-1", build: "A"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			run := describeRun(t, s, tt.id)
			if got := run.builds; !slices.Equal(got, []string{tt.build}) {
				t.Errorf("workflow tasks completed by builds %v, want only %s", got, tt.build)
			}
			if run.behavior != enumspb.VERSIONING_BEHAVIOR_PINNED || run.version != tt.build {
				t.Errorf("versioning info: %s on build %q, want PINNED on %s", run.behavior, run.version, tt.build)
			}
			if changed := run.memo == "B"; changed != tt.changed {
				t.Errorf("memo %s=%q: ran build B's workflow %t, want %t", buildMemo, run.memo, changed, tt.changed)
			}
			if len(run.activityWorkers) != 3 {
				t.Fatalf("activity workers %v: want reserve, charge and ship", run.activityWorkers)
			}
			for _, w := range run.activityWorkers {
				if onB := w == buildBIdentity; onB != tt.activityB {
					t.Errorf("activity ran on worker %q: on build B %t, want %t", w, onB, tt.activityB)
				}
			}
		})
	}

	shipped := map[string]bool{}
	for _, sh := range s.stores(t).contents(t).Shipments {
		shipped[sh.OrderID] = true
	}
	for _, tt := range tests {
		if !shipped[tt.id] {
			t.Errorf("order %s has no shipment in the shipping store; shipped: %v", tt.id, shipped)
		}
	}
}

// placeOrder places an order of one book with the given cancel window.
func placeOrder(t *testing.T, s *stack, id, cancelWindow string, extra ...string) result {
	t.Helper()
	args := []string{"place", "--id", id, "--customer", "c-ver", "--item", "BOOK-GOPL:1", "--payment", payment.TokenVisa,
		"--address", "1 Gopher Way", "--cancel-window", cancelWindow, "-o", "json"}
	return s.starter(t, append(args, extra...)...)
}

// setCurrentVersion makes buildID the deployment's current version, as
// `temporal worker deployment set-current-version` does. Temporal refuses
// it until the build's workers polled every task queue of the current
// version; once it accepts, every task queue routes new orders to the
// build.
func setCurrentVersion(t *testing.T, s *stack, buildID string) {
	t.Helper()
	h := s.oc.Temporal.WorkerDeploymentClient().GetHandle(testDeployment)
	eventually(t, time.Minute, "build "+buildID+" becomes current", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: buildID}); err != nil {
			return false, err.Error()
		}
		current := currentVersion(t, s)
		return current == buildID, "current version " + current
	})
}

// waitDrained waits until Temporal reports that no open workflow is
// pinned to build buildID, which is what `temporal worker deployment
// describe-version` shows an operator before retiring it.
func waitDrained(t *testing.T, s *stack, buildID string) {
	t.Helper()
	h := s.oc.Temporal.WorkerDeploymentClient().GetHandle(testDeployment)
	eventually(t, time.Minute, "build "+buildID+" drained", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := h.DescribeVersion(ctx, client.WorkerDeploymentDescribeVersionOptions{BuildID: buildID})
		if err != nil {
			return false, err.Error()
		}
		info := d.Info.DrainageInfo
		if info == nil {
			return false, "no drainage info"
		}
		return info.DrainageStatus == client.WorkerDeploymentVersionDrainageStatusDrained, fmt.Sprintf("drainage status %d", info.DrainageStatus)
	})
}

// currentVersion is the build ID of the deployment's current version.
func currentVersion(t *testing.T, s *stack) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := s.oc.Temporal.WorkerDeploymentClient().GetHandle(testDeployment).Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		t.Fatalf("describe deployment %s: %v", testDeployment, err)
	}
	if v := d.Info.RoutingConfig.CurrentVersion; v != nil {
		return v.BuildID
	}
	return ""
}

// startBuildB starts build B in the test process: workers on the four task
// queues in the same deployment, with the real activities on the stack's
// stores and a changed order workflow under the same name.
func startBuildB(t *testing.T, s *stack) {
	t.Helper()
	ctx := context.Background()
	opts := worker.Options{
		Identity: buildBIdentity,
		DeploymentOptions: worker.DeploymentOptions{
			UseVersioning:             true,
			Version:                   worker.WorkerDeploymentVersion{DeploymentName: testDeployment, BuildID: "B"},
			DefaultVersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
		},
	}
	register := map[string]func(worker.Worker) (interface{ Close() error }, error){
		ordersaga.OrdersTaskQueue: func(w worker.Worker) (interface{ Close() error }, error) {
			store, err := orders.Register(ctx, w, s.dataDir, "", false)
			w.RegisterWorkflowWithOptions(orderWorkflowB, workflow.RegisterOptions{
				Name: ordersaga.OrderWorkflowType, VersioningBehavior: workflow.VersioningBehaviorPinned,
			})
			return store, err
		},
		ordersaga.InventoryTaskQueue: func(w worker.Worker) (interface{ Close() error }, error) {
			return inventory.Register(ctx, w, s.dataDir, "")
		},
		ordersaga.PaymentTaskQueue: func(w worker.Worker) (interface{ Close() error }, error) {
			return payment.Register(ctx, w, s.dataDir, "")
		},
		ordersaga.ShippingTaskQueue: func(w worker.Worker) (interface{ Close() error }, error) {
			return shipping.Register(ctx, w, s.dataDir, "")
		},
	}
	for queue, reg := range register {
		w := worker.New(s.oc.Temporal, queue, opts)
		store, err := reg(w)
		if err != nil {
			t.Fatalf("build B on %s: %v", queue, err)
		}
		t.Cleanup(func() { store.Close() }) // after the worker stopped
		if err := w.Start(); err != nil {
			t.Fatalf("start build B's worker on %s: %v", queue, err)
		}
		t.Cleanup(w.Stop)
	}
}

// orderWorkflowB is build B's order workflow: the order saga, marked in
// its memo. Replaying one of build A's histories on it would fail on the
// memo's command, which pinning makes sure never happens.
func orderWorkflowB(ctx workflow.Context, order workflows.Order) (workflows.OrderState, error) {
	if err := workflow.UpsertMemo(ctx, map[string]any{buildMemo: "B"}); err != nil {
		return workflows.OrderState{}, err
	}
	return workflows.Config{}.OrderWorkflow(ctx, order)
}

// versionedRun is what Temporal recorded of an order's run about the
// builds that ran it.
type versionedRun struct {
	builds          []string // the builds that completed its workflow tasks, in order, without repeats
	activityWorkers []string // the identities of the workers that started its activities
	behavior        enumspb.VersioningBehavior
	version         string // the build ID of its versioning info
	memo            string // its buildMemo field, set by build B
}

func describeRun(t *testing.T, s *stack, orderID string) versionedRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	workflowID := ordersaga.WorkflowIDPrefix + orderID
	d, err := s.oc.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		t.Fatalf("describe %s: %v", workflowID, err)
	}
	info := d.GetWorkflowExecutionInfo()
	run := versionedRun{
		behavior: info.GetVersioningInfo().GetBehavior(),
		version:  info.GetVersioningInfo().GetDeploymentVersion().GetBuildId(),
	}
	if p, ok := info.GetMemo().GetFields()[buildMemo]; ok {
		if err := converter.GetDefaultDataConverter().FromPayload(p, &run.memo); err != nil {
			t.Fatalf("decode memo %s of %s: %v", buildMemo, workflowID, err)
		}
	}
	it := s.oc.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			b := e.GetWorkflowTaskCompletedEventAttributes().GetDeploymentVersion().GetBuildId()
			if len(run.builds) == 0 || run.builds[len(run.builds)-1] != b {
				run.builds = append(run.builds, b)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			run.activityWorkers = append(run.activityWorkers, e.GetActivityTaskStartedEventAttributes().GetIdentity())
		}
	}
	return run
}
