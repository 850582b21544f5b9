// Package load puts the order saga under load: `starter load` places many
// orders at once, as `starter place` does, or runs the baseline workflow,
// then reports throughput, latency and outcomes and audits the stores
// against Temporal. It is a load generator of its own (a plan, a driver, a
// report and an audit) that the starter wires to its connection, tracing
// and output.
package load

import (
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/stores"
)

// Config is what the load command takes from the starter it runs in, so
// that it reaches Temporal, traces, prints and refuses mistakes as the
// starter's other commands do. Connect, Tracer and Output are called when
// the command runs, after the starter has parsed its flags.
type Config struct {
	// Connect dials Temporal; done closes the connection.
	Connect func() (oc *orderclient.Client, done func(), err error)
	// Tracer traces each order; with tracing off it is a no-op tracer.
	Tracer func() trace.Tracer
	// Stdout receives the progress and the report.
	Stdout io.Writer
	// Output is the -o/--output format: text or json.
	Output func() string
	// Args checks the command's arguments: load takes only flags.
	Args cobra.PositionalArgs
	// UsageError words a mistake in the command line.
	UsageError func(cmd *cobra.Command, err error) error
}

// loadFlags are load's flags.
type loadFlags struct {
	orders, concurrency int
	rate                float64
	mix                 string
	mixSet              bool // --mix was given
	workflow            string
	window              time.Duration
	windowSet           bool // --window was given
	audit               bool
	dataDir             string
	dsns                stores.DSNs
}

// NewCommand returns the `load` command.
func NewCommand(cfg Config) *cobra.Command {
	var lf loadFlags
	cmd := &cobra.Command{
		Use:   "load --orders N --concurrency C [--rate R] [--mix KIND=WEIGHT,...] [--window D] [--workflow saga|baseline]",
		Short: "Place many orders at once and report throughput, latency and outcomes",
		Long: `load places --orders real orders, as place does, at most --concurrency at a
time and, with --rate, at most that many per second; it waits for each to end
and reports orders/s, the end-to-end latency (p50, p95, p99, max, from an HDR
histogram to 3 significant figures), the time to each order's answer (its
reservation or refusal, as place answers; -o json: answer_ms), the most jobs
in flight at once and the outcomes by kind. Order IDs are a run prefix and an index (load-<run>-<i>).

--mix weighs the kinds of order: success (tok_visa, must COMPLETE), declined
(tok_declined, must FAIL), flaky (tok_flaky, must COMPLETE after retries) and
cancel (a 30s cancel window; load cancels it once it is AWAITING_FULFILLMENT,
as 'starter cancel' does, and it must end CANCELLED; a cancel the order
refuses leaves it to end otherwise, which the report shows). --window gives
the other kinds a cancel window, so that many orders are open at once; they
ship when it ends.

After the run, load audits the stores against Temporal as 'worker audit'
does: every order in them and every order Temporal lists, the run's among
them. It must run where the worker's stores are (--data-dir, or
--inventory-dsn, --payment-dsn and --shipping-dsn, as the worker takes
them). --audit=false skips it.

--workflow baseline runs the baseline workflow (three no-op activities) instead,
as workflows baseline-<run>-<i>; a worker must run with --benchmark-baseline.
Every one must complete; --mix and --window do not apply, and there is no audit.

A terminal shows one updating progress line, other outputs a line every few
seconds, -o json none. The report lists every order that ended otherwise than
its kind asked, and every violation and stuck order the audit found; the
exit status is 3 when an order ended otherwise or the audit failed (a
violation, or an order stuck past its threshold).`,
		Example: `  starter load --orders 200 --concurrency 20
  starter load --orders 1000 --concurrency 50 --rate 25 --mix success=70,declined=10,flaky=10,cancel=10
  starter load --orders 500 --concurrency 500 --window 2m --data-dir /var/lib/ordersaga
  starter load --workflow baseline --orders 1000 --concurrency 50 -o json`,
		Args: cfg.Args,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lf.mixSet = cmd.Flags().Changed("mix")
			lf.windowSet = cmd.Flags().Changed("window")
			plan, err := lf.plan()
			if err != nil {
				return cfg.UsageError(cmd, err)
			}
			return cfg.run(cmd.Context(), plan)
		},
	}
	f := cmd.Flags()
	f.IntVar(&lf.orders, "orders", 0, "how many orders to place (at least 1)")
	f.IntVar(&lf.concurrency, "concurrency", 0, "at most this many orders in flight (at least 1)")
	f.Float64Var(&lf.rate, "rate", 0, "start at most this many orders per second; 0 is as fast as --concurrency allows")
	f.StringVar(&lf.mix, "mix", defaultMix, "kinds of order and their weights: success, declined, flaky, cancel")
	f.StringVar(&lf.workflow, "workflow", loadSaga, "what to run: saga (orders) or baseline (three no-op activities)")
	f.DurationVar(&lf.window, "window", 0, "cancel window of the orders not of the cancel kind; 0 ships at once")
	f.BoolVar(&lf.audit, "audit", true, "audit the stores against Temporal once the run ends (saga only)")
	stores.RegisterDataDir(f, &lf.dataDir)
	lf.dsns.RegisterAudited(f)
	return cmd
}
