package baseline

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
)

// Register registers the baseline workflow and its activities on w, a
// worker polling ordersaga.BaselineTaskQueue, under their public names.
func Register(w worker.Registry) {
	w.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: ordersaga.BaselineWorkflowType})
	for _, step := range Steps {
		w.RegisterActivityWithOptions(Noop, activity.RegisterOptions{Name: step})
	}
}
