package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
)

// MetricsAddrEnv sets --metrics-addr.
const MetricsAddrEnv = "ORDERSAGA_METRICS_ADDR"

// metricsShutdownTimeout bounds how long the metrics server waits for
// in-flight scrapes when the worker stops.
const metricsShutdownTimeout = 5 * time.Second

// latencyBuckets are the histogram buckets, in seconds, of every duration
// metric: the SDK's latencies and the order's step durations, from a fast
// database write to a step that retried for minutes.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// metricsServer serves the worker's metrics for Prometheus on /metrics
// (and answers /healthz): the Temporal SDK's own and the order's business
// metrics, both recorded through handler.
type metricsServer struct {
	handler  client.MetricsHandler
	provider *sdkmetric.MeterProvider
	server   *http.Server
	addr     net.Addr
}

// checkMetricsAddr refuses a --metrics-addr that is not host:port with a
// numeric port; empty means no metrics server.
func checkMetricsAddr(addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if _, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil {
		return fmt.Errorf("--metrics-addr %q: give host:port, such as :9090 or 127.0.0.1:9090", addr)
	}
	return nil
}

// startMetrics listens on addr and serves the metrics there until stop,
// and with withPprof the Go profiler on /debug/pprof/ too. With an empty
// addr it returns nil: no metrics, and nothing to stop.
func startMetrics(addr string, withPprof bool, logger *slog.Logger) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("metrics exporter: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %q: %w", addr, err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(secondsBuckets()))
	m := &metricsServer{
		handler: opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
			Meter:                provider.Meter("ordersaga-worker"),
			UseMonotonicCounters: true,
			OnError:              func(err error) { logger.Error("metric not recorded", "error", err) },
		}),
		provider: provider,
		server:   &http.Server{Handler: metricsMux(reg, withPprof), ReadHeaderTimeout: 5 * time.Second},
		addr:     ln.Addr(),
	}
	go m.serve(ln, logger)
	logger.Info("metrics server listening", "address", m.addr.String(), "path", "/metrics", "pprof", withPprof)
	return m, nil
}

// secondsBuckets gives every histogram in seconds latencyBuckets, instead
// of the OpenTelemetry defaults, which suit milliseconds.
func secondsBuckets() sdkmetric.View {
	return sdkmetric.NewView(
		sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: latencyBuckets}},
	)
}

// metricsMux serves /metrics and /healthz and, with withPprof, the Go
// profiler (go tool pprof http://ADDR/debug/pprof/profile?seconds=30): off
// by default, since profiles show the program's internals to whoever can
// reach the port. Even then it does not serve the command line
// (/debug/pprof/cmdline): flags such as --orders-dsn may hold passwords.
func metricsMux(reg *prometheus.Registry, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		// Refused by name, with the reason: the index links to it.
		mux.HandleFunc("GET /debug/pprof/cmdline", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the command line is not served: it may hold secrets", http.StatusNotFound)
		})
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (m *metricsServer) serve(ln net.Listener, logger *slog.Logger) {
	if err := m.server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		logger.Error("metrics server stopped", "address", m.addr.String(), "error", err)
	}
}

// metricsHandler is the handler the Temporal client records through: none
// when no metrics server runs.
func (m *metricsServer) metricsHandler() client.MetricsHandler {
	if m == nil {
		return nil
	}
	return m.handler
}

// stop lets in-flight scrapes finish, up to metricsShutdownTimeout, then
// closes the server and the meter provider. It does nothing on nil.
func (m *metricsServer) stop(logger *slog.Logger) {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), metricsShutdownTimeout)
	defer cancel()
	err := errors.Join(m.server.Shutdown(ctx), m.provider.Shutdown(ctx))
	if err != nil {
		logger.Error("metrics server stopped with errors", "error", err)
	}
}
