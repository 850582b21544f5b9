package main

import (
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"

	"github.com/ordersaga/ordersaga/starter/load"
)

// newLoadCommand wires `starter load` to the starter's connection to
// Temporal, its tracing, its -o/--output and its usage errors.
func newLoadCommand(a *app) *cobra.Command {
	return load.NewCommand(load.Config{
		Connect:    a.connect,
		Tracer:     func() trace.Tracer { return a.tracing.Tracer() },
		Stdout:     a.stdout,
		Output:     func() string { return a.output },
		Args:       noArgs,
		UsageError: usageError,
	})
}
