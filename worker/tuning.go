package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga/internal/platform/cli"
)

// Defaults of the tuning flags, measured with `make bench` (bench/results.md;
// docs/performance.md has the figures).
const (
	// DefaultWorkflowPollers: with the SDK's default of 2, workflow tasks
	// waited in the server for most of an order's latency once 50 orders
	// were in flight: each poll also records the task's start in the
	// server's database, so two pollers bound the tasks a second a worker
	// can take. More pollers let the server's own speed set the pace.
	DefaultWorkflowPollers = 8
	// DefaultActivityPollers is the same for each service's activities.
	DefaultActivityPollers = 8
	// DefaultWorkflowCacheSize bounds the orders kept in memory between
	// their workflow tasks, so that a task does not replay the history.
	// With the SDK's 10,000, a worker holding 10,000 orders in their cancel
	// window peaked at 678 MiB RSS; with 2,000 at 192 MiB (make bench-open),
	// and an order evicted meanwhile replays its few events when its window
	// ends. Throughput runs keep far fewer orders in flight.
	DefaultWorkflowCacheSize = 2_000
	// DefaultPollers keeps the number of pollers fixed: with both modes as
	// variants of one `make bench` run, autoscaling matched the fixed 8 at
	// 10 and 50 orders in flight and was 11% slower at 100
	// (bench/results.md).
	DefaultPollers = PollersFixed
)

// The modes of --pollers.
const (
	// PollersFixed keeps --workflow-pollers and --activity-pollers polls
	// open on each task queue at all times.
	PollersFixed = "fixed"
	// PollersAutoscaling lets the server's poll responses add a poll while
	// its tasks wait in a backlog and remove one that waited idle, between
	// minAutoscalingPollers and the flags' numbers.
	PollersAutoscaling = "autoscaling"
)

// PollersEnv holds --pollers' default.
const PollersEnv = "ORDERSAGA_POLLERS"

// minAutoscalingPollers is the fewest polls an autoscaled queue keeps
// open (the SDK's minimum too): one poll is enough for no task to go
// unpolled, and the server asks for more as soon as a backlog builds.
// For workflow tasks it holds for the shared and the sticky queue each,
// so an idle order worker still polls both.
const minAutoscalingPollers = 1

// tuning are the worker's performance flags.
type tuning struct {
	pollers           pollerMode
	workflowPollers   int
	activityPollers   int
	workflowCacheSize int
}

func (t *tuning) register(pf *pflag.FlagSet) {
	t.pollers = pollerMode(cli.EnvOr(PollersEnv, DefaultPollers))
	pf.Var(&t.pollers, "pollers",
		"fixed: always --workflow-pollers and --activity-pollers polls per task queue; autoscaling: as many as the server's poll responses ask for, from 1 up to those numbers (env "+PollersEnv+")")
	pf.IntVar(&t.workflowPollers, "workflow-pollers", DefaultWorkflowPollers,
		"concurrent polls for workflow tasks per task queue (at least 2: the SDK splits them between the sticky and the shared queue; with --pollers autoscaling, the most for each of the two)")
	pf.IntVar(&t.activityPollers, "activity-pollers", DefaultActivityPollers,
		"concurrent polls for activity tasks per service's task queue (with --pollers autoscaling, the most)")
	pf.IntVar(&t.workflowCacheSize, "workflow-cache-size", DefaultWorkflowCacheSize,
		"orders kept in memory between workflow tasks; fewer saves memory, at the cost of replaying an evicted order's history on its next task")
}

// check refuses values the SDK would panic on or ignore.
func (t tuning) check() error {
	switch {
	case !t.pollers.valid():
		// A bad --pollers fails the flag's parsing: this one came from the
		// environment.
		return fmt.Errorf("%s is %q: give %s or %s", PollersEnv, string(t.pollers), PollersFixed, PollersAutoscaling)
	case t.workflowPollers < 2:
		return fmt.Errorf("--workflow-pollers is %d: give at least 2", t.workflowPollers)
	case t.activityPollers < 1:
		return fmt.Errorf("--activity-pollers is %d: give at least 1", t.activityPollers)
	case t.workflowCacheSize < 1:
		return fmt.Errorf("--workflow-cache-size is %d: give at least 1", t.workflowCacheSize)
	}
	return nil
}

// applyProcessWide sets what the SDK keeps per process, not per worker:
// it must run before the first worker is created.
func (t tuning) applyProcessWide() {
	worker.SetStickyWorkflowCacheSize(t.workflowCacheSize)
}

// workerOptions are the options of each service's worker. The SDK takes
// either a fixed number of pollers or a poller behavior, never both.
func (t tuning) workerOptions(stopTimeout time.Duration) worker.Options {
	o := worker.Options{WorkerStopTimeout: stopTimeout}
	if t.pollers == PollersAutoscaling {
		o.WorkflowTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(autoscalingRange(t.workflowPollers))
		o.ActivityTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(autoscalingRange(t.activityPollers))
		return o
	}
	o.MaxConcurrentWorkflowTaskPollers = t.workflowPollers
	o.MaxConcurrentActivityTaskPollers = t.activityPollers
	return o
}

// autoscalingRange starts a queue's polls at their maximum, not at the
// SDK's 5: a worker started while tasks wait (after a restart, in a
// burst) takes them at once instead of adding one poll per server
// response, and the server's responses then remove the polls that wait
// idle (a poll that waited a second for its task, or one that ended
// empty). Temporal Server 1.29 sends these scaling decisions on workflow
// and activity poll responses; against a server that sends none, the SDK
// never scales and the polls stay at their maximum.
func autoscalingRange(most int) worker.PollerBehaviorAutoscalingOptions {
	return worker.PollerBehaviorAutoscalingOptions{
		InitialNumberOfPollers: most,
		MinimumNumberOfPollers: minAutoscalingPollers,
		MaximumNumberOfPollers: most,
	}
}

func (t tuning) String() string {
	return fmt.Sprintf("pollers=%s workflow_pollers=%d activity_pollers=%d workflow_cache_size=%d",
		string(t.pollers), t.workflowPollers, t.activityPollers, t.workflowCacheSize)
}

// pollerMode is the value of --pollers: PollersFixed or PollersAutoscaling.
type pollerMode string

func (m pollerMode) valid() bool { return m == PollersFixed || m == PollersAutoscaling }

func (m *pollerMode) Set(s string) error {
	if !pollerMode(s).valid() {
		return fmt.Errorf("give %s or %s", PollersFixed, PollersAutoscaling)
	}
	*m = pollerMode(s)
	return nil
}

func (m *pollerMode) String() string { return string(*m) }

func (m *pollerMode) Type() string { return PollersFixed + "|" + PollersAutoscaling }
