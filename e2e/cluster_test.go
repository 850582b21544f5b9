package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	compose "github.com/ordersaga/ordersaga/internal/cluster"
	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestClusterTwoNodes runs orders on the production-shaped stack of
// docker-compose.yml, brought up from its own files without Docker: a
// two-node Temporal cluster on PostgreSQL and one worker per service,
// with a key file and a codec token in its .env, as compose always has,
// so that every payload is encrypted and the codec server runs. An order completes; the workers
// and the starter move to node 2 and node 1 is killed with SIGKILL;
// another order completes on node 2 alone; node 1 comes back and the
// cluster has two members again. Each order leaves one captured charge in
// the payment service's database; Temporal's database holds neither
// order's payment token nor its address, and the Temporal CLI reads both
// through the codec server with its token, and not without it.
func TestClusterTwoNodes(t *testing.T) {
	env, token := encryptedEnv(t)
	c := startCluster(t, clusterOptions{env: env})
	codecURL := c.startCodecServer(t)
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
	// An activity's type is in clear, so the search can find what is.
	if n := c.historyRowsHolding(t, "ReserveStock"); n == 0 {
		t.Errorf("no row of Temporal's history in PostgreSQL holds the activity type ReserveStock, which is never encrypted: the search is blind")
	}
	for _, secret := range []string{"tok_visa", shipTo} {
		if n := c.historyRowsHolding(t, secret); n != 0 {
			t.Errorf("%d rows of Temporal's history in PostgreSQL hold %q in clear", n, secret)
		}
	}
	c.assertCodecServerReads(t, c.Frontend(0), "order-cluster-1", codecURL, token, "tok_visa", shipTo)
}

// payloadData is every payload's data in a history that `temporal
// workflow show -o json` printed, one after the other: the CLI prints
// each as base64, decoded by the codec server if it was given one.
func payloadData(t *testing.T, r result) string {
	t.Helper()
	if r.code != 0 {
		return ""
	}
	var history any
	if err := json.Unmarshal([]byte(r.stdout), &history); err != nil {
		t.Fatalf("temporal workflow show -o json: %v: %s", err, r)
	}
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "data" {
					raw, _ := base64.StdEncoding.DecodeString(s)
					b.Write(raw)
					b.WriteByte('\n')
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(history)
	return b.String()
}

// encryptedEnv is the stack's test .env as an operator fills it in: the
// key file that compose mounts into every process as its codec-keys
// secret, new and mode 0600 as `worker codec-key add` writes it, and a
// bearer token for the codec server.
func encryptedEnv(t *testing.T) (env map[string]string, token string) {
	t.Helper()
	env, err := compose.TestEnv(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	key, err := codec.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "codec-keys")
	if _, err := codec.AddKeyToFile(keyFile, key); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	token = hex.EncodeToString(b)
	env[compose.EnvCodecKeyFile], env[codecTokenEnv] = keyFile, token
	return env, token
}

// codecTokenEnv is the codec server's bearer token, in .env and in its
// environment.
const codecTokenEnv = "ORDERSAGA_CODEC_TOKEN"

// startCodecServer starts compose's codec server, with its command and
// environment, on a loopback port, and returns its URL.
func (c *cluster) startCodecServer(t *testing.T) string {
	t.Helper()
	cmd, err := c.ServiceCommand(compose.CodecServer)
	if err != nil {
		t.Fatal(err)
	}
	env := c.serviceEnv(t, compose.CodecServer, nil)
	p := startProcess(t, compose.CodecServer, compose.Environ(env), workerBin, cmd...)
	p.waitOutput(t, "codec server listening", workerStartTimeout)
	return "http://" + cmd[slices.Index(cmd, "--listen")+1]
}

// historyRowsHolding counts the rows of Temporal's history in its
// PostgreSQL database whose events hold secret in clear, connecting as
// the temporal service does.
func (c *cluster) historyRowsHolding(t *testing.T, secret string) int {
	t.Helper()
	env := c.serviceEnv(t, "temporal", nil)
	dsn := (&url.URL{Scheme: "postgres", User: url.UserPassword(env["POSTGRES_USER"], env["POSTGRES_PWD"]),
		Host: net.JoinHostPort(env["POSTGRES_SEEDS"], env["DB_PORT"]), Path: env["DBNAME"], RawQuery: "sslmode=disable"}).String()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, n int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM history_node`).Scan(&rows); err != nil || rows == 0 {
		t.Fatalf("read Temporal's history in PostgreSQL: %d rows, %v", rows, err)
	}
	err = db.QueryRowContext(t.Context(), `SELECT count(*) FROM history_node WHERE position($1::bytea in data) > 0`, []byte(secret)).Scan(&n)
	if err != nil {
		t.Fatalf("search Temporal's history in PostgreSQL: %v", err)
	}
	return n
}

// assertCodecServerReads shows workflowID's history with the Temporal
// CLI, as docs/production.md tells an operator to: through the codec
// server with its token the secrets (its payment token, its address) are
// there in clear; with a wrong token the CLI fails, and without the codec
// server they are not there.
func (c *cluster) assertCodecServerReads(t *testing.T, frontend, workflowID, codecURL, token string, secrets ...string) {
	t.Helper()
	ns, err := c.Namespace()
	if err != nil {
		t.Fatal(err)
	}
	show := []string{"workflow", "show", "--address", frontend, "--namespace", ns, "-w", workflowID, "-o", "json"}
	holds := func(r result) bool {
		data := payloadData(t, r)
		return slices.ContainsFunc(secrets, func(s string) bool { return strings.Contains(data, s) })
	}
	r := runCommand(t, temporalBin(t), append(show, "--codec-endpoint", codecURL, "--codec-auth", "Bearer "+token)...)
	for _, secret := range secrets {
		if r.code != 0 || !strings.Contains(payloadData(t, r), secret) {
			t.Errorf("temporal workflow show %s through the codec server: exit %d, want %q in clear: %s", workflowID, r.code, secret, r)
		}
	}
	r = runCommand(t, temporalBin(t), append(show, "--codec-endpoint", codecURL, "--codec-auth", "Bearer wrong-"+token)...)
	if r.code == 0 {
		t.Errorf("temporal workflow show with a wrong codec token succeeded: %s", r)
	}
	r = runCommand(t, temporalBin(t), show...)
	if r.code != 0 || holds(r) {
		t.Errorf("temporal workflow show %s without the codec server: exit %d, want the history without %q: %s", workflowID, r.code, secrets, r)
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
	// env is the stack's .env; nil is compose.TestEnv's.
	env map[string]string
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
	c, err := compose.Start(t.Context(), compose.Options{Root: repoRoot, Dir: t.TempDir(), Nodes: opts.nodes, Env: opts.env, Logf: logf})
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
