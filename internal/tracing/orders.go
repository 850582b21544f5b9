package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"

	"github.com/ordersaga/ordersaga"
)

// orderSpans puts the order's ID (OrderIDKey) on the caller's span when a
// client reaches an order's workflow: the root span of `starter place`, of
// `starter status`..., so that a trace is found by its order ID. It sits
// before the SDK's tracing interceptor, which makes the call's own span.
type orderSpans struct {
	interceptor.ClientInterceptorBase
}

func (*orderSpans) InterceptClient(next interceptor.ClientOutboundInterceptor) interceptor.ClientOutboundInterceptor {
	o := &orderSpansOutbound{}
	o.Next = next
	return o
}

type orderSpansOutbound struct {
	interceptor.ClientOutboundInterceptorBase
}

func (o *orderSpansOutbound) ExecuteWorkflow(ctx context.Context, in *interceptor.ClientExecuteWorkflowInput) (client.WorkflowRun, error) {
	TagOrder(ctx, in.Options.ID)
	return o.Next.ExecuteWorkflow(ctx, in)
}

// UpdateWithStartWorkflow tags the span once the call answered when the
// update's options leave the workflow ID to the start operation's.
func (o *orderSpansOutbound) UpdateWithStartWorkflow(ctx context.Context, in *interceptor.ClientUpdateWithStartWorkflowInput) (client.WorkflowUpdateHandle, error) {
	h, err := o.Next.UpdateWithStartWorkflow(ctx, in)
	id := in.UpdateOptions.WorkflowID
	if id == "" && err == nil && h != nil {
		id = h.WorkflowID()
	}
	TagOrder(ctx, id)
	return h, err
}

func (o *orderSpansOutbound) SignalWorkflow(ctx context.Context, in *interceptor.ClientSignalWorkflowInput) error {
	TagOrder(ctx, in.WorkflowID)
	return o.Next.SignalWorkflow(ctx, in)
}

func (o *orderSpansOutbound) QueryWorkflow(ctx context.Context, in *interceptor.ClientQueryWorkflowInput) (converter.EncodedValue, error) {
	TagOrder(ctx, in.WorkflowID)
	return o.Next.QueryWorkflow(ctx, in)
}

func (o *orderSpansOutbound) UpdateWorkflow(ctx context.Context, in *interceptor.ClientUpdateWorkflowInput) (client.WorkflowUpdateHandle, error) {
	TagOrder(ctx, in.WorkflowID)
	return o.Next.UpdateWorkflow(ctx, in)
}

// TagOrder puts the order ID of workflowID, an order's workflow ID
// ("order-42"), on ctx's span. Other workflow IDs, and a context without
// a recording span, are left alone.
func TagOrder(ctx context.Context, workflowID string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if orderID, ok := strings.CutPrefix(workflowID, ordersaga.WorkflowIDPrefix); ok && orderID != "" {
		span.SetAttributes(OrderIDKey.String(orderID))
	}
}
