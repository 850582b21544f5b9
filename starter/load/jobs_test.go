package load

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/tracing"
	"github.com/ordersaga/ordersaga/workflows"
)

// A load's cancel that the order refuses, or that finds it ended, is no
// error of the job: the order's ending is judged instead. Any other error
// of the cancel is the job's.
func TestLoadCancelError(t *testing.T) {
	noAnswer := &orderclient.NoAnswerError{OrderID: "load-r-1", Timeout: 30 * time.Second}
	broken := errors.New("cancel order load-r-1: connection reset")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"accepted", nil, nil},
		{"refused", &orderclient.RefusedError{OrderID: "load-r-1", Reason: "order load-r-1 cannot be cancelled: shipment shp_1 was already created"}, nil},
		{"ended", &orderclient.EndedError{OrderID: "load-r-1", Status: workflows.Completed}, nil},
		{"ended, wrapped", fmt.Errorf("cancel: %w", &orderclient.EndedError{OrderID: "load-r-1", Status: workflows.Failed}), nil},
		{"no answer", noAnswer, noAnswer},
		{"server error", broken, broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadCancelError(tt.err); got != tt.want {
				t.Errorf("loadCancelError(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// Each order load places is the root span of a trace of its own, with
// the order's ID as place's span has it; the order's calls to Temporal
// run under it, and it is in error when the order did not end as asked.
func TestTracedOrders(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	success, declined := loadKinds[0], loadKinds[1]
	tests := []struct {
		name    string
		kind    loadKind
		status  workflows.Status
		err     error
		wantErr bool
	}{
		{name: "as asked", kind: declined, status: workflows.Failed},
		{name: "otherwise than asked", kind: success, status: workflows.Failed, wantErr: true},
		{name: "lost", kind: success, err: errors.New("unavailable"), wantErr: true},
	}
	// The load's context has a span of its own: each order is still a root.
	ctx, parent := tracer.Start(context.Background(), "outer")
	defer parent.End()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inJob trace.SpanContext
			job := tracedOrders(tracer, "r", func(ctx context.Context, index int, _ loadKind) (jobEnd, error) {
				inJob = trace.SpanContextFromContext(ctx)
				return jobEnd{id: loadOrderID("r", index), status: tt.status}, tt.err
			})
			if _, err := job(ctx, i, tt.kind); !errors.Is(err, tt.err) {
				t.Fatalf("job error %v, want %v", err, tt.err)
			}
			ended := rec.Ended()
			s := ended[len(ended)-1]
			if s.Name() != loadSpanName || s.Parent().IsValid() || s.SpanContext().SpanID() != inJob.SpanID() {
				t.Errorf("span %q (parent %v), want the job's root span %q", s.Name(), s.Parent().SpanID(), loadSpanName)
			}
			var orderID string
			for _, kv := range s.Attributes() {
				if kv.Key == tracing.OrderIDKey {
					orderID = kv.Value.AsString()
				}
			}
			if want := loadOrderID("r", i); orderID != want {
				t.Errorf("%s = %q, want %q", tracing.OrderIDKey, orderID, want)
			}
			if got := s.Status().Code == codes.Error; got != tt.wantErr {
				t.Errorf("span status %v, want an error: %v", s.Status(), tt.wantErr)
			}
		})
	}
}
