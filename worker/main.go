// Command worker hosts the order saga's services on Temporal workers, and
// carries the service owners' admin commands.
//
//	worker [run] [--services order,inventory,payment,shipping] [--data-dir .data] [--benchmark-baseline]
//	worker stock list | stock set SKU QTY
//	worker audit
//	worker codec-key | codec-server
//
// The same binary runs all four services in one process on a laptop, or one
// service per deployment in production (`worker --services payment`).
//
// Environment variables read here: ORDERSAGA_LOG_FORMAT (text or json),
// ORDERSAGA_LOG_LEVEL (debug, info, warn, error), ORDERSAGA_CODEC_TOKEN (the
// codec server's bearer token), ORDERSAGA_METRICS_ADDR (where run serves
// Prometheus metrics), ORDERSAGA_REQUIRE_ENCRYPTION (refuse orders sent in
// clear; default: when keys are configured), ORDERSAGA_POLLERS (fixed or
// autoscaling), ORDERSAGA_AUDIT_EVERY and ORDERSAGA_AUDIT_STUCK_AFTER.
// ORDERSAGA_DATA_DIR (the stores' directory, default .data),
// ORDERSAGA_ORDERS_DSN, ORDERSAGA_INVENTORY_DSN, ORDERSAGA_PAYMENT_DSN and
// ORDERSAGA_SHIPPING_DSN (a service's store in PostgreSQL; the order
// service's is its register of order IDs; the only place for a DSN with a
// password), ORDERSAGA_DB_MAX_CONNS (each store's pool, and each service's
// concurrent activities) and ORDERSAGA_SQLITE_SYNCHRONOUS (full, or normal
// to measure its cost) are read by internal/stores; the Temporal
// connection's TEMPORAL_* variables and the payload keys'
// ORDERSAGA_CODEC_KEY_FILE and ORDERSAGA_CODEC_KEYS by internal/platform/connect.
// The standard OpenTelemetry variables turn tracing on for `worker run`
// (internal/tracing): OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the collector; unset, tracing is
// off), OTEL_EXPORTER_OTLP_PROTOCOL or OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
// (grpc, or http/protobuf, the default), OTEL_SERVICE_NAME (default
// ordersaga-worker) and OTEL_RESOURCE_ATTRIBUTES; with tracing on, every
// log line about an order carries its trace_id.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
	"github.com/ordersaga/ordersaga/internal/stores"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// globals are the flags every worker command shares.
type globals struct {
	conn      connect.Flags
	dataDir   string
	dsns      stores.DSNs
	logFormat string
	logLevel  string
	output    string
	stdout    io.Writer
	stderr    io.Writer
}

func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			return exit.code
		}
		fmt.Fprintf(stderr, "worker: %s\n", cli.OneLine(err))
		return 1
	}
	return 0
}

func newRootCommand(g *globals) *cobra.Command {
	opts := &runOptions{}
	root := &cobra.Command{
		Use:   "worker",
		Short: "Host the order saga's services (order, inventory, payment, shipping) on Temporal",
		Long: `worker polls Temporal for the order saga's work: the order workflow on task queue
"orders" and the inventory, payment and shipping activities on their own task
queues, each service with its own store (the order service's is its register
of order IDs): SQLite in --data-dir, or PostgreSQL with --orders-dsn,
--inventory-dsn, --payment-dsn, --shipping-dsn. It stops gracefully on SIGINT
or SIGTERM: the services stop together, their in-flight activities get up to
--stop-timeout to finish, then the stores are closed; a second signal exits at
once (Temporal retries what was abandoned).

Without a subcommand, worker runs (same as "worker run").`,
		Example: `  worker                                  # all services, stores in .data/
  worker --services payment               # only the payment service
  worker stock list -o json
  worker audit`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		// Every command checks the log flags, even those that log little,
		// so a typo in them is never silently ignored.
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if _, err := g.logger(); err != nil {
				return err
			}
			if err := g.conn.Check(); err != nil {
				return err
			}
			if err := checkDurationEnvs(AuditEveryEnv, StuckAfterEnv); err != nil {
				return err
			}
			return g.dsns.Check()
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return runWorker(cmd.Context(), g, opts) },
	}
	pf := root.PersistentFlags()
	g.conn.Register(pf)
	stores.RegisterDataDir(pf, &g.dataDir)
	g.dsns.Register(pf)
	pf.StringVar(&g.logFormat, "log-format", cli.EnvOr("ORDERSAGA_LOG_FORMAT", "text"), "log format: text or json (env ORDERSAGA_LOG_FORMAT)")
	pf.StringVar(&g.logLevel, "log-level", cli.EnvOr("ORDERSAGA_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env ORDERSAGA_LOG_LEVEL)")
	addRunFlags(root, opts)
	root.AddCommand(newRunCommand(g), newStockCommand(g), newAuditCommand(g))
	root.AddCommand(newCodecKeyCommand(g), newCodecServerCommand(g))
	return root
}

// logger builds the structured logger from --log-format and --log-level.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(withOrderIDs(slog.NewTextHandler(g.stderr, opts))), nil
	case "json":
		return slog.New(withOrderIDs(slog.NewJSONHandler(g.stderr, opts))), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", g.logFormat)
}

// exitError ends the command with a code and no further message (the
// command printed its own report).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }
