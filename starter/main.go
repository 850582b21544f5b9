// Command starter is the order saga's client: people and scripts use it to
// place orders, read them, list them, cancel them, resume them, watch them run
// and put the saga under load. It is a thin command-line face over
// internal/orderclient and reaches Temporal the way the worker does, through
// internal/platform/connect.
//
// Environment variables read (flags override them):
//
//	TEMPORAL_ADDRESS      Temporal frontend host:port (default 127.0.0.1:7233);
//	                      the flag is --temporal-address (place's --address
//	                      is the shipping address)
//	TEMPORAL_NAMESPACE    Temporal namespace (default "default")
//	TEMPORAL_API_KEY      API key for a secured Temporal; turns TLS on
//	TEMPORAL_PROFILE      profile of the Temporal config file
//	TEMPORAL_CONFIG_FILE, TEMPORAL_TLS_*  as in Temporal's own tools (see internal/platform/connect)
//	ORDERSAGA_CODEC_KEY_FILE, ORDERSAGA_CODEC_KEYS  the payload encryption keys
//	                      (see internal/platform/connect); the flag is --codec-key-file
//	ORDERSAGA_UI_URL      base URL of the Temporal Web UI, for the links the
//	                      starter prints (default http://localhost:8233)
//	ORDERSAGA_DATA_DIR, ORDERSAGA_INVENTORY_DSN, ORDERSAGA_PAYMENT_DSN,
//	ORDERSAGA_SHIPPING_DSN  where load finds the stores it audits (see
//	                      internal/stores); the flags are --data-dir and --*-dsn
//	OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
//	                      the OTLP collector that receives traces; unset,
//	                      tracing is off (see internal/tracing). With it, each
//	                      command but load is the root span of its trace
//	                      ("starter place", with ordersaga.order_id), which
//	                      the order's workflow and activities join
//	OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
//	                      grpc, or http/protobuf (the default)
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES  the spans' resource
//	                      (default service name ordersaga-starter)
//
// Exit status: 0 on success; 1 on any error, reported as one line on stderr
// ("starter: ..."); 3 when an order the starter waited for ended otherwise
// than asked (place --wait: not COMPLETED; cancel --wait: not CANCELLED;
// load: any order not as its kind asked, or a failed audit).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
	"github.com/ordersaga/ordersaga/internal/tracing"
	"github.com/ordersaga/ordersaga/starter/load"
)

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitOutcome = 3
)

// uiURLEnv names the environment variable that sets --ui-url's default.
const uiURLEnv = "ORDERSAGA_UI_URL"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the starter with args (without the program name) and returns its
// exit code. It is main without the process: tests call it in-process.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	a := &app{stdout: stdout}
	root := newRootCommand(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if terr := a.endTrace(err); terr != nil {
		// The command's own outcome and exit code stand.
		fmt.Fprintf(stderr, "starter: %s\n", cli.OneLine(terr))
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "starter: %s\n", cli.OneLine(err))
	return exitCode(err)
}

// exitCode is the exit code of a command that failed with err.
func exitCode(err error) int {
	var outcome *outcomeError
	var loadOutcome *load.OutcomeError
	if errors.As(err, &outcome) || errors.As(err, &loadOutcome) {
		return exitOutcome
	}
	return exitError
}

// app holds what every command shares: the global flags and where output
// goes, and with tracing on the command's span.
type app struct {
	conn    connect.Flags
	uiURL   string
	output  string
	stdout  io.Writer
	tracing *tracing.Tracing
	span    trace.Span
}

func newRootCommand(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "starter",
		Short: "Place, read, list, cancel and watch orders of the order saga",
		Long: `starter is the order saga's client. Each order runs as a Temporal workflow
("order-<ID>") that reserves stock, charges the customer, waits out a cancel
window and ships; on failure or cancel it undoes what it did.

Connection settings come from a Temporal config profile, then the TEMPORAL_*
environment variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_PROFILE, TEMPORAL_TLS_*), then the flags (--temporal-address,
--namespace, --api-key-file, --profile; the API key itself never as a flag).
ORDERSAGA_UI_URL sets the Web UI base URL of the links the starter prints.

Exit status: 0 success, 1 error (one line on stderr), 3 an order waited for
ended otherwise than asked (place --wait: not COMPLETED; cancel --wait: not
CANCELLED; load: any order not as its kind asked, or an audit violation).`,
		Example: `  starter place --id 42 --customer c-1 --item BOOK-GOPL:2 --payment tok_visa --address "1 Main St, Springfield"
  starter status 42
  starter watch 42
  starter cancel 42 --reason "changed my mind" --wait
  starter list --status completed -o json
  starter load --orders 200 --concurrency 20`,
		Args:              cobra.ArbitraryArgs,
		RunE:              rootRun,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.conn.Check(); err != nil {
				return err
			}
			if err := a.checkOutput(); err != nil {
				return err
			}
			return a.startTrace(cmd)
		},
	}
	root.SuggestionsMinimumDistance = 2
	root.SetFlagErrorFunc(usageError)

	flags := root.PersistentFlags()
	a.conn.Register(flags)
	flags.StringVar(&a.uiURL, "ui-url", uiURLDefault(), "base URL of the Temporal Web UI, for links to orders (env "+uiURLEnv+")")
	cli.RegisterOutput(flags, &a.output)

	root.AddCommand(
		newPlaceCommand(a),
		newStatusCommand(a),
		newCancelCommand(a),
		newResumeCommand(a),
		newListCommand(a),
		newWatchCommand(a),
		newLoadCommand(a),
	)
	return root
}

// rootRun shows the help when no command is given and refuses an unknown one.
func rootRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(": did you mean %s?", strings.Join(s, " or "))
	}
	return fmt.Errorf("%s (see 'starter --help')", msg)
}

// startTrace turns tracing on when the environment names an OTLP
// endpoint, and starts the command's span, the root of its trace: the
// order's workflow, activities and store transactions join it through
// the Temporal client's interceptor. load starts no span of its own:
// each of its orders is the root of a trace of its own.
func (a *app) startTrace(cmd *cobra.Command) error {
	tr, err := tracing.Setup(cmd.Context(), tracing.StarterService, nil)
	if err != nil || tr == nil {
		return err
	}
	a.tracing, a.conn.Interceptors = tr, tr.Interceptors()
	if cmd.Name() == "load" {
		return nil
	}
	ctx, span := tr.Tracer().Start(cmd.Context(), cmd.CommandPath(), trace.WithSpanKind(trace.SpanKindClient))
	cmd.SetContext(ctx)
	a.span = span
	return nil
}

// endTrace ends the command's span with its outcome and sends the spans
// not sent yet, waiting at most tracing.ShutdownTimeout; it reports spans
// the collector did not take. It does nothing with tracing off.
func (a *app) endTrace(cmdErr error) error {
	if a.span != nil {
		if cmdErr != nil {
			a.span.SetStatus(codes.Error, cli.OneLine(cmdErr))
		}
		a.span.End()
	}
	return a.tracing.Shutdown()
}

func uiURLDefault() string { return cli.EnvOr(uiURLEnv, orderclient.DefaultUIURL) }

// checkOutput refuses an -o/--output other than text or json, in the
// starter's words: "invalid --output ...".
func (a *app) checkOutput() error {
	if err := cli.CheckOutput(a.output); err != nil {
		return fmt.Errorf("invalid %w", err)
	}
	return nil
}

func (a *app) json() bool { return a.output == cli.JSON }

// connect dials Temporal and returns an order client on it; call done when
// done. The SDK's own logs are dropped: every error it reports reaches the
// command as an error, and stderr is kept for one-line errors.
func (a *app) connect() (oc *orderclient.Client, done func(), err error) {
	c, opts, err := a.conn.Dial(slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	oc = &orderclient.Client{Temporal: c, Namespace: connect.Namespace(opts), UIURL: a.uiURL}
	return oc, c.Close, nil
}

// withClient connects and runs f with the order client, then closes the
// connection: every command on orders connects alike.
func (a *app) withClient(f func(*orderclient.Client) error) error {
	oc, done, err := a.connect()
	if err != nil {
		return err
	}
	defer done()
	return f(oc)
}

// withOrder reads an order's state and runs f with it, for the commands
// that show an order (status, watch): an unknown order's error says how to
// find one.
func (a *app) withOrder(ctx context.Context, orderID string, f func(*orderclient.Client, orderclient.View) error) error {
	return a.withClient(func(oc *orderclient.Client) error {
		v, err := oc.State(ctx, orderID)
		if err != nil {
			return notFoundHint(err)
		}
		return f(oc, v)
	})
}

// outcomeError reports an order that ended otherwise than the command asked
// for; the starter exits with exitOutcome.
type outcomeError struct{ msg string }

func (e *outcomeError) Error() string { return e.msg }

// usageError points a command-line mistake at the command's help.
func usageError(cmd *cobra.Command, err error) error {
	return fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())
}

// orderIDArg accepts exactly one argument, the order ID.
func orderIDArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usageError(cmd, fmt.Errorf("missing the order ID: %s ID", cmd.CommandPath()))
	case len(args) > 1:
		return usageError(cmd, fmt.Errorf("too many arguments %q: give one order ID", args))
	case strings.TrimSpace(args[0]) == "":
		return usageError(cmd, errors.New("the order ID is empty"))
	}
	return nil
}

// noArgs refuses arguments to a command that takes only flags.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError(cmd, fmt.Errorf("unexpected argument %q: %s takes only flags", args[0], cmd.Name()))
	}
	return nil
}

// interrupted words an error from a wait that the user stopped: the order
// itself goes on.
func interrupted(ctx context.Context, orderID string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("stopped waiting for order %s; the order goes on: follow it with 'starter watch %s'", orderID, orderID)
	}
	return err
}
