// Package cluster is docker-compose.yml's stack without Docker: its
// PostgreSQL initialised by the stack's init script, Temporal's schema and
// namespace set up by the stack's jobs, and server nodes configured from
// the server image's template with the compose file's environment, each a
// process on this host. The end-to-end tests and the benchmark start the
// same cluster through it.
//
// Only what one host needs changes (host names to 127.0.0.1, free ports,
// one port set per node, a secret's mount path to its file: onOneHost);
// everything else is read from the compose file, its .env and the files it
// mounts, and TestComposeDrift fails when the two part ways.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"text/template"

	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/internal/platform/pgserver"
	"github.com/ordersaga/ordersaga/internal/platform/proc"
)

// Options are the settings of Start.
type Options struct {
	Root  string                           // the repository's root: docker-compose.yml, .env.example, deploy/, bin/, tools/
	Dir   string                           // where configs, data and logs go (created if missing; the caller removes it)
	Nodes int                              // server nodes, each with every role; 0 means 2
	Env   map[string]string                // compose's .env; nil means TestEnv(Root) with a fresh key file in Dir
	Logf  func(format string, args ...any) // progress lines; nil discards
}

// Cluster is the stack brought up by Start. Its methods may be called from
// several goroutines.
type Cluster struct {
	root, dir string
	logf      func(format string, args ...any)
	compose   map[string]Service // the services, interpolated
	pg        *pgserver.Cluster
	pgPort    string
	path      string // PATH of the jobs: the temporal CLI and temporal-sql-tool first
	server    string // temporal-server
	cli       string // temporal
	serverDir string // the server module in the module cache: its template and schema
	tmpl      *template.Template

	mu     sync.Mutex
	nodes  []*node
	ports  map[string]bool // every port given to a node
	closed bool
}

// Start brings the stack up as `docker compose up` would, up to and
// including the namespace job: PostgreSQL and its init script, the schema
// job, the nodes one at a time, then the namespace job once every role's
// ring has every node. On an error, everything it started is stopped.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	c, err := prepare(o)
	if err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// prepare reads the stack's files and finds the binaries, and starts
// nothing.
func prepare(o Options) (*Cluster, error) {
	if o.Root == "" || o.Dir == "" {
		return nil, errors.New("cluster options: Root (the repository) and Dir (for its files) are required")
	}
	if o.Nodes == 0 {
		o.Nodes = 2
	}
	c := &Cluster{root: o.Root, dir: o.Dir, logf: o.Logf, ports: map[string]bool{}, nodes: make([]*node, o.Nodes)}
	if c.logf == nil {
		c.logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the cluster's directory: %w", err)
	}
	env := o.Env
	var err error
	if env == nil {
		if env, err = testEnv(c.root, c.dir); err != nil {
			return nil, err
		}
	}
	if c.compose, err = loadCompose(c.root, env); err != nil {
		return nil, err
	}
	if err := c.checkSecretFiles(); err != nil {
		return nil, err
	}
	for _, s := range []string{"postgres", "temporal-schema", "temporal", "temporal-namespace", "starter"} {
		if _, err := c.Service(s); err != nil {
			return nil, err
		}
	}
	if _, err := healthCheckArgs(c.compose["temporal"].Healthcheck, ""); err != nil {
		return nil, err
	}
	return c, c.findPrograms()
}

// testEnv is TestEnv with a key ring of its own: a fresh key file in dir,
// mode 0600, which ORDERSAGA_CODEC_KEY_FILE names. Always a new file,
// never one that .env.example's name might find in the checkout: the
// checkout's ./codec-keys is the compose stack's own ring, owned by the
// image's user so that this user cannot even read it, and a test must
// neither encrypt with production's keys nor write beside them.
func testEnv(root, dir string) (map[string]string, error) {
	env, err := TestEnv(root)
	if err != nil {
		return nil, err
	}
	key, err := codec.NewKey("")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "codec-keys")
	if _, err := codec.AddKeyToFile(file, key); err != nil {
		return nil, fmt.Errorf("write the cluster's codec key file: %w", err)
	}
	env[EnvCodecKeyFile] = file
	return env, nil
}

// checkSecretFiles checks that every file the services mount as a secret
// is there, as compose needs it to be, before anything starts.
func (c *Cluster) checkSecretFiles() error {
	for _, name := range slices.Sorted(maps.Keys(c.compose)) {
		for target, file := range c.compose[name].Secrets {
			if _, err := os.Stat(file); err != nil {
				return fmt.Errorf("the %s service's secret %s: %w: create the file the stack's .env names (for the key file: bin/worker codec-key add), or name another", name, target, err)
			}
		}
	}
	return nil
}

// findPrograms finds the server, its SQL tool and the CLI that the
// Makefile builds, and the server's module: its config template and
// schema.
func (c *Cluster) findPrograms() error {
	var err error
	if c.cli, err = temporalCLI(c.root); err != nil {
		return err
	}
	if c.server, err = builtTool(c.root, "temporal-server"); err != nil {
		return err
	}
	sqlTool, err := builtTool(c.root, "temporal-sql-tool")
	if err != nil {
		return err
	}
	c.path, err = jobPath(filepath.Join(c.dir, "bin"), map[string]string{"temporal": c.cli, "temporal-sql-tool": sqlTool})
	if err != nil {
		return err
	}
	dir, version, err := serverModule(c.root)
	if err != nil {
		return err
	}
	c.serverDir = dir
	c.tmpl, err = serverTemplate(dir, version, c.compose["temporal"].Image)
	return err
}

// start runs the stack's steps in compose's order.
func (c *Cluster) start(ctx context.Context) error {
	if err := c.startPostgres(ctx); err != nil {
		return err
	}
	env, err := c.ServiceEnv("temporal-schema", nil)
	if err != nil {
		return err
	}
	if err := c.runJob(ctx, "temporal-schema", env, "sh", filepath.Join(c.root, setupSchema)); err != nil {
		return err
	}
	// One at a time: a starting node writes its own frontend address into
	// the cluster's metadata record, and two at once race for it.
	for i := range c.nodes {
		if err := c.addNode(ctx, i); err != nil {
			return fmt.Errorf("start temporal-%d: %w", i+1, err)
		}
	}
	if err := c.WaitMembers(ctx); err != nil {
		return err
	}
	// Against every node in turn: the job is done once its frontend takes
	// orders with the search attributes, and each frontend has its own
	// cache of the namespace. Behind compose's service name it would reach
	// one node; the stack runs one.
	for i := range c.nodes {
		env, err = c.ServiceEnv("temporal-namespace", map[string]string{EnvAddress: c.Frontend(i)})
		if err != nil {
			return err
		}
		if err := c.runJob(ctx, fmt.Sprintf("temporal-namespace-%d", i+1), env, "sh", filepath.Join(c.root, setupNamespace)); err != nil {
			return err
		}
	}
	return nil
}

// Close kills every node with SIGKILL and stops PostgreSQL. It leaves the
// files in Dir, and may be called again.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var procs []*proc.Process
	for _, n := range c.nodes {
		if n != nil && n.proc != nil {
			procs = append(procs, n.proc)
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, p := range procs {
		errs = append(errs, p.Kill(killTimeout))
	}
	if c.pg != nil {
		errs = append(errs, c.pg.Stop())
	}
	return errors.Join(errs...)
}

// Nodes is how many server nodes the cluster has, running or not.
func (c *Cluster) Nodes() int { return len(c.nodes) }

// Frontend is node i's frontend gRPC address, host:port.
func (c *Cluster) Frontend(i int) string { return c.node(i).frontend }

// Frontends are the nodes' frontend addresses, node 1's first.
func (c *Cluster) Frontends() []string {
	var out []string
	for i := range c.nodes {
		out = append(out, c.Frontend(i))
	}
	return out
}

// NodeName is node i's name, temporal-1 for node 0.
func (c *Cluster) NodeName(i int) string { return c.node(i).name }

// NodeLog is the path of node i's log file: the output of each of its
// runs, one after the other.
func (c *Cluster) NodeLog(i int) string { return c.node(i).log }

// NodePID is node i's process ID, or 0 when it is not running.
func (c *Cluster) NodePID(i int) int {
	n := c.node(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.proc == nil || n.proc.Exited() {
		return 0
	}
	return n.proc.PID()
}

// NodeExit says whether node i's last run has ended, and how: the error
// of its wait (such as "signal: killed"), nil for a clean exit.
func (c *Cluster) NodeExit(i int) (exited bool, err error) {
	n := c.node(i)
	c.mu.Lock()
	p := n.proc
	c.mu.Unlock()
	if p == nil || !p.Exited() {
		return false, nil
	}
	return true, p.Err()
}

// PostgresPID is the postmaster's process ID; the server's backends are
// its children.
func (c *Cluster) PostgresPID() int { return c.pg.PID() }

// KillNode kills node i with SIGKILL, as a crash of its machine would,
// and waits until it is gone.
func (c *Cluster) KillNode(i int) error {
	n := c.node(i)
	c.mu.Lock()
	p := n.proc
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("kill %s: it was never started", n.name)
	}
	return p.Kill(killTimeout)
}

// StartNode starts node i again on its ports and config, and returns once
// it is healthy and every running node's rings have every running node.
func (c *Cluster) StartNode(ctx context.Context, i int) error {
	n := c.node(i)
	if pid := c.NodePID(i); pid != 0 {
		return fmt.Errorf("start %s: it is running (pid %d): kill it first", n.name, pid)
	}
	if err := c.startNode(ctx, i); err != nil {
		return fmt.Errorf("start %s again: %w", n.name, err)
	}
	return c.WaitMembers(ctx)
}

// node is node i, which must be one of the cluster's.
func (c *Cluster) node(i int) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.nodes) || c.nodes[i] == nil {
		panic(fmt.Sprintf("cluster: no node %d of %d", i, len(c.nodes)))
	}
	return c.nodes[i]
}
