// Package tracing sends OpenTelemetry traces of orders to an OTLP
// collector, so that one trace follows an order from `starter place`
// through its workflow, each activity attempt and each store transaction.
// It is off unless an OTLP endpoint is configured: then no exporter runs,
// no interceptor is added to the Temporal client, and the stores start no
// spans.
//
// Environment variables read (the standard OpenTelemetry ones):
//
//	OTEL_EXPORTER_OTLP_ENDPOINT         base URL of the collector, such as
//	                                    http://localhost:4318 (http/protobuf;
//	                                    /v1/traces is added) or
//	                                    http://localhost:4317 (grpc); setting
//	                                    it, or the next one, turns tracing on
//	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  the traces' own URL, used as given;
//	                                    overrides the one above
//	OTEL_EXPORTER_OTLP_PROTOCOL         grpc or http/protobuf (the default,
//	                                    as the OpenTelemetry specification
//	                                    says)
//	OTEL_EXPORTER_OTLP_TRACES_PROTOCOL  the same for traces only; overrides
//	                                    the one above
//	OTEL_SERVICE_NAME                   the service name of the spans
//	                                    (default ordersaga-worker or
//	                                    ordersaga-starter)
//	OTEL_RESOURCE_ATTRIBUTES            more resource attributes, key=value
//	                                    pairs separated by commas
//
// The exporter reads the rest itself: OTEL_EXPORTER_OTLP_HEADERS (such as
// an API key for a hosted collector), _TIMEOUT, _COMPRESSION, _INSECURE
// and _CERTIFICATE, each also in a _TRACES_ form; the SDK reads
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default: every trace)
// and OTEL_BSP_* (the batch span processor's delays and sizes).
//
// No span carries a payload: the Temporal SDK's spans name workflows,
// activities, updates, signals and queries by type and ID, and the stores'
// spans carry the service, the step and the idempotency key, never a
// payment token or an address.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"

	"github.com/ordersaga/ordersaga/internal/platform/cli"
)

// The environment variables that turn tracing on and choose its protocol.
const (
	EndpointEnv       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	TracesEndpointEnv = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	ProtocolEnv       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	TracesProtocolEnv = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// The protocols an OTLP exporter speaks.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Default service names of the two binaries' spans; OTEL_SERVICE_NAME
// overrides them.
const (
	WorkerService  = "ordersaga-worker"
	StarterService = "ordersaga-starter"
)

// ShutdownTimeout bounds how long a process waits, as it exits, for its
// last spans to reach the collector: a collector that is down delays an
// exit by at most this much.
const ShutdownTimeout = 5 * time.Second

// OrderIDKey is the attribute that names the order a span is about, on
// the root span of `starter place` and the spans that reach an order: a
// trace is found by it (ordersaga.order_id=42).
const OrderIDKey = attribute.Key("ordersaga.order_id")

// instrumentation names the spans this module makes itself.
const instrumentation = "github.com/ordersaga/ordersaga"

// Tracing is a process's tracing when it is on. A nil *Tracing is tracing
// off: its methods do nothing and add nothing.
type Tracing struct {
	provider    *sdktrace.TracerProvider
	interceptor interceptor.Interceptor
	protocol    string
}

// Config is what the environment says about tracing.
type Config struct {
	// On is whether an endpoint is set.
	On bool
	// Protocol is ProtocolGRPC or ProtocolHTTP.
	Protocol string
}

// ReadConfig reads the tracing configuration from getenv (os.Getenv in
// the binaries). With tracing on, a protocol other than grpc and
// http/protobuf is an error; with tracing off, the protocol is not read.
func ReadConfig(getenv func(string) string) (Config, error) {
	c := Config{On: getenv(EndpointEnv) != "" || getenv(TracesEndpointEnv) != "", Protocol: ProtocolHTTP}
	if !c.On {
		return c, nil
	}
	for _, name := range []string{TracesProtocolEnv, ProtocolEnv} {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		if v != ProtocolGRPC && v != ProtocolHTTP {
			return Config{}, fmt.Errorf("%s %q: use %s or %s", name, v, ProtocolGRPC, ProtocolHTTP)
		}
		c.Protocol = v
		break
	}
	return c, nil
}

// Setup starts tracing as the environment says, for the binary named
// service (WorkerService, StarterService; OTEL_SERVICE_NAME overrides it)
// with attrs added to its resource. It returns nil when tracing is off.
// When on, it installs the tracer provider and the W3C propagators as
// OpenTelemetry's globals, so that the stores' spans (storedb) join the
// traces, and sends what the exporter cannot deliver to onError (nil drops
// it). Call Shutdown as the process exits.
func Setup(ctx context.Context, service string, onError func(error), attrs ...attribute.KeyValue) (*Tracing, error) {
	cfg, err := ReadConfig(os.Getenv)
	if err != nil || !cfg.On {
		return nil, err
	}
	exporter, err := newExporter(ctx, cfg.Protocol)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(append([]attribute.KeyValue{attribute.String("service.name", service)}, attrs...)...),
		resource.WithFromEnv(), // last: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		_ = exporter.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: %s: fix OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES", cli.OneLine(err))
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	it, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{Tracer: provider.Tracer("go.temporal.io/sdk")})
	if err != nil {
		_ = provider.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: Temporal interceptor: %w", err)
	}
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	otel.SetErrorHandler(errorHandler(onError))
	return &Tracing{provider: provider, interceptor: it, protocol: cfg.Protocol}, nil
}

// newExporter makes the OTLP exporter of protocol. It reads its endpoint,
// headers, timeout and TLS settings from the environment itself.
func newExporter(ctx context.Context, protocol string) (sdktrace.SpanExporter, error) {
	var (
		exporter sdktrace.SpanExporter
		err      error
	)
	switch protocol {
	case ProtocolGRPC:
		exporter, err = otlptracegrpc.New(ctx)
	default:
		exporter, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP %s exporter: %s: check %s or %s", protocol, cli.OneLine(err), EndpointEnv, TracesEndpointEnv)
	}
	return exporter, nil
}

// errorHandler passes OpenTelemetry's own errors (a batch the collector
// refused or never got) to onError; nil drops them, instead of the SDK's
// default, which writes them to stderr.
type errorHandler func(error)

func (h errorHandler) Handle(err error) {
	if h != nil {
		h(err)
	}
}

// Interceptors are the Temporal client interceptors of the tracing: the
// order tagger and the SDK's tracing interceptor, which workers made from
// the client use too, and inside it the recorder of each run's trace for
// RunTraceID, which only workers use. None when t is nil.
func (t *Tracing) Interceptors() []interceptor.ClientInterceptor {
	if t == nil {
		return nil
	}
	return []interceptor.ClientInterceptor{&orderSpans{}, t.interceptor, &runTraceRecorder{}}
}

// Tracer returns the tracer for spans of this module's own code, such as
// the starter's commands; a no-op one when t is nil.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return noop.NewTracerProvider().Tracer(instrumentation)
	}
	return t.provider.Tracer(instrumentation)
}

// String says whether tracing is on and how, for a start-up log line.
func (t *Tracing) String() string {
	if t == nil {
		return "off: no " + EndpointEnv + " set"
	}
	return "on: OTLP " + t.protocol
}

// Shutdown sends the spans not sent yet and stops the exporter, waiting
// up to ShutdownTimeout. It reports spans the collector did not take.
func (t *Tracing) Shutdown() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := errors.Join(t.provider.ForceFlush(ctx), t.provider.Shutdown(ctx)); err != nil {
		return fmt.Errorf("traces not sent to the collector: %s; is it running at %s?", cli.OneLine(err), endpoint())
	}
	return nil
}

// endpoint is where the traces go, as configured.
func endpoint() string {
	if e := os.Getenv(TracesEndpointEnv); e != "" {
		return e
	}
	return os.Getenv(EndpointEnv)
}
