package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/pgtest"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestClusterTwoNodes runs orders on the production-shaped stack of
// docker-compose.yml, brought up from its own files without Docker: a
// two-node Temporal cluster on PostgreSQL and one worker per service.
// An order completes; the workers and the starter move to node 2 and node
// 1 is killed with SIGKILL; another order completes on node 2 alone; node
// 1 comes back and the cluster has two members again. Each order leaves
// one captured charge in the payment service's database.
func TestClusterTwoNodes(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	workers := c.startServiceWorkers(t, c.frontend(0))
	c.placeOrder(t, c.frontend(0), "cluster-1")

	// A client of the SDK dials one host:port and has no other to fail
	// over to; in compose the clients would find a live node by the
	// service's name. Here they are given node 2's address before node 1
	// goes, and node 2 has to notice that node 1 is gone and take over its
	// history shards and task queues.
	for _, p := range workers {
		p.stop(t, syscall.SIGTERM)
	}
	c.startServiceWorkers(t, c.frontend(1))
	c.killNode(t, 0)
	c.waitMembers(t)
	c.placeOrder(t, c.frontend(1), "cluster-2")
	c.restartNode(t, 0)

	st := c.stores(t)
	assertRecords(t, st, map[string][3]string{
		"cluster-1": {inventory.Reserved, payment.Captured, shipping.Created},
		"cluster-2": {inventory.Reserved, payment.Captured, shipping.Created},
	})
	charges, err := st.payment.Charges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ch := range charges {
		got[ch.Key] = ch.Status
	}
	want := map[string]string{
		"order-cluster-1/" + workflows.StepCharge: payment.Captured,
		"order-cluster-2/" + workflows.StepCharge: payment.Captured,
	}
	if len(charges) != len(want) || !maps.Equal(got, want) {
		t.Errorf("the payment database holds %d charges %v, want one captured charge per order: %v", len(charges), got, want)
	}
}

// placeOrder places an order through frontend with the starter, as
// compose's starter service runs it, waits for its end and checks that it
// completed.
func (c *cluster) placeOrder(t *testing.T, frontend, id string) {
	t.Helper()
	r := c.starter(t, frontend, "place", "--id", id, "--customer", "c-"+id, "--item", "BOOK-GOPL:1",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "1s", "--wait", "-o", "json")
	if v := view(t, r, 0); v.Status != workflows.Completed {
		t.Fatalf("order %s ended %s, want %s: %+v", id, v.Status, workflows.Completed, v.OrderState)
	}
}

// Files of the compose stack, relative to the repository's root.
const (
	composeFile      = "docker-compose.yml"
	envExampleFile   = ".env.example"
	initDatabases    = "deploy/postgres/init-databases.sh"
	setupSchema      = "deploy/temporal/setup-schema.sh"
	setupNamespace   = "deploy/temporal/setup-namespace.sh"
	dynamicConfig    = "deploy/temporal/dynamicconfig.yaml"
	serverConfigTmpl = "docker/config_template.yaml" // in the server's module
)

// composeWorkers are the compose services that run one ordersaga service
// each, with its store's DSN.
var composeWorkers = []string{"order", "inventory", "payment", "shipping"}

// Bounds of the cluster's steps.
const (
	jobTimeout         = 2 * time.Minute // a one-shot job: the namespace script retries for a minute
	membershipTimeout  = 90 * time.Second
	healthCheckTimeout = 5 * time.Second // one health check, as compose's timeout
)

// clusterOptions are the settings of startCluster.
type clusterOptions struct {
	// nodes is how many server nodes start, each with every role; 0 is 2.
	nodes int
}

// cluster is docker-compose.yml's stack without Docker: its PostgreSQL
// initialised by the stack's init script, Temporal's schema and namespace
// set up by the stack's jobs, and server nodes configured from the server
// image's template with the compose file's environment.
type cluster struct {
	compose map[string]composeService // the services, interpolated
	pg      *pgtest.Cluster
	pgPort  string
	path    string // PATH of the jobs: the temporal CLI and temporal-sql-tool first
	server  string // temporal-server
	cli     string // temporal
	tmpl    *template.Template
	nodes   []*node
	ports   map[string]bool // every port given to a node
}

// node is one temporal-server process with every role, on its own ports.
type node struct {
	name     string
	root     string   // --root: config/docker.yaml
	env      []string // the compose service's environment, on this host
	frontend string   // gRPC address of its frontend
	proc     *process
}

// startCluster brings the stack up as `docker compose up` would, up to and
// including the namespace job, and returns when every node answers its
// health check and every role's ring has every node. Everything it starts
// stops when t ends; the processes' logs are in t's temporary directories
// and shown when t fails.
func startCluster(t *testing.T, opts clusterOptions) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("the two-node Temporal cluster on PostgreSQL is skipped in -short mode: it takes a minute or more")
	}
	if opts.nodes == 0 {
		opts.nodes = 2
	}
	c := &cluster{cli: temporalBin(t), server: builtTool(t, "temporal-server"), ports: map[string]bool{}}
	c.path = jobPath(t, map[string]string{"temporal": c.cli, "temporal-sql-tool": builtTool(t, "temporal-sql-tool")})
	c.compose = loadCompose(t, testEnv(t))
	c.tmpl = serverTemplate(t, c.compose["temporal"].Image)

	c.startPostgres(t)
	c.runJob(t, "temporal-schema", c.serviceEnv(t, "temporal-schema", nil), "sh", filepath.Join(repoRoot, setupSchema))
	for i := range opts.nodes {
		// One at a time: a starting node writes its own frontend address
		// into the cluster's metadata record, and two at once race for it.
		c.nodes = append(c.nodes, nil)
		for attempt := 1; ; attempt++ {
			c.nodes[i] = c.newNode(t, i)
			err := c.startNode(t, i)
			if err == nil {
				break
			}
			if !errors.Is(err, errPortTaken) || attempt == portAttempts {
				t.Fatal(err)
			}
			t.Logf("%v: starting it on other ports", err)
		}
	}
	c.waitMembers(t)
	c.runJob(t, "temporal-namespace", c.serviceEnv(t, "temporal-namespace", map[string]string{"TEMPORAL_ADDRESS": c.frontend(0)}),
		"sh", filepath.Join(repoRoot, setupNamespace))
	return c
}

// onOneHost are the only changes to the compose file's environment, all of
// them because every container is a process on this host rather than on
// its own address: a service's name and port become a loopback address and
// a free port, a listener binds loopback only, and each server node, which
// compose would give its own IP and the template's default ports, gets
// ports of its own. The mounted dynamic config is read where it is in the
// checkout; the schema job reads the server module's schema files where
// the admin-tools image has its copy of them.
func (c *cluster) onOneHost(t *testing.T, service string) map[string]string {
	t.Helper()
	switch service {
	case "temporal-schema":
		return map[string]string{"SQL_HOST": "127.0.0.1", "SQL_PORT": c.pgPort,
			"TEMPORAL_SCHEMA_DIR": filepath.Join(serverModuleDir(t), "schema", "postgresql", "v12")}
	case "temporal":
		env := map[string]string{"POSTGRES_SEEDS": "127.0.0.1", "DB_PORT": c.pgPort, "BIND_ON_IP": "127.0.0.1",
			"DYNAMIC_CONFIG_FILE_PATH": filepath.Join(repoRoot, dynamicConfig)}
		for _, k := range nodePorts {
			env[k] = c.nodePort(t, strings.HasSuffix(k, "_MEMBERSHIP_PORT"))
		}
		return env
	}
	// The workers, the namespace job and the starter: TEMPORAL_ADDRESS is
	// the caller's; the metrics listener and the DSNs move to this host.
	env := map[string]string{}
	if _, ok := c.compose[service].Environment["ORDERSAGA_METRICS_ADDR"]; ok {
		env["ORDERSAGA_METRICS_ADDR"] = "127.0.0.1:" + freePort(t)
	}
	for k, v := range c.compose[service].Environment {
		if strings.HasSuffix(k, "_DSN") {
			env[k] = c.onThisHost(t, v)
		}
	}
	return env
}

// nodePorts are the ports config_template.yaml reads that each node of
// one host needs its own of: every role's gRPC and membership port, and
// the frontend's HTTP API.
var nodePorts = []string{
	"FRONTEND_GRPC_PORT", "FRONTEND_HTTP_PORT", "FRONTEND_MEMBERSHIP_PORT",
	"HISTORY_GRPC_PORT", "HISTORY_MEMBERSHIP_PORT",
	"MATCHING_GRPC_PORT", "MATCHING_MEMBERSHIP_PORT",
	"WORKER_GRPC_PORT", "WORKER_MEMBERSHIP_PORT",
}

// nodePort is a free loopback port for a node that no node of the cluster
// was given before. A membership port is one below 32768: each member's
// goes into cluster_membership.rpc_port, a SMALLINT in the server's
// PostgreSQL schema, and the kernel's free ports (freePort) are above it;
// the server would fail its first heartbeat with "out of range for type
// smallint".
func (c *cluster) nodePort(t *testing.T, membership bool) string {
	t.Helper()
	const low, high = 20000, 32767
	for range 100 {
		var port string
		if membership {
			port = strconv.Itoa(low + rand.IntN(high-low+1))
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
			if err != nil {
				continue
			}
			l.Close()
		} else {
			port = freePort(t)
		}
		if !c.ports[port] {
			c.ports[port] = true
			return port
		}
	}
	t.Fatalf("no free loopback port for a server node (membership port: %v)", membership)
	return ""
}

// onThisHost points a compose DSN (postgres://role:password@postgres:5432/db)
// at the cluster's PostgreSQL.
func (c *cluster) onThisHost(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: DSN %q: %v", composeFile, dsn, err)
	}
	if u.Hostname() != "postgres" {
		t.Fatalf("%s: DSN %q is not on the postgres service", composeFile, u.Redacted())
	}
	u.Host = net.JoinHostPort("127.0.0.1", c.pgPort)
	return u.String()
}

// serviceEnv is the compose service's environment on this host, with
// extra (the caller's) over onOneHost's changes over the compose file's.
func (c *cluster) serviceEnv(t *testing.T, service string, extra map[string]string) map[string]string {
	t.Helper()
	s, ok := c.compose[service]
	if !ok {
		t.Fatalf("%s has no service %s", composeFile, service)
	}
	env := maps.Clone(s.Environment)
	maps.Copy(env, c.onOneHost(t, service))
	maps.Copy(env, extra)
	return env
}

// startPostgres starts PostgreSQL with compose's max_connections and runs
// the init script as the postgres image's docker-entrypoint.sh does on an
// empty data directory: as the superuser, psql over the Unix socket, with
// the service's environment and POSTGRES_DB and PGPASSWORD exported.
func (c *cluster) startPostgres(t *testing.T) {
	t.Helper()
	pg := c.compose["postgres"]
	maxConns := 100 // PostgreSQL's default, when compose sets none
	for i, arg := range pg.Command {
		if v, ok := strings.CutPrefix(arg, "max_connections="); ok && i > 0 && pg.Command[i-1] == "-c" {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: postgres max_connections=%q", composeFile, v)
			}
			maxConns = n
		}
	}
	c.pg = pgtest.Start(t, pgtest.Options{MaxConnections: maxConns})
	var socketDirs string
	err := c.pg.Admin().QueryRow(`SELECT current_setting('port'), current_setting('unix_socket_directories')`).Scan(&c.pgPort, &socketDirs)
	if err != nil {
		t.Fatalf("read PostgreSQL's port and socket: %v", err)
	}
	env := maps.Clone(pg.Environment)
	if env["POSTGRES_DB"] == "" {
		env["POSTGRES_DB"] = env["POSTGRES_USER"] // docker-entrypoint.sh's default
	}
	env["PGPASSWORD"] = env["POSTGRES_PASSWORD"]
	env["PGHOST"], _, _ = strings.Cut(socketDirs, ",")
	env["PGPORT"] = c.pgPort
	script := filepath.Join(repoRoot, initDatabases)
	argv := []string{script} // executed if executable, as the entrypoint does
	if fi, err := os.Stat(script); err != nil {
		t.Fatal(err)
	} else if fi.Mode()&0o111 == 0 {
		argv = []string{"sh", "-c", `set -e; . "$0"`, script} // sourced otherwise
	}
	c.runJob(t, "postgres-init", env, argv...)
}

// newNode prepares node i: its ports and its config, rendered from the
// server image's template with the compose service's environment.
func (c *cluster) newNode(t *testing.T, i int) *node {
	t.Helper()
	n := &node{name: fmt.Sprintf("temporal-%d", i+1), root: t.TempDir()}
	env := c.serviceEnv(t, "temporal", nil)
	n.frontend = net.JoinHostPort(env["BIND_ON_IP"], env["FRONTEND_GRPC_PORT"])
	config := filepath.Join(n.root, "config")
	if err := os.MkdirAll(config, 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.tmpl.Execute(&b, struct{ Env map[string]string }{env}); err != nil {
		t.Fatalf("render %s for %s: %v", serverConfigTmpl, n.name, err)
	}
	// --env docker reads docker.yaml, which the image's entrypoint renders.
	if err := os.WriteFile(filepath.Join(config, "docker.yaml"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	n.env = environ(env)
	return n
}

// startNode starts node i, as the image's start-temporal.sh does, and
// waits until it passes compose's health check. A node that exits first
// is an error, errPortTaken if it could not bind a port.
func (c *cluster) startNode(t *testing.T, i int) error {
	t.Helper()
	n := c.nodes[i]
	n.proc = startProcess(t, n.name, n.env, c.server, "--root", n.root, "--config", "config", "--env", "docker", "start")
	deadline := time.Now().Add(serverStartTimeout)
	for {
		out, err := c.healthCheck(t, c.frontend(i))
		if err == nil {
			return nil
		}
		if n.proc.exited() {
			err := fmt.Errorf("%s exited before it was healthy: %v\n%s", n.name, n.proc.err, n.proc.tail(60))
			if strings.Contains(n.proc.output(), "address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy within %s: %v\n%s", n.name, serverStartTimeout, err, out)
		}
		time.Sleep(500 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

// healthCheck runs the temporal service's health check from the compose
// file, at address instead of the container's own.
func (c *cluster) healthCheck(t *testing.T, address string) (string, error) {
	t.Helper()
	test := c.compose["temporal"].Healthcheck.Test
	if len(test) < 2 || test[0] != "CMD" || test[1] != "temporal" || !slices.Contains(test, "--address") {
		t.Fatalf("%s: the temporal service's health check %q is not `temporal ... --address ADDRESS`: update startCluster", composeFile, test)
	}
	argv := slices.Clone(test[2:])
	argv[slices.Index(argv, "--address")+1] = address
	ctx, cancel := context.WithTimeout(context.Background(), healthCheckTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.cli, argv...).CombinedOutput()
	return string(out), err
}

// frontend is node i's frontend gRPC address.
func (c *cluster) frontend(i int) string { return c.nodes[i].frontend }

// killNode kills node i with SIGKILL, as a crash of its machine would, and
// waits until it is gone.
func (c *cluster) killNode(t *testing.T, i int) {
	t.Helper()
	c.nodes[i].proc.stop(t, syscall.SIGKILL)
}

// restartNode starts node i again on its ports and config, and waits until
// it is healthy and the cluster has every node again.
func (c *cluster) restartNode(t *testing.T, i int) {
	t.Helper()
	if err := c.startNode(t, i); err != nil {
		t.Fatal(err)
	}
	c.waitMembers(t)
}

// storeDSNs are the DSNs compose gives the four services, by variable
// (ORDERSAGA_PAYMENT_DSN...), each with its own role, on this host.
func (c *cluster) storeDSNs(t *testing.T) map[string]string {
	t.Helper()
	dsns := map[string]string{}
	for _, s := range composeWorkers {
		for k, v := range c.compose[s].Environment {
			if strings.HasSuffix(k, "_DSN") {
				dsns[k] = c.onThisHost(t, v)
			}
		}
	}
	return dsns
}

// stores opens the inventory, payment and shipping stores with their
// services' own credentials.
func (c *cluster) stores(t *testing.T) stores {
	t.Helper()
	ctx := context.Background()
	dsns := c.storeDSNs(t)
	inv, err := inventory.Open(ctx, dsns["ORDERSAGA_INVENTORY_DSN"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inv.Close() })
	pay, err := payment.Open(ctx, dsns["ORDERSAGA_PAYMENT_DSN"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pay.Close() })
	shp, err := shipping.Open(ctx, dsns["ORDERSAGA_SHIPPING_DSN"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shp.Close() })
	return stores{inv, pay, shp}
}

// startServiceWorkers starts the four compose services' workers against
// frontend, each with its service's command and environment (JSON logs,
// its own store), and waits until they all poll.
func (c *cluster) startServiceWorkers(t *testing.T, frontend string) map[string]*process {
	t.Helper()
	procs := map[string]*process{}
	for _, s := range composeWorkers {
		procs[s] = c.launchServiceWorker(t, s, frontend)
	}
	for _, p := range procs {
		p.waitOutput(t, "worker started", workerStartTimeout)
	}
	return procs
}

// startServiceWorker starts one compose service's worker against
// frontend, as compose's restart policy starts its container again after
// a crash, and waits until it polls.
func (c *cluster) startServiceWorker(t *testing.T, service, frontend string) *process {
	t.Helper()
	p := c.launchServiceWorker(t, service, frontend)
	p.waitOutput(t, "worker started", workerStartTimeout)
	return p
}

// launchServiceWorker starts the service's worker with its command and
// environment, and does not wait.
func (c *cluster) launchServiceWorker(t *testing.T, service, frontend string) *process {
	t.Helper()
	env := c.serviceEnv(t, service, map[string]string{"TEMPORAL_ADDRESS": frontend})
	return startProcess(t, "worker-"+service, environ(env), workerBin, c.compose[service].Command...)
}

// starter runs the starter against frontend with the compose starter
// service's environment.
func (c *cluster) starter(t *testing.T, frontend string, args ...string) result {
	t.Helper()
	env := c.serviceEnv(t, "starter", map[string]string{"TEMPORAL_ADDRESS": frontend})
	return runCommandEnv(t, environ(env), starterBin, args...)
}

// runJob runs a one-shot job to its end, within jobTimeout, with env over
// this process's environment and the jobs' PATH; its output is kept in a
// log file in t's temporary directory and shown if it fails.
func (c *cluster) runJob(t *testing.T, name string, env map[string]string, argv ...string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), environ(env)...)
	cmd.Env = append(cmd.Env, "PATH="+c.path)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		t.Fatalf("%s (%s): %v\n%s", name, strings.Join(argv, " "), err, out)
	}
}

// waitMembers waits until every running node's view of the cluster has
// every running node in each role's ring.
func (c *cluster) waitMembers(t *testing.T) {
	t.Helper()
	var running []int
	for i, n := range c.nodes {
		if n.proc != nil && !n.proc.exited() {
			running = append(running, i)
		}
	}
	eventually(t, membershipTimeout, fmt.Sprintf("every role's ring has the %d running nodes", len(running)), func() (bool, string) {
		for _, i := range running {
			rings, err := describeRings(c.frontend(i))
			if err != nil {
				return false, fmt.Sprintf("%s: %v", c.nodes[i].name, err)
			}
			for _, role := range []string{"frontend", "history", "matching", "worker"} {
				if rings[role] != len(running) {
					return false, fmt.Sprintf("%s sees %v", c.nodes[i].name, rings)
				}
			}
		}
		return true, ""
	})
}

// describeRings asks the frontend at address for the cluster's membership,
// as `tdbg cluster describe` does (the admin service's DescribeCluster,
// which the temporal CLI does not call), and returns each role's ring's
// member count. The admin service's messages are the server's own, not in
// go.temporal.io/api, so the response is read field by field:
// DescribeClusterResponse.membership_info (3) → MembershipInfo.rings (3) →
// RingInfo.role (1), member_count (2).
func describeRings(address string) (map[string]int, error) {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, resp := []byte{}, []byte{}
	err = conn.Invoke(ctx, "/temporal.server.api.adminservice.v1.AdminService/DescribeCluster", &req, &resp, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return nil, err
	}
	rings := map[string]int{}
	for _, membership := range protoFields(resp, 3) {
		for _, ring := range protoFields(membership, 3) {
			var role string
			var members int
			for _, f := range protoFields(ring, 1) {
				role = string(f)
			}
			for _, f := range protoFields(ring, 2) {
				v, _ := protowire.ConsumeVarint(f)
				members = int(v)
			}
			rings[role] = members
		}
	}
	return rings, nil
}

// protoFields returns the values of field num in an encoded message: the
// bytes of each length-delimited value, or each varint's encoding.
func protoFields(msg []byte, num protowire.Number) [][]byte {
	var out [][]byte
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return out
		}
		msg = msg[l:]
		vl := protowire.ConsumeFieldValue(n, typ, msg)
		if vl < 0 {
			return out
		}
		if n == num {
			switch typ {
			case protowire.BytesType:
				v, _ := protowire.ConsumeBytes(msg)
				out = append(out, v)
			case protowire.VarintType:
				out = append(out, msg[:vl])
			}
		}
		msg = msg[vl:]
	}
	return out
}

// rawCodec passes encoded protobuf messages through gRPC as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = slices.Clone(data)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// composeService is what the cluster reads of a compose service.
type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// loadCompose reads the compose file's services with their values
// interpolated from env, as compose does from .env.
func loadCompose(t *testing.T, env map[string]string) map[string]composeService {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, composeFile))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	for name, s := range f.Services {
		s.Image = interpolate(t, s.Image, env)
		for i := range s.Command {
			s.Command[i] = interpolate(t, s.Command[i], env)
		}
		for k, v := range s.Environment {
			s.Environment[k] = interpolate(t, v, env)
		}
		f.Services[name] = s
	}
	return f.Services
}

// composeVar matches compose's ${NAME}, ${NAME:-default}, ${NAME-default},
// ${NAME:?message}, ${NAME?message} and the escaped dollar $$.
var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate substitutes the compose variables in s from env; a required
// variable that is missing fails t with compose's message.
func interpolate(t *testing.T, s string, env map[string]string) string {
	t.Helper()
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := composeVar.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		v, set := env[name]
		unset := !set || (strings.HasPrefix(op, ":") && v == "")
		switch {
		case !unset || op == "":
			return v
		case strings.HasSuffix(op, "-"):
			return arg
		default:
			t.Fatalf("%s: %s: %s", composeFile, name, arg)
			return ""
		}
	})
}

// testEnv is the .env of the test: every variable that .env.example sets,
// with a test value of the same shape (change-me-orders → e2e-orders).
func testEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, envExampleFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	line := regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=(.*)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			env[m[1]] = "e2e-" + strings.TrimPrefix(m[2], "change-me-")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(env) == 0 {
		t.Fatalf("%s sets no variable", envExampleFile)
	}
	return env
}

// serverTemplate parses the server image's config template: the server
// module's docker/config_template.yaml at the version tools/go.mod pins,
// which must be the compose file's server image's.
func serverTemplate(t *testing.T, image string) *template.Template {
	t.Helper()
	_, tag, _ := strings.Cut(image, ":")
	if v := serverModuleVersion(t); v != "v"+tag {
		t.Fatalf("%s runs %s but tools/go.mod pins go.temporal.io/server %s: move them together", composeFile, image, v)
	}
	path := filepath.Join(serverModuleDir(t), serverConfigTmpl)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the server's config template: %v", err)
	}
	tmpl, err := template.New(filepath.Base(path)).Funcs(dockerizeFuncs).Parse(string(b))
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return tmpl
}

// dockerizeFuncs are the functions config_template.yaml calls, with the
// meanings dockerize (v0.9, template.go), which renders it in the image,
// gives them. Its default takes the value first and the fallback second,
// the opposite of sprig's, and falls back only when the variable is
// unset: one set to "" stays "". trim is sprig's, which dockerize adds.
var dockerizeFuncs = template.FuncMap{
	"default": func(args ...any) (string, error) {
		if len(args) == 0 {
			return "", errors.New("default called with no values")
		}
		if s, ok := args[0].(string); ok {
			return s, nil
		}
		if len(args) < 2 {
			return "", errors.New("default called with no default value")
		}
		s, ok := args[1].(string)
		if !ok {
			return "", errors.New("default is not a string value")
		}
		return s, nil
	},
	"lower": strings.ToLower,
	"split": strings.Split,
	"trim":  strings.TrimSpace,
}

// serverModuleDir is where the Go module cache holds the server module at
// the version tools/go.mod pins.
func serverModuleDir(t *testing.T) string {
	t.Helper()
	dir, _ := serverModule(t)
	return dir
}

func serverModuleVersion(t *testing.T) string {
	t.Helper()
	_, v := serverModule(t)
	return v
}

func serverModule(t *testing.T) (dir, version string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", "go.temporal.io/server")
	cmd.Dir = filepath.Join(repoRoot, "tools")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("find go.temporal.io/server in tools/go.mod: %v", err)
	}
	dir, version, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	if dir == "" {
		t.Fatalf("go.temporal.io/server %s is not in the module cache: run `cd tools && go mod download go.temporal.io/server`", version)
	}
	return dir, version
}

// builtTool is a binary that the Makefile builds into bin/.
func builtTool(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(repoRoot, "bin", name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no %s at %s: build it with 'make bin/%s' (make test does)", name, bin, name)
	}
	return bin
}

// jobPath is a PATH with the given programs first, under the names the
// jobs' scripts call them by, as the admin-tools image has them in
// /usr/local/bin.
func jobPath(t *testing.T, programs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, bin := range programs {
		if err := os.Symlink(bin, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// environ turns env into NAME=value entries, sorted for stable logs.
func environ(env map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}
