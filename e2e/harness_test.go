// Package e2e runs the whole path against a real Temporal dev server: the
// server started by scripts/dev-server.sh from bin/temporal, the worker and
// starter binaries built from this checkout, and the services' SQLite stores
// read back after the orders ended.
package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
	"github.com/ordersaga/ordersaga/internal/platform/proc"
)

var (
	repoRoot   string
	workerBin  string
	starterBin string
)

// TestMain builds the worker and the starter once for all tests.
func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "ordersaga-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	workerBin, starterBin = filepath.Join(dir, "worker"), filepath.Join(dir, "starter")
	for bin, pkg := range map[string]string{workerBin: "./worker", starterBin: "./starter"} {
		cmd := exec.Command("go", "build", "-race", "-o", bin, pkg)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return pgtest.Main(m) // stops the PostgreSQL cluster that a test started
}

// temporalBin is the Temporal CLI that `make bin/temporal` builds.
func temporalBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("TEMPORAL_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot, "bin", "temporal")
	}
	if _, err := os.Stat(bin); err != nil {
		if testing.Short() {
			t.Skipf("no Temporal CLI at %s (-short)", bin)
		}
		t.Fatalf("no Temporal CLI at %s: build it with 'make bin/temporal' (make test does)", bin)
	}
	return bin
}

// Bounds for waiting on processes and orders.
const (
	serverStartTimeout = 90 * time.Second
	workerStartTimeout = 30 * time.Second
	orderTimeout       = 2 * time.Minute
)

// server is a dev server started through scripts/dev-server.sh on free
// loopback ports, with its own database file; stopped when the test ends.
type server struct {
	address string
	uiURL   string
	db      string
	proc    *process
	oc      *orderclient.Client // closed when the test ends
	// env and args start the dev server again on the same ports and
	// database file (restart).
	env, args []string
}

func startServer(t *testing.T) *server {
	t.Helper()
	s := &server{db: filepath.Join(t.TempDir(), "temporal.db")}
	// A free port is free when freePort closes it, not when the dev server
	// binds it: another process's connection may take it in between. Such
	// a start is tried again on other ports.
	for attempt := 1; ; attempt++ {
		err := s.start(t)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			t.Fatal(err)
		}
		t.Logf("dev server start %d: %v; trying other ports", attempt, err)
	}
	c, err := client.Dial(client.Options{HostPort: s.address, Logger: quietLogger{}})
	if err != nil {
		t.Fatalf("dial %s: %v", s.address, err)
	}
	t.Cleanup(c.Close)
	s.oc = &orderclient.Client{Temporal: c, Namespace: "default", UIURL: s.uiURL}
	return s
}

// portAttempts is how many times a server (the dev server, a cluster
// node) is started on new free ports when one of them was taken before it
// could bind it.
const portAttempts = 3

// errPortTaken is a server's exit because another process took one of its
// ports between freePort's look and the server's bind.
var errPortTaken = errors.New("a port was taken before the server bound it")

// start starts the dev server on new free ports and waits until it
// answers.
func (s *server) start(t *testing.T) error {
	t.Helper()
	s.address = "127.0.0.1:" + freePort(t)
	uiPort := freePort(t)
	s.uiURL = "http://localhost:" + uiPort
	_, port, _ := net.SplitHostPort(s.address)
	s.env = []string{
		"TEMPORAL_BIN=" + temporalBin(t), "TEMPORAL_PORT=" + port, "TEMPORAL_UI_PORT=" + uiPort, "TEMPORAL_DB=" + s.db,
	}
	s.args = []string{"--http-port", freePort(t), "--metrics-port", freePort(t)}
	s.proc = startProcess(t, "dev-server", s.env, filepath.Join(repoRoot, "scripts", "dev-server.sh"), s.args...)
	return s.awaitHealthy()
}

// waitHealthy waits until the server answers a health check.
func (s *server) waitHealthy(t *testing.T) {
	t.Helper()
	if err := s.awaitHealthy(); err != nil {
		t.Fatal(err)
	}
}

// awaitHealthy waits until the server answers a health check, and says
// why it did not: errPortTaken if it exited because a port was in use.
func (s *server) awaitHealthy() error {
	deadline := time.Now().Add(serverStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := client.DialContext(ctx, client.Options{HostPort: s.address, Logger: quietLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
		}
		cancel()
		if err == nil {
			return nil
		}
		if s.proc.exited() {
			out := s.proc.output()
			if strings.Contains(out, "address already in use") {
				return fmt.Errorf("dev server exited before it answered: %w:\n%s", errPortTaken, out)
			}
			return fmt.Errorf("dev server exited before it answered:\n%s", out)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dev server did not answer on %s within %s: %v\n%s", s.address, serverStartTimeout, err, s.proc.output())
		}
		time.Sleep(200 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

// crash kills the dev server with SIGKILL, as a crash would, and waits
// until it is gone.
func (s *server) crash(t *testing.T) {
	t.Helper()
	s.proc.stop(t, syscall.SIGKILL)
}

// restart starts the dev server again after a crash, on the same ports and
// database file, and waits until it answers. Clients dialled before (the
// order client, the workers) reconnect by themselves.
func (s *server) restart(t *testing.T) {
	t.Helper()
	s.proc = startProcess(t, "dev-server", s.env, filepath.Join(repoRoot, "scripts", "dev-server.sh"), s.args...)
	s.waitHealthy(t)
}

// orders returns the server's order client.
func (s *server) orders(*testing.T) *orderclient.Client { return s.oc }

// stack is a server plus the services' data directory.
type stack struct {
	*server
	dataDir string
}

func newStack(t *testing.T) *stack {
	return &stack{server: startServer(t), dataDir: filepath.Join(t.TempDir(), "data")}
}

// startWorker starts `worker run` with the given extra flags and waits until
// it polls.
func (s *stack) startWorker(t *testing.T, name string, args ...string) *process {
	t.Helper()
	args = append([]string{"run", "--temporal-address", s.address, "--data-dir", s.dataDir, "--stop-timeout", "2s"}, args...)
	p := startProcess(t, name, nil, workerBin, args...)
	p.waitOutput(t, "worker started", workerStartTimeout)
	return p
}

// result is what a CLI command did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// starter runs the starter against the stack's server.
func (s *stack) starter(t *testing.T, args ...string) result {
	t.Helper()
	return runCommand(t, starterBin, append(args, "--temporal-address", s.address, "--ui-url", s.uiURL)...)
}

// worker runs a worker admin command (stock, audit) against the stack.
func (s *stack) worker(t *testing.T, args ...string) result {
	t.Helper()
	return runCommand(t, workerBin, append(args, "--temporal-address", s.address, "--data-dir", s.dataDir)...)
}

func runCommand(t *testing.T, bin string, args ...string) result {
	t.Helper()
	return runCommandEnv(t, nil, bin, args...)
}

// runCommandEnv runs bin with env (NAME=value) added to the test's
// environment.
func runCommandEnv(t *testing.T, env []string, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), orderTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %s %v: %v", filepath.Base(bin), args, err)
	}
	return r
}

// decode parses a command's JSON output into v.
func decode(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("decode JSON output: %v\n%s", err, r)
	}
}

// stores opens the services' stores in the stack's data directory.
type stores struct {
	inventory *inventory.Store
	payment   *payment.Store
	shipping  *shipping.Store
}

func (s *stack) stores(t *testing.T) stores {
	t.Helper()
	ctx := context.Background()
	inv, err := inventory.Open(ctx, filepath.Join(s.dataDir, inventory.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inv.Close() })
	pay, err := payment.Open(ctx, filepath.Join(s.dataDir, payment.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pay.Close() })
	shp, err := shipping.Open(ctx, filepath.Join(s.dataDir, shipping.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shp.Close() })
	return stores{inv, pay, shp}
}

// contents is everything the three stores hold: every reservation with its
// lines, every charge, every shipment, and the stock of every SKU.
type contents struct {
	Reservations []inventory.Reservation
	Charges      []payment.Charge
	Shipments    []shipping.Shipment
	Products     []inventory.Product
}

// contents reads everything the stores hold.
func (st stores) contents(t *testing.T) contents {
	t.Helper()
	ctx := context.Background()
	var c contents
	var err error
	if c.Reservations, err = st.inventory.Reservations(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Charges, err = st.payment.Charges(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Shipments, err = st.shipping.Shipments(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Products, err = st.inventory.Products(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// listRuns lists the workflow runs that Temporal's visibility shows for
// query: what `starter list` and the audit read.
func (s *server) listRuns(t *testing.T, query string) []*workflowpb.WorkflowExecutionInfo {
	t.Helper()
	var out []*workflowpb.WorkflowExecutionInfo
	var token []byte
	for {
		resp, err := s.oc.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: query, NextPageToken: token,
		})
		if err != nil {
			t.Fatalf("list %q: %v", query, err)
		}
		out = append(out, resp.GetExecutions()...)
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out
		}
	}
}

// waitNoneRunning waits until Temporal lists no order as running: the
// audit reads that list, which catches up with the orders' ends a moment
// after they end.
func (s *server) waitNoneRunning(t *testing.T) {
	t.Helper()
	eventually(t, orderTimeout, "Temporal lists no running order", func() (bool, string) {
		running := s.listRuns(t, fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", ordersaga.OrderWorkflowType))
		var ids []string
		for _, r := range running {
			ids = append(ids, r.GetExecution().GetWorkflowId())
		}
		return len(ids) == 0, strings.Join(ids, ", ")
	})
}

// process is a child process in its own process group, with its combined
// output kept in a file; it is killed (the whole group) when the test ends.
// A test selects on done, then reads err and cmd.ProcessState.
type process struct {
	name  string
	cmd   *exec.Cmd
	done  chan struct{} // closed once it has exited and err is set
	err   error         // how it ended
	child *proc.Process
}

// processGrace is how long a process has to end after a signal before
// its group is killed.
const processGrace = 15 * time.Second

func startProcess(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	child, err := proc.Start(proc.Command{
		Name: name, Path: bin, Args: args, Dir: repoRoot, Env: env, Log: filepath.Join(t.TempDir(), name+".log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, cmd: child.Cmd(), done: make(chan struct{}), child: child}
	go func() {
		<-child.Done()
		p.err = child.Err()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t, syscall.SIGTERM)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.tail(60))
		}
	})
	return p
}

// stop signals the process group and waits for the process to end; a
// process that does not end in time is killed.
func (p *process) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	_ = p.child.Stop(sig, processGrace)
	<-p.done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) output() string { return p.child.Output() }

func (p *process) tail(lines int) string { return p.child.Tail(lines) }

// waitOutput waits until the process has printed text.
func (p *process) waitOutput(t *testing.T, text string, timeout time.Duration) {
	t.Helper()
	if err := p.child.WaitOutput(text, timeout); err != nil {
		t.Fatal(err)
	}
}

// holdWriteLock takes a SQLite database's write lock, as a transaction
// begun with BEGIN IMMEDIATE in another process does, until release is
// called; release rolls back.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(60000)")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		t.Fatalf("open %s: %v", path, err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		conn.Close()
		db.Close()
		t.Fatalf("lock %s: %v", path, err)
	}
	return func() {
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Errorf("unlock %s: %v", path, err)
		}
		conn.Close()
		db.Close()
	}
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// eventually waits until cond holds, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

// quietLogger drops the SDK's logs in tests.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
