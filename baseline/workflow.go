// Package baseline is the yardstick for the order saga's load figures: a
// workflow that runs three no-op activities in sequence and touches no store,
// sets no timer and keeps no search attribute. What it costs is what Temporal
// and a worker cost on their own. `starter load --workflow baseline` runs it,
// so that the order saga's load figures can be read against it.
package baseline

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// activityOptions bound each no-op step; a step that cannot even be
// dispatched within them says the worker is overloaded, which is a result.
var activityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
}

// Workflow runs Steps one after the other and returns the first error.
func Workflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	for _, step := range Steps {
		if err := workflow.ExecuteActivity(ctx, step).Get(ctx, nil); err != nil {
			return fmt.Errorf("baseline step %s: %w", step, err)
		}
	}
	return nil
}
