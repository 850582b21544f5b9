package main

import (
	"context"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/tracing"
)

// Log keys that tie a line to an order: the order workflow's and the
// activities' loggers carry WorkflowID and RunID (the Temporal SDK adds
// them), and the saga's own lines add order_id. With tracing on, the SDK's
// tracing interceptor adds TraceID to the workflow's and the activities'
// loggers, and lines logged with a context in a span have one too:
// trace_id is added from either, or else from the run's trace, for the
// SDK's lines about an activity's failure (tracing.RunTraceID).
const (
	workflowIDKey = "WorkflowID"
	runIDKey      = "RunID"
	orderIDKey    = "order_id"
	sdkTraceIDKey = "TraceID"
	traceIDKey    = "trace_id"
)

// orderIDHandler adds order_id to every line about an order that lacks it:
// the Temporal SDK's own lines ("Activity error.", a workflow task's
// failure) carry only the workflow ID, order-<ID>. So every line about an
// order, whoever wrote it, can be found by order_id and by WorkflowID. With
// tracing on it adds trace_id too, to lines in a trace that lack it, so
// that a line leads to the order's trace and back.
type orderIDHandler struct {
	slog.Handler
	// known is what the logger's attributes (from With) already say.
	known lineIDs
}

// lineIDs is what a line's attributes say of its order and its trace.
type lineIDs struct {
	workflowID string
	runID      string
	hasOrderID bool
	traceID    string
	hasTraceID bool
}

func withOrderIDs(h slog.Handler) slog.Handler { return &orderIDHandler{Handler: h} }

func (h *orderIDHandler) Handle(ctx context.Context, r slog.Record) error {
	ids := h.known
	r.Attrs(func(a slog.Attr) bool {
		ids = ids.note(a)
		return true
	})
	if ids.traceID == "" {
		ids.traceID = traceIDOf(ctx, ids)
	}
	var add []slog.Attr
	if orderID, ok := strings.CutPrefix(ids.workflowID, ordersaga.WorkflowIDPrefix); ok && !ids.hasOrderID {
		add = append(add, slog.String(orderIDKey, orderID))
	}
	if ids.traceID != "" && !ids.hasTraceID {
		add = append(add, slog.String(traceIDKey, ids.traceID))
	}
	if len(add) > 0 {
		r = r.Clone()
		r.AddAttrs(add...)
	}
	return h.Handler.Handle(ctx, r)
}

// traceIDOf is the trace of a line that names none: its context's span's,
// or else its run's.
func traceIDOf(ctx context.Context, ids lineIDs) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	if ids.workflowID == "" || ids.runID == "" {
		return ""
	}
	return tracing.RunTraceID(ids.workflowID, ids.runID)
}

func (h *orderIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		c.known = c.known.note(a)
	}
	c.Handler = h.Handler.WithAttrs(attrs)
	return &c
}

func (h *orderIDHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithGroup(name)
	return &c
}

// note updates what is known of a line's order and trace from one of its
// attributes.
func (ids lineIDs) note(a slog.Attr) lineIDs {
	switch a.Key {
	case workflowIDKey:
		ids.workflowID = a.Value.String()
	case runIDKey:
		ids.runID = a.Value.String()
	case orderIDKey:
		ids.hasOrderID = true
	case sdkTraceIDKey:
		ids.traceID = a.Value.String()
	case traceIDKey:
		ids.traceID, ids.hasTraceID = a.Value.String(), true
	}
	return ids
}
