package baseline

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register registers the baseline workflow and its activities on w, a
// worker polling TaskQueue, under their public names.
func Register(w worker.Registry) {
	w.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowType})
	for _, step := range Steps {
		w.RegisterActivityWithOptions(Noop, activity.RegisterOptions{Name: step})
	}
}
