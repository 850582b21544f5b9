package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/internal/platform/cli"
)

// The environment equivalents of --deployment-name and --build-id: a
// container takes its build ID from its image tag.
const (
	DeploymentNameEnv = "ORDERSAGA_DEPLOYMENT_NAME"
	BuildIDEnv        = "ORDERSAGA_BUILD_ID"
)

// deployment is the Worker Deployment Version that `worker run` joins. With
// one, Temporal routes each order to the build it started on (the order
// workflow is pinned, see workflows.Register) and an operator chooses which
// build new orders start on (`temporal worker deployment
// set-current-version`), so a change of the workflow's code needs no
// workflow.GetVersion branch. Without one the worker is unversioned: every
// worker takes every task, as before deployments.
type deployment struct {
	name, buildID string
}

func (d *deployment) register(pf *pflag.FlagSet) {
	pf.StringVar(&d.name, "deployment-name", cli.EnvOr(DeploymentNameEnv, ""),
		"Worker Deployment this worker's services join, such as ordersaga; with --build-id, orders stay on the build they started on and new orders start on the deployment's current version (env "+DeploymentNameEnv+"); neither: unversioned")
	pf.StringVar(&d.buildID, "build-id", cli.EnvOr(BuildIDEnv, ""),
		"build of this worker within --deployment-name, such as the image tag or git commit (env "+BuildIDEnv+")")
}

// versioned reports whether the worker joins a deployment.
func (d deployment) versioned() bool { return d.name != "" || d.buildID != "" }

// check refuses half a version, and names the server would refuse only
// later, in the background, leaving the workers polling a version that
// never registers.
func (d deployment) check() error {
	switch {
	case !d.versioned():
		return nil
	case d.name == "" || d.buildID == "":
		return fmt.Errorf("--deployment-name is %q and --build-id %q: give both (or %s and %s) to join a deployment, or neither to run unversioned", d.name, d.buildID, DeploymentNameEnv, BuildIDEnv)
	case strings.ContainsAny(d.name, ".:"):
		return fmt.Errorf("--deployment-name %q contains '.' or ':', which Temporal refuses: use letters, digits, '-' and '_', such as ordersaga", d.name)
	case strings.HasPrefix(d.name, "__") || strings.HasPrefix(d.buildID, "__"):
		return fmt.Errorf("--deployment-name %q or --build-id %q starts with '__', which Temporal keeps for itself: remove the leading underscores", d.name, d.buildID)
	}
	return nil
}

// apply makes o join the deployment version, if there is one. Every
// service joins it, not only the order service: Temporal sends a pinned
// order's activities to its own build only on the task queues that build's
// workers poll; an activity on any other queue goes to that queue's current
// version. Workflows that declare no behaviour (the audit, the baseline)
// auto-upgrade: their runs are short and hold no state worth pinning.
func (d deployment) apply(o worker.Options) worker.Options {
	if !d.versioned() {
		return o
	}
	o.DeploymentOptions = worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   worker.WorkerDeploymentVersion{DeploymentName: d.name, BuildID: d.buildID},
		DefaultVersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
	}
	return o
}

// String is the version for the worker's first log line.
func (d deployment) String() string {
	if !d.versioned() {
		return "off: unversioned, every worker takes every order"
	}
	return d.name + ":" + d.buildID
}

// claimTimeout bounds how long a worker tries to make its build the first
// current version: its polls register the version with Temporal within
// seconds.
const claimTimeout = 2 * time.Minute

// claimFirstCurrent makes this build the deployment's current version if
// no version of it was ever made current, and closes the returned channel
// when it is done trying. A new deployment (a fresh compose stack, a first
// versioned worker) would otherwise start no order at all: Temporal sends
// new orders to the current version, and there is none until an operator
// sets one. Every later build waits for `temporal worker deployment
// set-current-version`: this never overrides a choice, not even a choice
// of unversioned workers. Two builds that start together on a new
// deployment race through the deployment's conflict token: one wins.
func (d deployment) claimFirstCurrent(ctx context.Context, c client.Client, logger *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if !d.versioned() {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(ctx, claimTimeout)
		defer cancel()
		current, err := d.retryClaim(ctx, c.WorkerDeploymentClient().GetHandle(d.name))
		setCurrent := fmt.Sprintf("temporal worker deployment set-current-version --deployment-name %s --build-id %s", d.name, d.buildID)
		switch {
		case err != nil && errors.Is(context.Cause(ctx), context.Canceled):
			// The worker stopped first: nothing to report.
		case err != nil:
			logger.Warn("could not make this build the deployment's first current version; new orders start once a version is current",
				"deployment", d.String(), "error", err, "fix", setCurrent)
		case current == d.buildID:
			logger.Info("build is the deployment's current version: new orders start on it", "deployment", d.String())
		default:
			logger.Info("build is not the deployment's current version: it runs the orders pinned to it, and new orders once made current",
				"deployment", d.String(), "current_build", cmp.Or(current, "unversioned workers"), "how", setCurrent)
		}
	}()
	return done
}

// retryClaim tries claim until it settles or ctx ends, and returns the
// build ID of the current version.
func (d deployment) retryClaim(ctx context.Context, h client.WorkerDeploymentHandle) (string, error) {
	for {
		current, settled, err := d.claim(ctx, h)
		if settled {
			return current, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("deployment %s: %w (last: %v)", d.name, ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// claim is one attempt. It settles once a current version was ever set,
// by this worker or anyone, and then returns that version's build ID (""
// for unversioned workers). Until then the deployment or the version may
// not exist yet (the polls register them) or another worker may have
// changed the deployment since it was read: all worth another attempt.
func (d deployment) claim(ctx context.Context, h client.WorkerDeploymentHandle) (current string, settled bool, err error) {
	desc, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		return "", false, err
	}
	routing := desc.Info.RoutingConfig
	if routing.CurrentVersion != nil {
		return routing.CurrentVersion.BuildID, true, nil
	}
	if !routing.CurrentVersionChangedTime.IsZero() {
		return "", true, nil
	}
	if _, err := h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: d.buildID, ConflictToken: desc.ConflictToken}); err != nil {
		return "", false, err
	}
	return d.buildID, true, nil
}
