package e2e

import (
	"context"
	"maps"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	compose "github.com/ordersaga/ordersaga/internal/cluster"
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
	workers := c.startServiceWorkers(t, c.Frontend(0))
	c.placeOrder(t, c.Frontend(0), "cluster-1")

	// A client of the SDK dials one host:port and has no other to fail
	// over to; in compose the clients would find a live node by the
	// service's name. Here they are given node 2's address before node 1
	// goes, and node 2 has to notice that node 1 is gone and take over its
	// history shards and task queues.
	for _, p := range workers {
		p.stop(t, syscall.SIGTERM)
	}
	c.startServiceWorkers(t, c.Frontend(1))
	c.killNode(t, 0)
	c.waitMembers(t)
	c.placeOrder(t, c.Frontend(1), "cluster-2")
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

// clusterOptions are the settings of startCluster.
type clusterOptions struct {
	// nodes is how many server nodes start, each with every role; 0 is 2.
	nodes int
}

// cluster is docker-compose.yml's stack without Docker (internal/cluster)
// as a test drives it: each step fails the test, and the workers and the
// starter are this test binary's processes.
type cluster struct {
	*compose.Cluster
}

// startCluster brings the stack up as `docker compose up` would, up to and
// including the namespace job, and returns when every node answers its
// health check and every role's ring has every node. Everything it starts
// stops when t ends; the files and logs are in t's temporary directory,
// and the nodes' logs are shown when t fails.
func startCluster(t *testing.T, opts clusterOptions) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("the two-node Temporal cluster on PostgreSQL is skipped in -short mode: it takes a minute or more")
	}
	logf := func(format string, args ...any) { t.Logf("cluster: "+format, args...) }
	c, err := compose.Start(t.Context(), compose.Options{Root: repoRoot, Dir: t.TempDir(), Nodes: opts.nodes, Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("stop the cluster: %v", err)
		}
		if t.Failed() {
			for i := range c.Nodes() {
				t.Logf("%s output:\n%s", c.NodeName(i), fileTail(c.NodeLog(i), 60))
			}
		}
	})
	return &cluster{c}
}

// fileTail is the last lines of the file at path.
func fileTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(string(b), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// killNode kills node i with SIGKILL, as a crash of its machine would, and
// waits until it is gone.
func (c *cluster) killNode(t *testing.T, i int) {
	t.Helper()
	if err := c.KillNode(i); err != nil {
		t.Fatal(err)
	}
}

// restartNode starts node i again on its ports and config, and waits until
// it is healthy and the cluster has every node again.
func (c *cluster) restartNode(t *testing.T, i int) {
	t.Helper()
	if err := c.StartNode(t.Context(), i); err != nil {
		t.Fatal(err)
	}
}

// waitMembers waits until every running node's view of the cluster has
// every running node in each role's ring.
func (c *cluster) waitMembers(t *testing.T) {
	t.Helper()
	if err := c.WaitMembers(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// serviceEnv is the compose service's environment on this host, with
// extra over it.
func (c *cluster) serviceEnv(t *testing.T, service string, extra map[string]string) map[string]string {
	t.Helper()
	env, err := c.ServiceEnv(service, extra)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// stores opens the inventory, payment and shipping stores with their
// services' own credentials.
func (c *cluster) stores(t *testing.T) stores {
	t.Helper()
	ctx := context.Background()
	dsns, err := c.StoreDSNs()
	if err != nil {
		t.Fatal(err)
	}
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
	for _, s := range compose.WorkerServices() {
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
	s, err := c.Service(service)
	if err != nil {
		t.Fatal(err)
	}
	env := c.serviceEnv(t, service, map[string]string{compose.EnvAddress: frontend})
	return startProcess(t, "worker-"+service, compose.Environ(env), workerBin, s.Command...)
}

// starter runs the starter against frontend with the compose starter
// service's environment.
func (c *cluster) starter(t *testing.T, frontend string, args ...string) result {
	t.Helper()
	env := c.serviceEnv(t, "starter", map[string]string{compose.EnvAddress: frontend})
	return runCommandEnv(t, compose.Environ(env), starterBin, args...)
}
