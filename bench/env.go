package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/cluster"
	"github.com/ordersaga/ordersaga/internal/platform/proc"
)

// Paths of the programs the benchmark runs, from the repository's root.
const (
	temporalBin = "bin/temporal"
	workerBin   = "bin/worker"
	starterBin  = "bin/starter"
	devServer   = "scripts/dev-server.sh"
)

// benchSKU is the product the load's orders buy; the benchmark stocks it
// for every order it will place.
const (
	benchSKU   = "STICKER-PACK"
	benchStock = 10_000_000
)

// env is a Temporal server (a dev server, or the compose stack's cluster)
// and a worker, on a fresh database and fresh stores.
type env struct {
	dir     string
	address string
	server  *proc.Process    // the dev server; nil on a cluster
	cluster *cluster.Cluster // the compose stack's cluster; nil on a dev server
	worker  *proc.Process
	base    []string // environment of the worker and starter

	workerArgs []string // the running worker's flags after `run --benchmark-baseline`
	starts     int      // workers started so far, which names their logs
}

func startEnv(ctx context.Context, o options) (*env, error) {
	if err := checkBinaries(); err != nil {
		return nil, err
	}
	if o.server == serverCluster {
		if err := checkClusterBinaries(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "ordersaga-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir}
	if o.server == serverCluster {
		err = e.startCluster(ctx, o.nodes)
	} else {
		err = e.startServer(ctx, o.serverArgs)
	}
	if err != nil {
		e.close(true)
		return nil, err
	}
	if err := e.startWorker(ctx, o.workerArgs); err != nil {
		e.close(true)
		return nil, err
	}
	return e, nil
}

// checkBinaries checks that the programs the benchmark runs are built.
func checkBinaries() error {
	for _, p := range []string{temporalBin, workerBin, starterBin} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: run bench from the repository's root after `make build bin/temporal` (the make targets do both)", p)
		}
	}
	return nil
}

func (e *env) startServer(ctx context.Context, extra []string) error {
	ports := make([]string, 4)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return err
		}
		ports[i] = p
	}
	e.address = "127.0.0.1:" + ports[0]
	env := []string{"TEMPORAL_BIN=" + temporalBin, "TEMPORAL_PORT=" + ports[0], "TEMPORAL_UI_PORT=" + ports[1],
		"TEMPORAL_DB=" + filepath.Join(e.dir, "temporal.db")}
	args := append([]string{"--http-port", ports[2], "--metrics-port", ports[3]}, extra...)
	var err error
	if e.server, err = start(e.dir, "dev-server", env, devServer, args...); err != nil {
		return err
	}
	fmt.Printf("dev server on %s (metrics on :%s), log %s\n", e.address, ports[3], e.server.Log())
	return waitFor(ctx, "the dev server answered", e.server, time.Minute, func(ctx context.Context) error {
		return exec.CommandContext(ctx, temporalBin, "operator", "cluster", "health", "--address", e.address).Run()
	})
}

// startWorker stocks the product the load buys, then starts the worker
// with extra flags and waits until it polls.
func (e *env) startWorker(ctx context.Context, extra []string) error {
	e.base = []string{"TEMPORAL_ADDRESS=" + e.address, "ORDERSAGA_DATA_DIR=" + filepath.Join(e.dir, "data"), "ORDERSAGA_LOG_LEVEL=warn"}
	if out, err := e.command(ctx, workerBin, "stock", "set", benchSKU, strconv.Itoa(benchStock)).CombinedOutput(); err != nil {
		return fmt.Errorf("stock %s: %v: %s", benchSKU, err, out)
	}
	return e.launchWorker(ctx, "worker", extra)
}

// useWorker makes the running worker one started with args, for the
// contender named name: it restarts the worker if its flags differ, or
// always if fresh. The stores stay: only the process changes.
func (e *env) useWorker(ctx context.Context, name string, args []string, fresh bool) error {
	if !fresh && slices.Equal(e.workerArgs, args) && !e.worker.Exited() {
		return nil
	}
	stop(e.worker)
	fmt.Printf("worker for %s: `%s`\n", name, strings.Join(append([]string{"worker", "run", "--benchmark-baseline"}, args...), " "))
	logName := fmt.Sprintf("worker-%d-%s", e.starts+1, name)
	if err := e.launchWorker(ctx, logName, args); err != nil {
		return fmt.Errorf("%s's worker (flags %q): %w%s", name, strings.Join(args, " "), err, lastLogLine(filepath.Join(e.dir, logName+".log")))
	}
	return nil
}

// launchWorker starts `worker run --benchmark-baseline` with extra flags,
// its output in name.log, and waits until it polls.
func (e *env) launchWorker(ctx context.Context, name string, extra []string) error {
	args := append([]string{"run", "--benchmark-baseline"}, extra...)
	var err error
	if e.worker, err = start(e.dir, name, e.base, workerBin, args...); err != nil {
		return err
	}
	e.starts++
	e.workerArgs = slices.Clone(extra)
	// The worker is up once it has answered a baseline workflow; it starts
	// the baseline's task queue after every service's.
	return waitFor(ctx, "the worker ran a baseline workflow", e.worker, time.Minute, func(ctx context.Context) error {
		_, err := e.load(ctx, "baseline", 1, 1)
		return err
	})
}

// lastLogLine is the last line a process wrote to its log, such as the
// worker's refusal of a flag, to end an error with; empty if none.
func lastLogLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return ": " + last
	}
	return ""
}

func (e *env) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), e.base...)
	return cmd
}

func (e *env) close(keep bool) {
	stop(e.worker)
	stop(e.server)
	if e.cluster != nil {
		if err := e.cluster.Close(); err != nil {
			fmt.Printf("stop the cluster: %v\n", err)
		}
	}
	if keep {
		fmt.Printf("kept %s\n", e.dir)
		return
	}
	os.RemoveAll(e.dir)
}

// loadReport is the part of `starter load -o json` the benchmark reads.
type loadReport struct {
	Total       int     `json:"total"`
	PerSecond   float64 `json:"per_second"`
	Seconds     float64 `json:"duration_seconds"`
	MaxInFlight int     `json:"max_in_flight"`
	Latency     struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latency_ms"`
	// Answer is the time to each order's answer to its placement (its
	// reservation or refusal); nil when no order answered (the baseline).
	Answer     *answerStats      `json:"answer_ms"`
	Mismatches []json.RawMessage `json:"mismatches"`
	Audit      *auditResult      `json:"audit"`
}

// answerStats are the percentiles of the times to the placements'
// answers, in milliseconds.
type answerStats struct {
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Count int     `json:"count"`
}

// auditResult is the audit the starter ran after a saga run.
type auditResult struct {
	OK         bool     `json:"ok"`
	Violations []string `json:"violations"`
}

// loadAs runs a round of ct: `starter load` of its workflow, the result
// named after it.
func (e *env) loadAs(ctx context.Context, ct contender, n, c int) (result, error) {
	r, err := e.load(ctx, ct.workflow, n, c)
	r.name = ct.name
	return r, err
}

// load runs `starter load` for n workflows at concurrency c (orders that
// ship at once for the saga) and measures the CPU each process used.
func (e *env) load(ctx context.Context, workflow string, n, c int, extra ...string) (result, error) {
	args := []string{"load", "-o", "json", "--workflow", workflow, "--orders", strconv.Itoa(n), "--concurrency", strconv.Itoa(c)}
	if workflow == "saga" {
		args = append(args, "--mix", "success=100")
	}
	args = append(args, extra...)
	before, err := e.cpu()
	if err != nil {
		return result{}, err
	}
	cmd := e.command(ctx, starterBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	after, err := e.cpu()
	if err != nil {
		return result{}, err
	}
	r := result{workflow: workflow, concurrency: c}
	if err := json.Unmarshal(stdout.Bytes(), &r.report); err != nil {
		return result{}, fmt.Errorf("starter %v: %v: %s%s", args, runErr, stdout.Bytes(), stderr.Bytes())
	}
	r.exitErr = runErr
	wall := time.Duration(r.report.Seconds * float64(time.Second))
	if wall > 0 {
		r.serverCPU = float64(after.server-before.server) / float64(wall)
		r.dbCPU = float64(after.db-before.db) / float64(wall)
		r.workerCPU = float64(after.worker-before.worker) / float64(wall)
		if st := cmd.ProcessState; st != nil {
			r.starterCPU = float64(st.UserTime()+st.SystemTime()) / float64(wall)
		}
	}
	r.workerRSS, _ = peakRSS(e.worker.PID())
	return r, nil
}

// cpuSample is the CPU time used so far by the Temporal server (every
// node of a cluster), its database (PostgreSQL's processes on a cluster;
// the dev server's SQLite is in its own process) and the worker.
type cpuSample struct{ server, db, worker time.Duration }

func (e *env) cpu() (cpuSample, error) {
	var s cpuSample
	for _, pid := range e.serverPIDs() {
		t, err := cpuTime(pid)
		if err != nil {
			return s, fmt.Errorf("server CPU: %w", err)
		}
		s.server += t
	}
	var err error
	if e.cluster != nil {
		if s.db, err = treeCPU(e.cluster.PostgresPID()); err != nil {
			return s, fmt.Errorf("PostgreSQL CPU: %w", err)
		}
	}
	if e.worker != nil {
		if s.worker, err = cpuTime(e.worker.PID()); err != nil {
			return s, fmt.Errorf("worker CPU: %w", err)
		}
	}
	return s, nil
}
