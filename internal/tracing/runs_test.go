package tracing

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
)

// TestRunTraceID: once a worker ran an activity of a run in a trace, the
// run's ID leads to the activity's trace, as the worker's interceptors
// stand: the recorder inside the SDK's tracing interceptor.
func TestRunTraceID(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	sdkTracing, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{Tracer: tp.Tracer("test")})
	if err != nil {
		t.Fatal(err)
	}
	var run struct{ workflowID, runID string }
	chargePayment := func(ctx context.Context) error {
		info := activity.GetInfo(ctx)
		run.workflowID, run.runID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
		return nil
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{sdkTracing, &runTraceRecorder{}}})
	env.RegisterActivityWithOptions(chargePayment, activity.RegisterOptions{Name: "ChargePayment"})
	if _, err := env.ExecuteActivity("ChargePayment"); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want the activity's", len(spans))
	}
	want := spans[0].SpanContext().TraceID().String()
	if got := RunTraceID(run.workflowID, run.runID); got != want {
		t.Errorf("RunTraceID(%q, %q) = %q, want the activity's trace %s", run.workflowID, run.runID, got, want)
	}
	if got := RunTraceID(run.workflowID, "another-run"); got != "" {
		t.Errorf("another run's trace ID = %q, want none", got)
	}
}

// runTraces forgets the oldest run first, and only past its capacity.
func TestRunTracesForgetsTheOldest(t *testing.T) {
	r := newRunTraces(2)
	r.put("a", "1")
	r.put("b", "2")
	r.put("a", "3") // a run seen again keeps its place
	r.put("c", "4")
	for run, want := range map[string]string{"a": "", "b": "2", "c": "4"} {
		if got := r.get(run); got != want {
			t.Errorf("run %s: trace %q, want %q", run, got, want)
		}
	}
}
