package storedb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// traceSchema is a store whose rows hold what a span must never carry.
var traceSchema = Schema{
	Name:     "payment",
	SQLite:   []string{`CREATE TABLE charges (key TEXT PRIMARY KEY, token TEXT NOT NULL, address TEXT NOT NULL)`},
	Postgres: []string{`CREATE TABLE charges (key TEXT PRIMARY KEY, token TEXT NOT NULL, address TEXT NOT NULL)`},
}

const (
	secretToken   = "tok_secret_4242"
	secretAddress = "7 Secret Street, Hidden Town"
)

// recordSpans makes the global tracer provider, which the stores' spans
// use, record into the returned recorder until the test ends.
func recordSpans(t *testing.T) (*tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	return rec, tp.Tracer("test")
}

// insertCharge is a store method's transaction: it locks its key, as the
// stores do, and writes a row with a token and an address.
func insertCharge(ctx context.Context, db *DB, key string, fail error, opts ...TxOption) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if err := tx.LockKey(ctx, "payment/charges/"+key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO charges (key, token, address) VALUES (?, ?, ?)`, key, secretToken, secretAddress); err != nil {
			return err
		}
		return fail
	}, opts...)
}

func TestInTxSpan(t *testing.T) {
	pgtest.Run(t, "trace.db", func(t *testing.T, backend pgtest.Backend) {
		db := openTestDB(t, backend.Source(t), traceSchema)
		rec, tracer := recordSpans(t)
		tests := []struct {
			name     string
			key      string
			opts     []TxOption
			fail     error
			wantStep string
			wantKey  string
		}{
			{name: "step and key given", key: "order-1/charge", opts: []TxOption{Step("ChargePayment", "order-1/charge")},
				wantStep: "ChargePayment", wantKey: "order-1/charge"},
			{name: "no step given", key: "order-2/charge"},
			{name: "rolled back", key: "order-3/charge", opts: []TxOption{Step("ChargePayment", "order-3/charge")},
				fail: errors.New("declined for " + secretToken), wantStep: "ChargePayment", wantKey: "order-3/charge"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx, parent := tracer.Start(context.Background(), "RunActivity:ChargePayment")
				err := insertCharge(ctx, db, tt.key, tt.fail, tt.opts...)
				parent.End()
				if !errors.Is(err, tt.fail) {
					t.Fatalf("InTx = %v, want %v", err, tt.fail)
				}
				span := txSpan(t, rec, parent.SpanContext().SpanID())
				if got, want := span.Name(), TxSpanPrefix+"payment"; got != want {
					t.Errorf("span name %q, want %q", got, want)
				}
				want := map[string]string{
					string(ServiceAttr): "payment", string(DialectAttr): db.Dialect().String(),
					string(IdempotencyKeyAttr): tt.wantKey, string(StepAttr): tt.wantStep,
				}
				got := attrs(span)
				for k, v := range want {
					if got[k] != v {
						t.Errorf("attribute %s = %q, want %q (all: %v)", k, got[k], v, got)
					}
				}
				if wantErr := tt.fail != nil; (span.Status().Code == codes.Error) != wantErr {
					t.Errorf("status %v, want an error: %v", span.Status(), wantErr)
				}
				for _, text := range texts(span) {
					if strings.Contains(text, secretToken) || strings.Contains(text, secretAddress) {
						t.Errorf("the span carries %q", text)
					}
				}
			})
		}
	})
}

// TestInTxOutsideATrace checks that a transaction outside any trace (the
// stock command, a store seeding itself) starts no span.
func TestInTxOutsideATrace(t *testing.T) {
	db := openTestDB(t, t.TempDir()+"/untraced.db", traceSchema)
	rec, _ := recordSpans(t)
	if err := insertCharge(context.Background(), db, "order-5/charge", nil); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded, want none", n)
	}
}

// txSpan is the one store transaction span recorded under parent.
func txSpan(t *testing.T, rec *tracetest.SpanRecorder, parent trace.SpanID) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if strings.HasPrefix(s.Name(), TxSpanPrefix) && s.Parent().SpanID() == parent {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d transaction spans under the activity's, want 1", len(found))
	}
	return found[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// texts is every text a span carries: its name, status, attributes and
// events.
func texts(s sdktrace.ReadOnlySpan) []string {
	out := []string{s.Name(), s.Status().Description}
	for k, v := range attrs(s) {
		out = append(out, k, v)
	}
	for _, e := range s.Events() {
		out = append(out, e.Name)
		for _, kv := range e.Attributes {
			out = append(out, string(kv.Key), kv.Value.Emit())
		}
	}
	return out
}
