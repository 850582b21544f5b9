package load

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
)

// errUnreachable is a Temporal that cannot be reached: a command that
// returns it got past checking its flags.
var errUnreachable = errors.New("connect to Temporal: unreachable")

// errUsage marks the errors that Config.UsageError words.
var errUsage = errors.New("usage")

// runCommand runs the load command with args, in a starter that cannot
// reach Temporal, and returns its error and whether it tried to connect.
func runCommand(t *testing.T, args ...string) (err error, connected bool) {
	t.Helper()
	cmd := NewCommand(Config{
		Connect: func() (*orderclient.Client, func(), error) {
			connected = true
			return nil, nil, errUnreachable
		},
		Tracer:     func() trace.Tracer { return noop.NewTracerProvider().Tracer("") },
		Stdout:     io.Discard,
		Output:     func() string { return cli.Text },
		Args:       cobra.NoArgs,
		UsageError: func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %w", errUsage, err) },
	})
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.Execute(), connected
}

// TestLoadFlagsGetAsFarAsConnecting: flags that are right (or that do not
// apply to the run, as the audit's to a baseline) are no usage error.
func TestLoadFlagsGetAsFarAsConnecting(t *testing.T) {
	for name, args := range map[string][]string{
		"window":                         {"--orders", "2", "--concurrency", "2", "--window", "10m"},
		"longest window":                 {"--orders", "2", "--concurrency", "2", "--window", "168h"},
		"no audit, bad DSN left unread":  {"--orders", "2", "--concurrency", "2", "--audit=false", "--payment-dsn", "x"},
		"baseline with --audit":          {"--orders", "2", "--concurrency", "2", "--workflow", "baseline", "--audit"},
		"baseline with store flags":      {"--orders", "2", "--concurrency", "2", "--workflow", "baseline", "--data-dir", "/nowhere", "--shipping-dsn", "x"},
		"saga with a PostgreSQL DSN set": {"--orders", "2", "--concurrency", "2", "--inventory-dsn", "postgres://u@db:5432/x"},
	} {
		t.Run(name, func(t *testing.T) {
			if err, connected := runCommand(t, args...); !connected || !errors.Is(err, errUnreachable) {
				t.Errorf("error %v (connected: %v); want the connection's error", err, connected)
			}
		})
	}
}

// Flags that make no plan are usage errors, found before connecting.
func TestBadFlagsAreUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no orders":        {"--concurrency", "2"},
		"unknown workflow": {"--orders", "2", "--concurrency", "2", "--workflow", "chaos"},
		"baseline mix":     {"--orders", "2", "--concurrency", "2", "--workflow", "baseline", "--mix", "success=1"},
	} {
		t.Run(name, func(t *testing.T) {
			if err, connected := runCommand(t, args...); connected || !errors.Is(err, errUsage) {
				t.Errorf("error %v (connected: %v); want a usage error before connecting", err, connected)
			}
		})
	}
}
