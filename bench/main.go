// Command bench measures what the order saga costs beyond what the Temporal
// server must do anyway. It starts a fresh dev server tuned as `make dev`
// starts it and one worker with the baseline workflow (three no-op
// activities) for each concurrency, warms both up, then runs the baseline
// and the saga in alternating rounds with `starter load`, and writes a
// table of the saga/baseline ratios for throughput and for p50 and p99
// latency, with the CPU each process used, to a Markdown file. With
// --profile it also samples the dev server's stacks with perf during every
// round and says where the server's CPU went per workflow.
//
// With --variant 'name=worker flags' (repeatable) it compares worker
// configurations: each variant is the saga on a worker started with those
// flags, the rounds rotate the baseline and every variant on the same dev
// server, restarting the worker with the round's flags, and the results
// compare each variant with the baseline and with the first variant
// (bench/variants.go).
//
// With --server cluster (or BENCH_SERVER=cluster) the rounds run on
// docker-compose.yml's Temporal without Docker instead of the dev server:
// temporal-server nodes on PostgreSQL, configured from the compose file
// (internal/cluster), once with each node count of --nodes, and the
// results compare the node counts too (bench/results-cluster.md).
//
// With --open N it instead holds N orders open at once in their cancel
// window on the one worker, lets them all complete, and reports the
// worker's peak RSS.
//
// With --audit N it instead fills fresh stores with N orders that Temporal
// never knew, places a few real ones, and measures the wall time and peak
// RSS of `worker audit` over them all (bench/audit.go).
//
// `make bench`, `make bench-open` and `make bench-audit` run it; see
// docs/performance.md. It needs bin/temporal, bin/worker and
// bin/starter.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	concurrencies []int
	rounds        int
	minOrders     int
	ordersPerSlot int
	warmup        int
	out           string
	workerArgs    []string
	variants      []variant // as given; none runs the saga on the -worker-args worker alone
	serverArgs    []string
	server        string // serverDev or serverCluster
	nodeCounts    []int  // the cluster's node counts to measure, in turn
	nodes         int    // the node count of the runs being measured (cluster)
	keep          bool
	profile       bool

	open       int
	openWindow time.Duration
	openRate   float64
	openOut    string

	audit     int
	auditReal int
	auditRuns int
	auditOut  string
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	conc := fs.String("concurrency", "1,10,50,100", "concurrencies to measure, comma-separated")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of each workflow at each concurrency (alternating baseline and saga; rotating the baseline and the variants)")
	fs.IntVar(&o.minOrders, "min-orders", 200, "at least this many workflows per round")
	fs.IntVar(&o.ordersPerSlot, "orders-per-slot", 8, "workflows per round per unit of concurrency (a round runs max(min-orders, this × concurrency))")
	fs.IntVar(&o.warmup, "warmup", 100, "workflows of each kind run first and not counted")
	fs.StringVar(&o.out, "out", "bench/results.md", "Markdown file for the results")
	workerArgs := fs.String("worker-args", "", "extra flags for `worker run`, space-separated (to try a tuning)")
	fs.Var((*variantFlags)(&o.variants), "variant", "a variant `name=flags`: the saga on a worker started with these flags on top of -worker-args, "+
		"such as 'autoscaling=--pollers autoscaling'; repeat it to compare several, the first being the reference")
	serverArgs := fs.String("server-args", "", "extra flags for `temporal server start-dev`, space-separated")
	fs.StringVar(&o.server, "server", cmp.Or(os.Getenv(serverEnv), serverDev),
		"the Temporal server: dev (the dev server as `make dev` starts it) or cluster (docker-compose.yml's Temporal on PostgreSQL, without Docker; env "+serverEnv+")")
	nodes := fs.String("nodes", "1,2", "with --server cluster: the node counts to measure, comma-separated")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (server database, stores, logs)")
	fs.BoolVar(&o.profile, "profile", false, "sample the dev server's stacks with perf during the rounds and add where its CPU goes to the results")
	fs.IntVar(&o.open, "open", 0, "instead of the rounds, hold this many orders open at once and report the worker's peak RSS")
	fs.DurationVar(&o.openWindow, "open-window", 10*time.Minute, "with --open: the orders' cancel window, longer than placing them all takes")
	fs.Float64Var(&o.openRate, "open-rate", 50, "with --open: orders placed per second")
	fs.StringVar(&o.openOut, "open-out", "bench/open-orders.md", "with --open: Markdown file for the result")
	fs.IntVar(&o.audit, "audit", 0, "instead of the rounds, fill fresh stores with this many orders and measure the time and peak RSS of 'worker audit' over them")
	fs.IntVar(&o.auditReal, "audit-real", 50, "with --audit: real orders placed through a worker as well, so that Temporal knows some")
	fs.IntVar(&o.auditRuns, "audit-runs", 3, "with --audit: how many times to run the audit")
	fs.StringVar(&o.auditOut, "audit-out", "bench/audit.md", "with --audit: Markdown file for the result")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: bench takes only flags (see -h)", fs.Arg(0))
	}
	var err error
	if o.concurrencies, err = positiveList(*conc); err != nil {
		return o, fmt.Errorf("--concurrency %q: give positive whole numbers such as 10,50,100", *conc)
	}
	if o.nodeCounts, err = positiveList(*nodes); err != nil {
		return o, fmt.Errorf("--nodes %q: give node counts such as 1,2", *nodes)
	}
	outSet := false
	fs.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
	switch {
	case o.server != serverDev && o.server != serverCluster:
		return o, fmt.Errorf("--server %q (or %s): give %s or %s", o.server, serverEnv, serverDev, serverCluster)
	case o.server == serverCluster && *serverArgs != "":
		return o, fmt.Errorf("--server-args are the dev server's flags: the cluster takes docker-compose.yml's configuration; leave them out")
	case o.server == serverCluster && (o.open > 0 || o.audit > 0):
		return o, fmt.Errorf("--open and --audit run on the dev server: leave out --server cluster (and %s)", serverEnv)
	case o.server == serverCluster && !outSet:
		o.out = "bench/results-cluster.md"
	}
	switch {
	case o.rounds < 1:
		return o, fmt.Errorf("--rounds is %d: give at least 1", o.rounds)
	case o.open < 0:
		return o, fmt.Errorf("--open is %d: give a number of orders, or 0 for the rounds", o.open)
	case o.open > 0 && (o.openWindow <= 0 || o.openRate <= 0):
		return o, fmt.Errorf("--open needs a positive --open-window and --open-rate")
	case o.audit < 0:
		return o, fmt.Errorf("--audit is %d: give a number of orders, or 0 for the rounds", o.audit)
	case o.audit > 0 && o.open > 0:
		return o, fmt.Errorf("give --open or --audit, not both")
	case o.audit > 0 && (o.auditReal < 1 || o.auditRuns < 1):
		return o, fmt.Errorf("--audit needs at least 1 real order (--audit-real) and 1 run (--audit-runs)")
	case len(o.variants) > 0 && (o.open > 0 || o.audit > 0):
		return o, fmt.Errorf("--variant compares the rounds: leave it out with --open or --audit")
	}
	o.workerArgs = strings.Fields(*workerArgs)
	o.serverArgs = strings.Fields(*serverArgs)
	return o, nil
}

// positiveList parses comma-separated positive whole numbers.
func positiveList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, o options) error {
	if o.audit > 0 {
		return runAuditBench(ctx, o)
	}
	if o.open > 0 {
		env, err := startEnv(ctx, o)
		if err != nil {
			return err
		}
		defer env.close(o.keep)
		return runOpen(ctx, env, o)
	}
	if o.profile {
		if err := checkPerf(); err != nil {
			return err
		}
	}
	var runs []result
	for _, n := range o.setups() {
		o.nodes = n
		for _, c := range o.concurrencies {
			rs, err := runConcurrency(ctx, o, c)
			if err != nil {
				return err
			}
			runs = append(runs, rs...)
		}
	}
	if err := writeResults(o.out, o, runs); err != nil {
		return err
	}
	fmt.Printf("results in %s\n", o.out)
	var failed []string
	for _, r := range runs {
		failed = append(failed, r.problems()...)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d run(s) lost or mis-ended orders or failed the audit:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

// runConcurrency measures one concurrency on a fresh dev server and worker
// (the dev server slows down as its database grows, so each concurrency
// starts from an empty one): a warm-up of each workflow, then the rounds,
// alternating which workflow goes first. With variants, the warm-up and
// the rounds take the baseline and every variant in turn, and the worker
// is started afresh with its flags before every round, so that no round
// inherits a warm worker from the one before it.
func runConcurrency(ctx context.Context, o options, c int) (runs []result, err error) {
	env, err := startEnv(ctx, o)
	if err != nil {
		return nil, err
	}
	defer func() { env.close(o.keep || err != nil) }() // an error names a log in env.dir
	cs := contenders(o.runVariants())
	for _, ct := range cs {
		if err := env.useWorker(ctx, ct.name, ct.workerArgs(o.workerArgs), false); err != nil {
			return nil, err
		}
		fmt.Printf("warm-up: %d %s at concurrency %d\n", o.warmup, ct.name, min(c, 10))
		if _, err := env.load(ctx, ct.workflow, o.warmup, min(c, 10)); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	n := max(o.minOrders, o.ordersPerSlot*c)
	for round := range o.rounds {
		for _, ct := range roundOrder(cs, round) {
			if err := env.useWorker(ctx, ct.name, ct.workerArgs(o.workerArgs), len(o.variants) > 0); err != nil {
				return nil, err
			}
			r, err := measureRound(ctx, env, o.profile, ct, n, c)
			if err != nil {
				return nil, err
			}
			r.round = round + 1
			r.nodes = o.nodes
			fmt.Println(r.line())
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// setups are the node counts the rounds run with, in turn: the cluster's,
// or the dev server's single one (0).
func (o options) setups() []int {
	if o.server == serverCluster {
		return o.nodeCounts
	}
	return []int{0}
}

// runVariants are the variants the rounds run: those given, or the saga
// on the -worker-args worker.
func (o options) runVariants() []variant {
	if len(o.variants) == 0 {
		return []variant{defaultVariant}
	}
	return o.variants
}

// measureRound runs one round of ct, with the dev server's stacks sampled
// if profile is set.
func measureRound(ctx context.Context, env *env, profile bool, ct contender, n, c int) (result, error) {
	if !profile {
		return env.loadAs(ctx, ct, n, c)
	}
	prof, err := startProfile(env.dir, env.serverPIDs(), fmt.Sprintf("%s-c%d", ct.name, c))
	if err != nil {
		return result{}, err
	}
	r, err := env.loadAs(ctx, ct, n, c)
	work, profErr := prof.stop(ctx, n)
	if err != nil {
		return r, err
	}
	r.serverWork = work
	return r, profErr
}
