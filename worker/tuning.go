package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/worker"
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
)

// tuning are the worker's performance flags.
type tuning struct {
	workflowPollers   int
	activityPollers   int
	workflowCacheSize int
}

func (t *tuning) register(pf *pflag.FlagSet) {
	pf.IntVar(&t.workflowPollers, "workflow-pollers", DefaultWorkflowPollers,
		"concurrent polls for workflow tasks per task queue (at least 2: the SDK splits them between the sticky and the shared queue)")
	pf.IntVar(&t.activityPollers, "activity-pollers", DefaultActivityPollers,
		"concurrent polls for activity tasks per service's task queue")
	pf.IntVar(&t.workflowCacheSize, "workflow-cache-size", DefaultWorkflowCacheSize,
		"orders kept in memory between workflow tasks; fewer saves memory, at the cost of replaying an evicted order's history on its next task")
}

// check refuses values the SDK would panic on or ignore.
func (t tuning) check() error {
	switch {
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

// workerOptions are the options of each service's worker.
func (t tuning) workerOptions(stopTimeout time.Duration) worker.Options {
	return worker.Options{
		WorkerStopTimeout:                stopTimeout,
		MaxConcurrentWorkflowTaskPollers: t.workflowPollers,
		MaxConcurrentActivityTaskPollers: t.activityPollers,
	}
}

func (t tuning) String() string {
	return fmt.Sprintf("workflow_pollers=%d activity_pollers=%d workflow_cache_size=%d", t.workflowPollers, t.activityPollers, t.workflowCacheSize)
}
