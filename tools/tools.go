//go:build tools

// Package tools pins the command-line tools the project builds from the Go
// module proxy, so that a fresh machine needs no Docker and no downloads from
// anywhere else: the Temporal CLI (dev server with its Web UI) and
// workflowcheck.
package tools

import (
	_ "github.com/temporalio/cli/cmd/temporal"
)
