package e2e

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga"
	compose "github.com/ordersaga/ordersaga/internal/cluster"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
)

// The environment that sizes TestRehearsal. The default is what `make
// test` runs: a couple of minutes on two cores.
const (
	rehearsalOrdersEnv      = "ORDERSAGA_REHEARSAL_ORDERS"       // orders to place (default 60)
	rehearsalSeedEnv        = "ORDERSAGA_REHEARSAL_SEED"         // seed of the orders and the faults (default: the clock)
	rehearsalRateEnv        = "ORDERSAGA_REHEARSAL_RATE"         // orders placed per second at most (default 2)
	rehearsalNodeKillsEnv   = "ORDERSAGA_REHEARSAL_NODE_KILLS"   // server node kills (default 1)
	rehearsalWorkerKillsEnv = "ORDERSAGA_REHEARSAL_WORKER_KILLS" // worker process kills (default 1)
)

// TestRehearsal is the production rehearsal: the fault test's orders of
// every kind (chaosKinds), streamed through the starter's client against
// docker-compose.yml's stack (two Temporal nodes on PostgreSQL, one worker
// process per service, each with its own database), while a Temporal node
// is killed with SIGKILL and started again once the other has taken over,
// and a worker process is killed and started again, as compose's restart
// policy would. Every client reaches the cluster through a forwarder that
// stands for compose's service name. Then it judges the orders as TestChaos
// does (every order ended as its kind requires, none lost, none charged
// twice, the stock adds up), runs `worker audit` as compose's audit service
// would, and prints one line of figures.
func TestRehearsal(t *testing.T) {
	if testing.Short() {
		t.Skip("the rehearsal on the two-node cluster takes minutes (-short)")
	}
	started := time.Now()
	cfg := rehearsalConfigFromEnv(t)
	t.Logf("rehearsal: seed=%d orders=%d rate=%g/s node_kills=%d worker_kills=%d (%s=%d repeats the plan)",
		cfg.seed, cfg.orders, cfg.rate, cfg.serverRestarts, cfg.workerKills, rehearsalSeedEnv, cfg.seed)

	env, token := encryptedEnv(t)
	c := startCluster(t, clusterOptions{env: env})
	codecURL := c.startCodecServer(t)
	// The test's own clients (its order client, `worker audit`) take the
	// stack's key file as compose's starter and audit services do.
	t.Setenv(connect.CodecKeyFileEnv, c.serviceEnv(t, "starter", nil)[compose.EnvCodecKeyFile])
	fwd := startForwarder(t, c.Frontends()...)
	r := newRehearsal(t, c, fwd, rand.New(rand.NewPCG(cfg.seed, 2)))
	st := c.stores(t)
	oc := c.orderClient(t, fwd.addr())
	orders := planOrders(rand.New(rand.NewPCG(cfg.seed, 1)), cfg.orders)

	d := &chaosDriver{oc: oc}
	placing := d.start(t.Context(), orders, cfg.rate)
	r.run(r.plan(cfg), &d.placed, placing)
	<-placing
	settle(t.Context(), oc, orders, chaosSettleTimeout)

	tally := judge(t, st, orders, r.lastEnd)
	t.Log(r.figures(tally, cfg, time.Since(started)))
	tally.report(t, fwd.addr(), r.log)
	if !t.Failed() { // report shows them otherwise
		t.Logf("faults:\n  %s", strings.Join(r.log, "\n  "))
	}
	assertAuditJudged(t, c.auditStack(t, fwd.addr(), oc), tally.ended, tally.reused)
	c.assertSealed(t, fwd.addr(), orders[0], codecURL, token)
}

// assertSealed checks that Temporal's database holds none of the orders'
// payment tokens and addresses in clear, and that the Temporal CLI reads
// those of o through the codec server.
func (c *cluster) assertSealed(t *testing.T, address string, o *chaosOrder, codecURL, token string) {
	t.Helper()
	secrets := map[string]bool{shipTo: true}
	for _, k := range chaosKinds {
		secrets[k.token] = true
	}
	for secret := range secrets {
		if n := c.historyRowsHolding(t, secret); n != 0 {
			t.Errorf("%d rows of Temporal's history in PostgreSQL hold %q in clear", n, secret)
		}
	}
	c.assertCodecServerReads(t, address, ordersaga.WorkflowID(o.order.ID), codecURL, token, o.order.PaymentToken, o.order.Address)
}

// rehearsalConfigFromEnv sizes the rehearsal; its serverRestarts are node
// kills, and it injects no store faults (the stores are PostgreSQL's).
func rehearsalConfigFromEnv(t *testing.T) chaosConfig {
	t.Helper()
	c := chaosConfig{
		seed:           envSeed(t, rehearsalSeedEnv),
		orders:         envInt(t, rehearsalOrdersEnv, 60),
		serverRestarts: envInt(t, rehearsalNodeKillsEnv, 1),
		workerKills:    envInt(t, rehearsalWorkerKillsEnv, 1),
		rate:           float64(envInt(t, rehearsalRateEnv, 2)),
	}
	if c.orders < 1 || c.rate <= 0 {
		t.Fatalf("%s=%d, %s=%g: both must be positive", rehearsalOrdersEnv, c.orders, rehearsalRateEnv, c.rate)
	}
	return c
}

// orderClient dials the cluster at address, in the namespace compose's
// starter service uses, and returns the starter's order client over it,
// which encrypts and decrypts with the key ring in this process's
// environment, as the starter's does.
func (c *cluster) orderClient(t *testing.T, address string) *orderclient.Client {
	t.Helper()
	ns, err := c.Namespace()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := (&connect.Flags{Address: address, Namespace: ns}).Options(nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = quietLogger{}
	tc, err := client.Dial(opts)
	if err != nil {
		t.Fatalf("dial the cluster at %s: %v", address, err)
	}
	t.Cleanup(tc.Close)
	return &orderclient.Client{Temporal: tc, Namespace: ns}
}

// auditStack is the cluster as assertAuditJudged reads it: a stack whose
// server is the cluster at address, and whose worker commands find the
// stores where compose's audit service does, with its read-only
// credentials, in the environment as compose gives them (a DSN wins over
// the stack's empty data directory).
func (c *cluster) auditStack(t *testing.T, address string, oc *orderclient.Client) *stack {
	t.Helper()
	for k, v := range c.serviceEnv(t, "audit", nil) {
		if strings.HasSuffix(k, "_DSN") {
			t.Setenv(k, v)
		}
	}
	return &stack{server: &server{address: address, oc: oc}, dataDir: t.TempDir()}
}

// rehearsal injects the faults into the cluster on the fault test's
// schedule. It runs on the test's goroutine: it starts processes and may
// fail the test.
type rehearsal struct {
	faultSchedule
	t       *testing.T
	c       *cluster
	fwd     *forwarder
	workers map[string]*process // by compose service

	nodeKills, workerKills int
}

// newRehearsal starts the services' workers, which reach the cluster
// through the forwarder.
func newRehearsal(t *testing.T, c *cluster, fwd *forwarder, rng *rand.Rand) *rehearsal {
	t.Helper()
	return &rehearsal{faultSchedule: faultSchedule{rng: rng}, t: t, c: c, fwd: fwd, workers: c.startServiceWorkers(t, fwd.addr())}
}

// plan spreads the node kills (serverCrash) and worker kills over the
// stream of orders.
func (r *rehearsal) plan(cfg chaosConfig) []plannedFault {
	kinds := slices.Repeat([]faultKind{serverCrash}, cfg.serverRestarts)
	kinds = append(kinds, slices.Repeat([]faultKind{workerKill}, cfg.workerKills)...)
	return planFaults(r.rng, cfg.orders, kinds)
}

// run injects the planned faults into the cluster, as faultSchedule.run
// does.
func (r *rehearsal) run(plan []plannedFault, placed *placedCount, placing <-chan struct{}) {
	r.faultSchedule.run(r, plan, placed, placing)
}

func (r *rehearsal) inject(kind faultKind) string {
	if kind == serverCrash {
		return r.killNode()
	}
	return r.killWorker()
}

// killNode kills a node with SIGKILL, waits until the other has dropped it
// from every ring (and so taken over its history shards and task queues),
// and starts it again. The first kill takes node 1, which the forwarder
// prefers and every client is connected to; the next ones go round.
func (r *rehearsal) killNode() string {
	i := r.nodeKills % r.c.Nodes()
	victim := r.c.Frontend(i)
	before := r.elsewhere(victim)
	r.c.killNode(r.t, i)
	down := time.Now()
	r.c.waitMembers(r.t)
	takeover := time.Since(down)
	reconnected := r.elsewhere(victim) - before
	if reconnected == 0 {
		r.t.Errorf("no client reconnected to a live node through the forwarder while %s was down", r.c.NodeName(i))
	}
	r.pause(time.Second, 3*time.Second)
	r.c.restartNode(r.t, i)
	r.nodeKills++
	return fmt.Sprintf("killed %s; %d connection(s) moved to the other node(s); it had its shards after %s; %s back after %s",
		r.c.NodeName(i), reconnected, takeover.Round(100*time.Millisecond), r.c.NodeName(i),
		time.Since(down).Round(100*time.Millisecond))
}

// elsewhere counts the connections forwarded to the nodes other than the
// one at frontend.
func (r *rehearsal) elsewhere(frontend string) int {
	n := 0
	for _, f := range r.c.Frontends() {
		if f != frontend {
			n += r.fwd.connections(f)
		}
	}
	return n
}

// killWorker kills one service's worker process with SIGKILL and starts it
// again after a pause in which its task queue may have no worker.
func (r *rehearsal) killWorker() string {
	services := compose.WorkerServices()
	service := services[r.rng.IntN(len(services))]
	r.workers[service].stop(r.t, syscall.SIGKILL)
	r.pause(0, 3*time.Second)
	r.workers[service] = r.c.startServiceWorker(r.t, service, r.fwd.addr())
	r.workerKills++
	return "killed and restarted the " + service + " worker"
}

// restartExited starts again any worker or node that exited without being
// killed, which is a failure: each must ride out the faults.
func (r *rehearsal) restartExited() {
	for _, service := range compose.WorkerServices() {
		if p := r.workers[service]; p.exited() {
			r.t.Errorf("the %s worker exited by itself (%v):\n%s", service, p.err, p.tail(20))
			r.workers[service] = r.c.startServiceWorker(r.t, service, r.fwd.addr())
		}
	}
	for i := range r.c.Nodes() {
		if exited, err := r.c.NodeExit(i); exited {
			r.t.Errorf("%s exited by itself (%v):\n%s", r.c.NodeName(i), err, fileTail(r.c.NodeLog(i), 20))
			r.c.restartNode(r.t, i)
		}
	}
}

// figures is the rehearsal's one line of figures, shaped as the fault
// test's.
func (r *rehearsal) figures(tl *chaosTally, cfg chaosConfig, elapsed time.Duration) string {
	return fmt.Sprintf("rehearsal: orders=%d server_node_kills=%d worker_kills=%d lost_orders=%d double_charges=%d "+
		"stock_drift=%d wrong_endings=%d longest_after_last_fault=%.1fs late_cancels_in_order=%d reused_ids=%d seed=%d elapsed=%s",
		cfg.orders, r.nodeKills, r.workerKills, tl.losses["lost_orders"], tl.losses["double_charges"],
		tl.losses["stock_drift"], tl.losses["wrong_endings"], tl.longestAfterLastFault.Seconds(), tl.lateInOrder, tl.reused,
		cfg.seed, elapsed.Round(100*time.Millisecond))
}
