package tracing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltracetest "go.opentelemetry.io/otel/sdk/trace/tracetest"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"

	"github.com/ordersaga/ordersaga/internal/tracing"
	"github.com/ordersaga/ordersaga/internal/tracing/tracetest"
)

func TestReadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    tracing.Config
		wantErr string
	}{
		{name: "nothing set: off", env: nil, want: tracing.Config{Protocol: tracing.ProtocolHTTP}},
		{name: "a protocol alone does not turn it on",
			env:  map[string]string{tracing.ProtocolEnv: "grpc"},
			want: tracing.Config{Protocol: tracing.ProtocolHTTP}},
		{name: "off: a bad protocol is not read",
			env:  map[string]string{tracing.ProtocolEnv: "http/json"},
			want: tracing.Config{Protocol: tracing.ProtocolHTTP}},
		{name: "endpoint: on, http/protobuf by default",
			env:  map[string]string{tracing.EndpointEnv: "http://localhost:4318"},
			want: tracing.Config{On: true, Protocol: tracing.ProtocolHTTP}},
		{name: "traces endpoint alone: on",
			env:  map[string]string{tracing.TracesEndpointEnv: "http://localhost:4318/v1/traces"},
			want: tracing.Config{On: true, Protocol: tracing.ProtocolHTTP}},
		{name: "grpc",
			env:  map[string]string{tracing.EndpointEnv: "http://localhost:4317", tracing.ProtocolEnv: "grpc"},
			want: tracing.Config{On: true, Protocol: tracing.ProtocolGRPC}},
		{name: "the traces protocol wins",
			env:  map[string]string{tracing.EndpointEnv: "http://localhost:4317", tracing.ProtocolEnv: "http/protobuf", tracing.TracesProtocolEnv: "grpc"},
			want: tracing.Config{On: true, Protocol: tracing.ProtocolGRPC}},
		{name: "bad protocol",
			env:     map[string]string{tracing.EndpointEnv: "http://localhost:4318", tracing.ProtocolEnv: "http/json"},
			wantErr: `OTEL_EXPORTER_OTLP_PROTOCOL "http/json": use grpc or http/protobuf`},
		{name: "bad traces protocol",
			env:     map[string]string{tracing.EndpointEnv: "http://localhost:4318", tracing.TracesProtocolEnv: "thrift"},
			wantErr: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL "thrift": use grpc or http/protobuf`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tracing.ReadConfig(func(name string) string { return tt.env[name] })
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadConfig = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestSetupExports turns tracing on with each protocol against a receiver
// and checks that a span reaches it, with the service name and the
// resource attributes the environment gives, when the process shuts down.
func TestSetupExports(t *testing.T) {
	r := tracetest.Start(t)
	tests := []struct {
		protocol, endpoint string
		env                map[string]string
		wantService        string
	}{
		{protocol: tracing.ProtocolHTTP, endpoint: r.HTTPEndpoint(), wantService: tracing.WorkerService},
		{protocol: tracing.ProtocolGRPC, endpoint: r.GRPCEndpoint(), wantService: tracing.WorkerService},
		{protocol: tracing.ProtocolHTTP, endpoint: r.HTTPEndpoint(),
			env:         map[string]string{"OTEL_SERVICE_NAME": "payments-eu", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test"},
			wantService: "payments-eu"},
	}
	for _, tt := range tests {
		t.Run(tt.protocol+" "+tt.wantService, func(t *testing.T) {
			t.Setenv(tracing.EndpointEnv, tt.endpoint)
			t.Setenv(tracing.ProtocolEnv, tt.protocol)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tr, err := tracing.Setup(context.Background(), tracing.WorkerService, func(err error) { t.Errorf("export: %v", err) },
				attribute.StringSlice("ordersaga.services", []string{"payment"}))
			if err != nil || tr == nil {
				t.Fatalf("Setup = %v, %v", tr, err)
			}
			if got, want := tr.String(), "on: OTLP "+tt.protocol; got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			name := "probe " + t.Name()
			_, span := tr.Tracer().Start(context.Background(), name)
			span.End()
			if err := tr.Shutdown(); err != nil {
				t.Fatal(err)
			}
			got := findSpan(r, name)
			if got == nil {
				t.Fatalf("span %q not received", name)
			}
			if got.Service != tt.wantService {
				t.Errorf("service.name = %q, want %q", got.Service, tt.wantService)
			}
			if got.Resource["ordersaga.services"] != "payment" {
				t.Errorf("resource ordersaga.services = %q, want payment", got.Resource["ordersaga.services"])
			}
			if v, ok := tt.env["OTEL_RESOURCE_ATTRIBUTES"]; ok && got.Resource["deployment.environment"] != strings.TrimPrefix(v, "deployment.environment=") {
				t.Errorf("resource = %v, want the attributes of OTEL_RESOURCE_ATTRIBUTES", got.Resource)
			}
		})
	}
}

func findSpan(r *tracetest.Receiver, name string) *tracetest.Span {
	for _, s := range r.Spans() {
		if s.Name == name {
			return &s
		}
	}
	return nil
}

func TestSetupRefusesBadProtocol(t *testing.T) {
	t.Setenv(tracing.EndpointEnv, "http://127.0.0.1:4318")
	t.Setenv(tracing.ProtocolEnv, "http/json")
	tr, err := tracing.Setup(context.Background(), tracing.StarterService, nil)
	if tr != nil || err == nil {
		t.Fatalf("Setup = %v, %v; want an error", tr, err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "use grpc or http/protobuf") {
		t.Errorf("error %q: want one line naming the accepted protocols", err)
	}
}

// TestOff checks that without an endpoint nothing is set up: no
// interceptors for the Temporal client, nothing to shut down.
func TestOff(t *testing.T) {
	t.Setenv(tracing.EndpointEnv, "")
	t.Setenv(tracing.TracesEndpointEnv, "")
	tr, err := tracing.Setup(context.Background(), tracing.WorkerService, nil)
	if tr != nil || err != nil {
		t.Fatalf("Setup = %v, %v; want nil, nil", tr, err)
	}
	if its := tr.Interceptors(); its != nil {
		t.Errorf("Interceptors() = %v, want none", its)
	}
	if err := tr.Shutdown(); err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
	if !strings.HasPrefix(tr.String(), "off") {
		t.Errorf("String() = %q", tr.String())
	}
	if _, span := tr.Tracer().Start(context.Background(), "x"); span.IsRecording() {
		t.Error("a span of tracing off records")
	}
}

// TestOnInterceptsWorkers: with tracing on, one of the client's
// interceptors is a worker interceptor too, so the SDK gives it to every
// worker made from the client and their tasks join the order's trace.
func TestOnInterceptsWorkers(t *testing.T) {
	t.Setenv(tracing.EndpointEnv, "http://127.0.0.1:4318")
	tr, err := tracing.Setup(context.Background(), tracing.WorkerService, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown() })
	workers := 0
	for _, it := range tr.Interceptors() {
		if _, ok := it.(interceptor.WorkerInterceptor); ok {
			workers++
		}
	}
	if workers == 0 {
		t.Errorf("none of %d interceptors intercepts workers", len(tr.Interceptors()))
	}
}

func TestShutdownReportsAnUnreachableCollector(t *testing.T) {
	t.Setenv(tracing.EndpointEnv, "http://127.0.0.1:1") // nothing listens on port 1
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "500")
	tr, err := tracing.Setup(context.Background(), tracing.StarterService, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Tracer().Start(context.Background(), "lost")
	span.End()
	start := time.Now()
	err = tr.Shutdown()
	if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:1") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Shutdown() = %v; want one line naming the endpoint", err)
	}
	if d := time.Since(start); d > tracing.ShutdownTimeout+time.Second {
		t.Errorf("Shutdown took %s, more than its bound %s", d, tracing.ShutdownTimeout)
	}
}

func TestTraceIDFromHeader(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	header := func(carrier any) *commonpb.Header {
		p, err := converter.GetDefaultDataConverter().ToPayload(carrier)
		if err != nil {
			t.Fatal(err)
		}
		return &commonpb.Header{Fields: map[string]*commonpb.Payload{tracing.HeaderKey: p}}
	}
	tests := []struct {
		name   string
		header *commonpb.Header
		want   string
	}{
		{"a workflow start's header", header(map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}), traceID},
		{"no header", nil, ""},
		{"no span in it", &commonpb.Header{Fields: map[string]*commonpb.Payload{}}, ""},
		{"no traceparent", header(map[string]string{"baggage": "a=b"}), ""},
		{"not a map", header("00-" + traceID + "-00f067aa0ba902b7-01"), ""},
		{"an invalid traceparent", header(map[string]string{"traceparent": "00-zz-00f067aa0ba902b7-01"}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tracing.TraceIDFromHeader(tt.header); got != tt.want {
				t.Errorf("TraceIDFromHeader = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTagOrder(t *testing.T) {
	rec := oteltracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tests := []struct {
		workflowID string
		want       string // "" for no attribute
	}{
		{"order-42", "42"},
		{"order-a/b", "a/b"},
		{"order-", ""},
		{"baseline-run-1", ""},
		{"ordersaga-audit-2026", ""},
	}
	for _, tt := range tests {
		ctx, span := tp.Tracer("test").Start(context.Background(), tt.workflowID)
		tracing.TagOrder(ctx, tt.workflowID)
		span.End()
		ended := rec.Ended()
		got, ok := "", false
		for _, kv := range ended[len(ended)-1].Attributes() {
			if kv.Key == tracing.OrderIDKey {
				got, ok = kv.Value.AsString(), true
			}
		}
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("TagOrder(%q): order ID %q (set %v), want %q", tt.workflowID, got, ok, tt.want)
		}
	}
}
