package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/ordersaga/ordersaga"
)

// Log keys that tie a line to an order: the order workflow's and the
// activities' loggers carry WorkflowID (the Temporal SDK adds it), and the
// saga's own lines add order_id.
const (
	workflowIDKey = "WorkflowID"
	orderIDKey    = "order_id"
)

// orderIDHandler adds order_id to every line about an order that lacks it:
// the Temporal SDK's own lines ("Activity error.", a workflow task's
// failure) carry only the workflow ID, order-<ID>. So every line about an
// order, whoever wrote it, can be found by order_id and by WorkflowID.
type orderIDHandler struct {
	slog.Handler
	// workflowID and hasOrderID are what the logger's attributes (from
	// With) already say.
	workflowID string
	hasOrderID bool
}

func withOrderIDs(h slog.Handler) slog.Handler { return &orderIDHandler{Handler: h} }

func (h *orderIDHandler) Handle(ctx context.Context, r slog.Record) error {
	workflowID, hasOrderID := h.workflowID, h.hasOrderID
	r.Attrs(func(a slog.Attr) bool {
		workflowID, hasOrderID = note(a, workflowID, hasOrderID)
		return true
	})
	if orderID, ok := strings.CutPrefix(workflowID, ordersaga.WorkflowIDPrefix); ok && !hasOrderID {
		r = r.Clone()
		r.AddAttrs(slog.String(orderIDKey, orderID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *orderIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		c.workflowID, c.hasOrderID = note(a, c.workflowID, c.hasOrderID)
	}
	c.Handler = h.Handler.WithAttrs(attrs)
	return &c
}

func (h *orderIDHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithGroup(name)
	return &c
}

// note updates what is known of a line's order from one of its attributes.
func note(a slog.Attr, workflowID string, hasOrderID bool) (string, bool) {
	switch a.Key {
	case workflowIDKey:
		return a.Value.String(), hasOrderID
	case orderIDKey:
		return workflowID, true
	}
	return workflowID, hasOrderID
}
