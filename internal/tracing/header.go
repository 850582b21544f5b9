package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// HeaderKey is the Temporal header field in which the SDK's tracing
// interceptor carries the span context (W3C traceparent) of a workflow's
// start, an activity's schedule, a signal or an update. Every Temporal SDK
// uses this key.
const HeaderKey = "_tracer-data"

// TraceIDFromHeader is the trace ID that a Temporal header carries, such
// as the header of a workflow's first history event: the trace of the
// order's placement. It is "" when the header carries no span, as when
// the order was placed with tracing off. The field is plain JSON (the SDK
// writes it with the default data converter, never the payload codec), so
// it is read without the payload keys.
func TraceIDFromHeader(h *commonpb.Header) string {
	payload := h.GetFields()[HeaderKey]
	if payload == nil {
		return ""
	}
	var carrier map[string]string
	if err := converter.GetDefaultDataConverter().FromPayload(payload, &carrier); err != nil {
		return ""
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(carrier))
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}
