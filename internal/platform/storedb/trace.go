package storedb

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of a store transaction's span ("store.tx <service>"). They
// name what was written, never with what: no payment token, no address,
// no SQL argument.
const (
	ServiceAttr        = attribute.Key("ordersaga.service")
	StepAttr           = attribute.Key("ordersaga.step")
	IdempotencyKeyAttr = attribute.Key("ordersaga.idempotency_key")
	DialectAttr        = attribute.Key("ordersaga.store.dialect")
	dbSystemAttr       = attribute.Key("db.system.name")
)

// TxSpanPrefix starts the name of every store transaction's span; the
// service's name follows.
const TxSpanPrefix = "store.tx "

// tracerName is the instrumentation scope of the stores' spans.
const tracerName = "github.com/ordersaga/ordersaga/internal/platform/storedb"

// TxOption describes a transaction to its span.
type TxOption func(*txLabels)

type txLabels struct{ step, key string }

// Step names, on the transaction's span, the step it does for its order —
// the activity that runs it ("ReserveStock", "RefundPayment") — and the
// idempotency key it writes ("order-42/reserve"). The stores pass it to
// each transaction an activity runs; a transaction without it (a store
// seeding itself, the stock command) has a span without step or key.
func Step(step, key string) TxOption {
	return func(l *txLabels) { l.step, l.key = step, key }
}

// startTx starts the span of a transaction, a child of ctx's span (an
// activity's, with tracing on). Outside a trace — tracing off, the stock
// command, a store seeding itself at start — it starts none and costs a
// context look-up.
func (d *DB) startTx(ctx context.Context, opts []TxOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, parent
	}
	var l txLabels
	for _, opt := range opts {
		opt(&l)
	}
	attrs := []attribute.KeyValue{
		ServiceAttr.String(d.name),
		DialectAttr.String(d.dialect.String()),
		dbSystemAttr.String(dbSystem(d.dialect)),
	}
	if l.step != "" {
		attrs = append(attrs, StepAttr.String(l.step))
	}
	if l.key != "" {
		attrs = append(attrs, IdempotencyKeyAttr.String(l.key))
	}
	return otel.Tracer(tracerName).Start(ctx, TxSpanPrefix+d.name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// endTx ends a transaction's span. A rolled-back transaction's span is
// marked as an error without the error's text: the activity's span has
// the error, and a database's message may quote the values written.
func endTx(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "rolled back")
	}
	span.End()
}

// dbSystem is the dialect's OpenTelemetry db.system.name.
func dbSystem(d Dialect) string {
	if d == Postgres {
		return "postgresql"
	}
	return "sqlite"
}
