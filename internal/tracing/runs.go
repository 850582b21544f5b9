package tracing

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
)

// maxRuns bounds how many workflow runs' traces RunTraceID remembers: the
// most recent runs whose activities the process ran.
const maxRuns = 4096

// runs is the trace of each workflow run whose activities this process
// ran. A process has one tracing, as it has one global tracer provider.
var runs = newRunTraces(maxRuns)

// RunTraceID is the ID of the trace of a workflow run whose activities
// this process ran with tracing on, "" for any other run. It serves the
// log lines that name a run but carry no trace: the Temporal SDK logs an
// activity's failure ("Activity error.") with a logger of its own, after
// the activity's span ended. Every activity of a run is in the run's trace
// (the one its start carried), so the last one's trace is the run's.
func RunTraceID(workflowID, runID string) string {
	return runs.get(workflowID + "/" + runID)
}

// runTraceRecorder is the worker interceptor that fills RunTraceID in:
// it sits inside the SDK's tracing interceptor, so an activity's context
// holds the activity's span.
type runTraceRecorder struct {
	interceptor.InterceptorBase
}

func (*runTraceRecorder) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &runTraceActivity{}
	i.Next = next
	return i
}

type runTraceActivity struct {
	interceptor.ActivityInboundInterceptorBase
}

func (i *runTraceActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		run := activity.GetInfo(ctx).WorkflowExecution
		runs.put(run.ID+"/"+run.RunID, sc.TraceID().String())
	}
	return i.Next.ExecuteActivity(ctx, in)
}

// runTraces maps runs to trace IDs, forgetting the oldest run first past
// its capacity.
type runTraces struct {
	mu     sync.Mutex
	traces map[string]string
	order  []string // the runs as they came, a ring of the map's keys
	next   int
}

func newRunTraces(capacity int) *runTraces {
	return &runTraces{traces: make(map[string]string, capacity), order: make([]string, capacity)}
}

func (r *runTraces) put(run, traceID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.traces[run]; !ok {
		delete(r.traces, r.order[r.next])
		r.order[r.next] = run
		r.next = (r.next + 1) % len(r.order)
	}
	r.traces[run] = traceID
}

func (r *runTraces) get(run string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.traces[run]
}
