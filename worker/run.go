package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/attribute"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga/baseline"
	"github.com/ordersaga/ordersaga/continuousaudit"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
	"github.com/ordersaga/ordersaga/internal/tracing"
	"github.com/ordersaga/ordersaga/workflows"
)

// runOptions are the flags of `worker run`.
type runOptions struct {
	services            []string
	stopTimeout         time.Duration
	compensationTimeout time.Duration
	metricsAddr         string
	pprof               bool
	benchmarkBaseline   bool
	audit               auditConfig
	tuning              tuning
	requireEncryption   encryptionRequirement
	deployment          deployment
}

// AuditEveryEnv holds --audit-every's default.
const AuditEveryEnv = "ORDERSAGA_AUDIT_EVERY"

func addRunFlags(cmd *cobra.Command, opts *runOptions) {
	cmd.Flags().StringSliceVar(&opts.services, "services", defaultServices(),
		"services to host, comma-separated: "+strings.Join(serviceNames(), ",")+" (audit: the scheduled audit, where the three stores are reachable)")
	cmd.Flags().DurationVar(&opts.audit.every, "audit-every", envDuration(AuditEveryEnv, continuousaudit.DefaultEvery),
		"audit service: how often the schedule audits the stores against Temporal (env "+AuditEveryEnv+")")
	registerStuckAfter(cmd.Flags(), &opts.audit.stuckAfter)
	cmd.Flags().DurationVar(&opts.stopTimeout, "stop-timeout", 10*time.Second,
		"on SIGINT/SIGTERM, how long in-flight activities get to finish before they are cancelled and handed back to Temporal (the services stop together; a second signal exits at once)")
	cmd.Flags().DurationVar(&opts.compensationTimeout, "compensation-timeout", workflows.DefaultCompensationTimeout,
		"order service: how long one compensation (release, refund, cancel shipment) keeps retrying before the order goes to NEEDS_ATTENTION for an operator (starter resume)")
	cmd.Flags().StringVar(&opts.metricsAddr, "metrics-addr", cli.EnvOr(MetricsAddrEnv, ""),
		"host:port on which to serve Prometheus metrics at /metrics, such as :9090; empty serves none (env "+MetricsAddrEnv+")")
	cmd.Flags().BoolVar(&opts.pprof, "pprof", false,
		"also serve the Go profiler on --metrics-addr at /debug/pprof/ (it shows the program's internals: keep the port private)")
	cmd.Flags().BoolVar(&opts.benchmarkBaseline, "benchmark-baseline", false,
		`also poll task queue "`+baseline.TaskQueue+`" for the baseline workflow (three no-op activities) that 'starter load --workflow baseline' runs`)
	opts.tuning.register(cmd.Flags())
	opts.requireEncryption.register(cmd.Flags())
	opts.deployment.register(cmd.Flags())
}

func newRunCommand(g *globals) *cobra.Command {
	opts := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Poll Temporal and run the chosen services until SIGINT or SIGTERM",
		Example: `  worker run
  worker run --services order,inventory --data-dir /var/lib/ordersaga
  TEMPORAL_ADDRESS=temporal:7233 worker run --services shipping --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runWorker(cmd.Context(), g, opts) },
	}
	addRunFlags(cmd, opts)
	return cmd
}

// hosted is one running service: its worker and its store.
type hosted struct {
	service
	worker worker.Worker
	store  io.Closer
}

func runWorker(ctx context.Context, g *globals, opts *runOptions) error {
	picked, err := selectServices(opts.services)
	if err != nil {
		return err
	}
	if opts.benchmarkBaseline {
		picked = append(picked, baselineService)
	}
	if opts.audit.every <= 0 || opts.audit.stuckAfter <= 0 {
		return fmt.Errorf("--audit-every is %s and --stuck-after %s: give positive durations such as 5m and 30m", opts.audit.every, opts.audit.stuckAfter)
	}
	if opts.compensationTimeout <= 0 {
		return fmt.Errorf("--compensation-timeout is %s: give a positive duration such as 30m", opts.compensationTimeout)
	}
	if err := checkMetricsAddr(opts.metricsAddr); err != nil {
		return err
	}
	if opts.pprof && opts.metricsAddr == "" {
		return errors.New("--pprof serves the profiler on the metrics server: give --metrics-addr too, such as --metrics-addr 127.0.0.1:9090")
	}
	if err := opts.tuning.check(); err != nil {
		return err
	}
	if err := opts.deployment.check(); err != nil {
		return err
	}
	refusePlaintext, err := requireEncryption(g, opts.requireEncryption)
	if err != nil {
		return err
	}
	logger, err := g.logger()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	tr, err := startTracing(ctx, g, opts.services, logger)
	if err != nil {
		return err
	}
	defer stopTracing(tr, logger) // last: after the workers' and the client's last spans
	c, copts, metrics, err := dialWithMetrics(g, opts.metricsAddr, opts.pprof, logger)
	if err != nil {
		return err
	}
	defer metrics.stop(logger) // after the workers stopped and the client closed
	defer c.Close()

	cfg := serviceConfig{dataDir: g.dataDir, dsns: g.dsns, order: workflows.Config{CompensationTimeout: opts.compensationTimeout},
		audit: opts.audit, temporal: c, namespace: connect.Namespace(copts), requireEncryption: refusePlaintext}
	opts.tuning.applyProcessWide()
	running, err := startServices(ctx, c, picked, cfg, opts.deployment.apply(opts.tuning.workerOptions(opts.stopTimeout)))
	defer stopServices(logger, running)
	if err != nil {
		return err
	}
	logger.Info("worker started", "services", opts.services, "benchmark_baseline", opts.benchmarkBaseline, "address", copts.HostPort, "data_dir", g.dataDir,
		"payload_encryption", encryptionState(g), "decryption_keys", decryptionKeys(g), "plaintext_orders", plaintextOrders(refusePlaintext), "tuning", opts.tuning.String(),
		"deployment", opts.deployment.String(), "tracing", tr.String())
	claiming := opts.deployment.claimFirstCurrent(ctx, c, logger)
	<-ctx.Done()
	logger.Info("worker stopping", "signal", context.Cause(ctx))
	<-claiming
	exitOnSecondSignal(logger)
	return nil
}

// dialWithMetrics starts the metrics server, if --metrics-addr asks for
// one, and connects to Temporal with the server's metrics handler: the SDK
// and the order workflow record their metrics through it.
func dialWithMetrics(g *globals, metricsAddr string, withPprof bool, logger *slog.Logger) (client.Client, client.Options, *metricsServer, error) {
	copts, err := g.conn.Options(logger)
	if err != nil {
		return nil, copts, nil, err
	}
	metrics, err := startMetrics(metricsAddr, withPprof, logger)
	if err != nil {
		return nil, copts, nil, err
	}
	copts.MetricsHandler = metrics.metricsHandler()
	c, err := connect.Dial(copts)
	if err != nil {
		metrics.stop(logger)
		return nil, copts, nil, err
	}
	return c, copts, metrics, nil
}

// startTracing turns tracing on when the environment names an OTLP
// endpoint (see internal/tracing): the client, and so every worker made
// from it, then gets the Temporal SDK's tracing interceptor. The resource
// names the services the process hosts (ordersaga.services), so that one
// service's spans can be told apart when each runs in its own process.
// Spans the collector does not take are logged as warnings.
func startTracing(ctx context.Context, g *globals, services []string, logger *slog.Logger) (*tracing.Tracing, error) {
	tr, err := tracing.Setup(ctx, tracing.WorkerService, func(err error) {
		logger.Warn("traces not exported", "error", err)
	}, attribute.StringSlice("ordersaga.services", services))
	if err != nil {
		return nil, err
	}
	g.conn.Interceptors = tr.Interceptors()
	return tr, nil
}

// stopTracing sends the spans not sent yet, waiting at most
// tracing.ShutdownTimeout. It does nothing with tracing off.
func stopTracing(tr *tracing.Tracing, logger *slog.Logger) {
	if err := tr.Shutdown(); err != nil {
		logger.Warn("tracing stopped with errors", "error", err)
	}
}

// startServices registers and starts a worker per service. On error it
// returns the ones already started, for the caller to stop.
func startServices(ctx context.Context, c client.Client, picked []service, cfg serviceConfig, wopts worker.Options) ([]hosted, error) {
	var running []hosted
	for _, s := range picked {
		w := worker.New(c, s.taskQueue, withCapacity(s, cfg.dsns.Conn.Pool(), wopts))
		store, err := s.register(ctx, w, cfg)
		if err != nil {
			return running, fmt.Errorf("start %s service: %w", s.name, err)
		}
		h := hosted{service: s, worker: w, store: store}
		if err := w.Start(); err != nil {
			return append(running, h), fmt.Errorf("start %s worker on task queue %q: %w", s.name, s.taskQueue, err)
		}
		running = append(running, h)
		if s.started != nil {
			if err := s.started(ctx, cfg); err != nil {
				return running, fmt.Errorf("start %s service: %w", s.name, err)
			}
		}
	}
	return running, nil
}

// encryptionState says whether the worker encrypts payloads, and with which
// key: a worker without the key cannot read the orders of clients that have
// it, so this belongs in its first log line.
func encryptionState(g *globals) string {
	c, err := g.conn.Codec()
	if err != nil || c == nil {
		return "off: no codec key configured, payloads are readable in Temporal"
	}
	return "on: new payloads use key " + c.NewestKeyID()
}

// decryptionKeys are the IDs of every key the worker decrypts with: during
// a rotation, an operator checks here that every worker has the new key
// before any process is made to encrypt with it.
func decryptionKeys(g *globals) string {
	c, err := g.conn.Codec()
	if err != nil || c == nil {
		return "none"
	}
	return strings.Join(c.KeyIDs(), ",")
}
