package baseline

// Names that `worker run --benchmark-baseline` and `starter load --workflow
// baseline` must agree on. Only a worker run with --benchmark-baseline polls
// TaskQueue, so the baseline never takes a poller from the order saga.
const (
	TaskQueue    = "baseline"
	WorkflowType = "BaselineWorkflow"
	// WorkflowIDPrefix starts a baseline run's workflow IDs:
	// "baseline-<run>-<index>".
	WorkflowIDPrefix = "baseline-"
)
