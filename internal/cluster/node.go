package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/platform/proc"
)

// Bounds of a node's steps.
const (
	serverStartTimeout = 90 * time.Second
	healthCheckTimeout = 5 * time.Second // one health check, as compose's timeout
	pollInterval       = 500 * time.Millisecond
	// killTimeout bounds how long a node may take to end after SIGKILL.
	killTimeout = 15 * time.Second
)

// portAttempts is how many times a node is started on new free ports when
// one of them was taken before it could bind it.
const portAttempts = 3

// errPortTaken is a node's exit because another process took one of its
// ports between the cluster's look and the server's bind.
var errPortTaken = errors.New("a port was taken before the server bound it")

// errClosed is a node start after Close.
var errClosed = errors.New("the cluster is closed")

// node is one temporal-server process with every role, on its own ports.
type node struct {
	name     string
	root     string        // --root: config/docker.yaml
	log      string        // its output, every run's
	env      []string      // the compose service's environment, on this host
	frontend string        // gRPC address of its frontend
	proc     *proc.Process // nil until started
}

// newNode prepares node i: its ports and its config, rendered from the
// server image's template with the compose service's environment.
func (c *Cluster) newNode(i int) (*node, error) {
	name := fmt.Sprintf("temporal-%d", i+1)
	n := &node{name: name, root: filepath.Join(c.dir, name), log: filepath.Join(c.dir, name+".log")}
	env, err := c.ServiceEnv("temporal", nil)
	if err != nil {
		return nil, err
	}
	n.frontend = net.JoinHostPort(env[envBindOnIP], env[envFrontendPort])
	config := filepath.Join(n.root, "config")
	if err := os.MkdirAll(config, 0o755); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := c.tmpl.Execute(&b, struct{ Env map[string]string }{env}); err != nil {
		return nil, fmt.Errorf("render %s for %s: %w", serverConfigTmpl, name, err)
	}
	// --env docker reads docker.yaml, which the image's entrypoint renders.
	if err := os.WriteFile(filepath.Join(config, "docker.yaml"), b.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", name, err)
	}
	n.env = environ(env)
	return n, nil
}

// addNode prepares and starts node i, on other ports when one of its
// ports was taken before it bound it.
func (c *Cluster) addNode(ctx context.Context, i int) error {
	for attempt := 1; ; attempt++ {
		n, err := c.newNode(i)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.nodes[i] = n
		c.mu.Unlock()
		err = c.startNode(ctx, i)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return err
		}
		c.logf("%v: starting it on other ports", err)
	}
}

// startNode starts node i, as the image's start-temporal.sh does, and
// waits until it passes compose's health check. A node that exits first
// is an error, errPortTaken if it could not bind a port.
func (c *Cluster) startNode(ctx context.Context, i int) error {
	n := c.node(i)
	p, err := proc.Start(proc.Command{
		Name: n.name, Path: c.server, Args: []string{"--root", n.root, "--config", "config", "--env", "docker", "start"},
		Dir: c.root, Env: n.env, Log: n.log, DieWithParent: true,
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	n.proc = p
	closed := c.closed
	c.mu.Unlock()
	if closed { // Close ran while it started, and did not see it
		return errors.Join(errClosed, p.Kill(killTimeout))
	}
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	for {
		out, err := c.healthCheck(ctx, n.frontend)
		if err == nil {
			c.logf("%s is healthy at %s", n.name, n.frontend)
			return nil
		}
		if p.Exited() {
			err := fmt.Errorf("%s exited before it was healthy: %v\n%s", n.name, p.Err(), p.Tail(60))
			if strings.Contains(p.Output(), "address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy within %s: %v\n%s", n.name, serverStartTimeout, err, out)
		case <-time.After(pollInterval): // poll interval of a deadline-bounded wait
		}
	}
}

// healthCheck runs the temporal service's health check from the compose
// file, at address instead of the container's own.
func (c *Cluster) healthCheck(ctx context.Context, address string) (string, error) {
	argv, err := healthCheckArgs(c.compose["temporal"].Healthcheck, address)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, healthCheckTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.cli, argv...).CombinedOutput()
	return string(out), err
}

// healthCheckArgs are the arguments of the temporal CLI in compose's
// health check `CMD temporal ... --address ADDRESS`, with address in
// place of the container's own.
func healthCheckArgs(test []string, address string) ([]string, error) {
	if len(test) < 2 || test[0] != "CMD" || test[1] != "temporal" || !slices.Contains(test, "--address") ||
		slices.Index(test, "--address") == len(test)-1 {
		return nil, fmt.Errorf("%s: the temporal service's health check %q is not `temporal ... --address ADDRESS`: update internal/cluster's healthCheck", ComposeFile, test)
	}
	argv := slices.Clone(test[2:])
	argv[slices.Index(argv, "--address")+1] = address
	return argv, nil
}
