package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
	sdklog "go.temporal.io/sdk/log"
)

// TestLogLinesInATraceCarryItsID: a line logged in a span (the SDK's
// TraceID from its tracing interceptor, or a context holding a span)
// carries trace_id, once; a line outside any trace has none.
func TestLogLinesInATraceCarryItsID(t *testing.T) {
	const traceHex = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceID, err := trace.TraceIDFromHex(traceHex)
	if err != nil {
		t.Fatal(err)
	}
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	inSpan := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))
	lines := []struct {
		name      string
		log       func(*bytes.Buffer)
		wantTrace string
	}{
		{"an activity's line, the SDK's TraceID", func(out *bytes.Buffer) {
			l := sdklog.NewStructuredLogger(newTestLogger(t, out))
			sdklog.With(l, "WorkflowID", "order-42", "TraceID", traceID, "SpanID", spanID).Info("stock reserved")
		}, traceHex},
		{"a line logged with a span's context", func(out *bytes.Buffer) {
			newTestLogger(t, out).InfoContext(inSpan, "charge recorded", "WorkflowID", "order-42")
		}, traceHex},
		{"trace_id already there", func(out *bytes.Buffer) {
			newTestLogger(t, out).InfoContext(inSpan, "x", "trace_id", traceHex)
		}, traceHex},
		{"no trace", func(out *bytes.Buffer) {
			newTestLogger(t, out).InfoContext(context.Background(), "x", "WorkflowID", "order-42")
		}, ""},
	}
	for _, tt := range lines {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.log(&out)
			line := strings.TrimSpace(out.String())
			want := 0
			if tt.wantTrace != "" {
				want = 1
			}
			if n := strings.Count(line, `"trace_id"`); n != want {
				t.Fatalf("trace_id appears %d times, want %d: %s", n, want, line)
			}
			var fields map[string]any
			if err := json.Unmarshal([]byte(line), &fields); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if got, _ := fields["trace_id"].(string); got != tt.wantTrace {
				t.Errorf("trace_id %q, want %q: %s", got, tt.wantTrace, line)
			}
		})
	}
}

func newTestLogger(t *testing.T, out *bytes.Buffer) *slog.Logger {
	t.Helper()
	g := &globals{logFormat: "json", logLevel: "info", stderr: out}
	logger, err := g.logger()
	if err != nil {
		t.Fatal(err)
	}
	return logger
}

// TestRunRefusesABadTracingProtocol: with tracing on, a protocol other
// than grpc and http/protobuf stops `worker run` before it connects, with
// one line that names the two accepted.
func TestRunRefusesABadTracingProtocol(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--data-dir", t.TempDir(), "--temporal-address", "127.0.0.1:1"}, &stdout, &stderr)
	want := "worker: OTEL_EXPORTER_OTLP_PROTOCOL \"http/json\": use grpc or http/protobuf\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr.String(), want)
	}
}
