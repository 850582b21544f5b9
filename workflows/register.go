package workflows

import (
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
)

// Config is what an operator tunes in the order workflow, through the order
// service's worker flags. It changes no decision a running order has taken:
// it only bounds how long what comes next may take.
type Config struct {
	// CompensationTimeout bounds how long one compensation keeps retrying
	// before the order stops in NEEDS_ATTENTION for an operator. Zero means
	// DefaultCompensationTimeout.
	CompensationTimeout time.Duration
}

// DefaultCompensationTimeout rides out a service outage of several minutes
// while making sure a person hears of a refund that cannot be made within
// the half hour.
const DefaultCompensationTimeout = 30 * time.Minute

func (cfg Config) compensationTimeout() time.Duration {
	if cfg.CompensationTimeout <= 0 {
		return DefaultCompensationTimeout
	}
	return cfg.CompensationTimeout
}

// Register registers the order workflow with cfg on w, a worker polling
// ordersaga.OrdersTaskQueue, under its public name.
//
// On a worker that joins a Worker Deployment Version, an order is pinned:
// it runs to its end on the build it started on, so a new build's workflow
// code never replays an older build's histories and a change to it needs
// no workflow.GetVersion branch. The price is that an order waiting days
// (in its cancel window, in NEEDS_ATTENTION) keeps its build's workers
// needed until it ends: a build is retired only once drained. An
// unversioned worker ignores the behaviour.
func Register(w worker.WorkflowRegistry, cfg Config) {
	w.RegisterWorkflowWithOptions(cfg.OrderWorkflow, workflow.RegisterOptions{
		Name:               ordersaga.OrderWorkflowType,
		VersioningBehavior: workflow.VersioningBehaviorPinned,
	})
}
