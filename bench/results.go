package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// result is one `starter load` run and the CPU it cost.
type result struct {
	workflow    string
	concurrency int
	round       int
	report      loadReport
	exitErr     error
	// CPU used during the run by each process, in cores (1.0 = one core busy).
	serverCPU, workerCPU, starterCPU float64
	workerRSS                        int64 // the worker's peak RSS so far
	// serverWork is the dev server's CPU per workflow by kind of work, in
	// ms, when the round was profiled.
	serverWork map[string]float64
}

func (r result) line() string {
	return fmt.Sprintf("c=%-3d round %d %-8s %4d in %5.1fs: %6.1f/s p50 %6.0fms p99 %6.0fms  cpu server %.2f worker %.2f starter %.2f",
		r.concurrency, r.round, r.workflow, r.report.Total, r.report.Seconds, r.report.PerSecond,
		r.report.Latency.P50, r.report.Latency.P99, r.serverCPU, r.workerCPU, r.starterCPU)
}

// problems says what went wrong in the run: orders that ended otherwise
// than asked, a failed audit, a starter that failed.
func (r result) problems() []string {
	var out []string
	where := fmt.Sprintf("%s c=%d round %d", r.workflow, r.concurrency, r.round)
	if n := len(r.report.Mismatches); n > 0 {
		out = append(out, fmt.Sprintf("%s: %d ended otherwise than asked", where, n))
	}
	if a := r.report.Audit; a != nil && !a.OK {
		out = append(out, fmt.Sprintf("%s: audit failed: %s", where, strings.Join(a.Violations, "; ")))
	}
	if r.workflow == "saga" && r.report.Audit == nil {
		out = append(out, where+": the starter did not audit the stores")
	}
	if r.exitErr != nil && len(out) == 0 {
		out = append(out, fmt.Sprintf("%s: starter load: %v", where, r.exitErr))
	}
	return out
}

// summary is the mean of the rounds of one workflow at one concurrency.
type summary struct {
	perSecond, p50, p99, serverCPU, workerCPU float64
}

func summarize(runs []result, workflow string, c int) summary {
	var s summary
	n := 0
	for _, r := range runs {
		if r.workflow != workflow || r.concurrency != c {
			continue
		}
		n++
		s.perSecond += r.report.PerSecond
		s.p50 += r.report.Latency.P50
		s.p99 += r.report.Latency.P99
		s.serverCPU += r.serverCPU
		s.workerCPU += r.workerCPU
	}
	if n > 0 {
		f := float64(n)
		s = summary{s.perSecond / f, s.p50 / f, s.p99 / f, s.serverCPU / f, s.workerCPU / f}
	}
	return s
}

// writeResults writes the machine, the summary table with the ratios, the
// targets, and every round.
func writeResults(path string, o options, runs []result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark: the order saga against the baseline\n\n")
	fmt.Fprintf(&b, "Written by `make bench` on %s. %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintf(&b, "Each concurrency runs on a fresh dev server and worker: a warm-up of %[3]d of each workflow, then "+
		"%[4]d rounds of each, alternating which goes first; a round is one `starter load` of max(%[1]d, %[2]d × concurrency) workflows. The saga runs orders that ship at once "+
		"(`--mix success=100`: reserve, charge, ship, no cancel window) on SQLite stores; the baseline is three no-op activities. "+
		"Figures are the means of the rounds; CPU is in cores (1.00 = one core busy) over the round's wall time.\n\n",
		o.minOrders, o.ordersPerSlot, o.warmup, o.rounds)
	if len(o.workerArgs) > 0 || len(o.serverArgs) > 0 {
		fmt.Fprintf(&b, "Worker flags: `%s`. Extra dev server flags: `%s`.\n\n", strings.Join(o.workerArgs, " "), strings.Join(o.serverArgs, " "))
	}
	b.WriteString("| concurrency | baseline /s | saga /s | throughput saga/baseline | baseline p50 ms | saga p50 ms | p50 saga/baseline | baseline p99 ms | saga p99 ms | p99 saga/baseline | server CPU (baseline, saga) | worker CPU (baseline, saga) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range o.concurrencies {
		base, saga := summarize(runs, "baseline", c), summarize(runs, "saga", c)
		fmt.Fprintf(&b, "| %d | %.1f | %.1f | **%.2f** | %.0f | %.0f | **%.2f** | %.0f | %.0f | **%.2f** | %.2f, %.2f | %.2f, %.2f |\n",
			c, base.perSecond, saga.perSecond, ratio(saga.perSecond, base.perSecond),
			base.p50, saga.p50, ratio(saga.p50, base.p50), base.p99, saga.p99, ratio(saga.p99, base.p99),
			base.serverCPU, saga.serverCPU, base.workerCPU, saga.workerCPU)
	}
	b.WriteString("\n" + targets(runs, o) + "\n")
	b.WriteString(serverWorkTable(runs, o.concurrencies))
	b.WriteString("## Every round\n\n```\n")
	for _, r := range runs {
		b.WriteString(r.line() + "\n")
	}
	b.WriteString("```\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// serverWorkTable says where the dev server's CPU went, per workflow, by
// kind of work: the mean of the profiled rounds of each workflow at each
// concurrency, and the saga's extra. Empty if no round was profiled.
func serverWorkTable(runs []result, concurrencies []int) string {
	mean := func(workflow string, c int, kind string) float64 {
		sum, n := 0.0, 0
		for _, r := range runs {
			if r.workflow == workflow && r.concurrency == c && r.serverWork != nil {
				sum += r.serverWork[kind]
				n++
			}
		}
		return ratio(sum, float64(n))
	}
	profiled := slices.ContainsFunc(runs, func(r result) bool { return r.serverWork != nil })
	if !profiled {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Where the dev server's CPU goes\n\n"+
		"`--profile`: perf sampled the server's stacks at %d Hz during every round. Milliseconds of server CPU per workflow, the mean of the rounds; "+
		"a sample counts for the first kind of work, in this order, that its stack shows (bench/profile.go), so a request claims the database calls made under it.\n\n", profileHz)
	b.WriteString("| work |")
	for _, c := range concurrencies {
		fmt.Fprintf(&b, " c=%d baseline | c=%d saga | c=%d saga − baseline |", c, c, c)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|---|---|", len(concurrencies)) + "\n")
	kinds := []string{}
	for _, w := range serverWork {
		kinds = append(kinds, w.name)
	}
	totals := make([][2]float64, len(concurrencies))
	for _, kind := range append(kinds, otherWork) {
		fmt.Fprintf(&b, "| %s |", kind)
		for i, c := range concurrencies {
			base, saga := mean("baseline", c, kind), mean("saga", c, kind)
			totals[i][0] += base
			totals[i][1] += saga
			fmt.Fprintf(&b, " %.1f | %.1f | %+.1f |", base, saga, saga-base)
		}
		b.WriteString("\n")
	}
	b.WriteString("| **total** |")
	for _, t := range totals {
		fmt.Fprintf(&b, " **%.1f** | **%.1f** | **%+.1f** |", t[0], t[1], t[1]-t[0])
	}
	b.WriteString("\n\n")
	return b.String()
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// targets judges the runs against the project's targets.
func targets(runs []result, o options) string {
	var lines []string
	check := func(c int, what string, ok func(base, saga summary) (float64, bool)) {
		for _, have := range o.concurrencies {
			if have == c {
				r, met := ok(summarize(runs, "baseline", c), summarize(runs, "saga", c))
				lines = append(lines, fmt.Sprintf("- %s: %.2f, %s", what, r, metWord(met)))
				return
			}
		}
	}
	check(50, "saga throughput at least 0.9 of the baseline's at concurrency 50", func(base, saga summary) (float64, bool) {
		r := ratio(saga.perSecond, base.perSecond)
		return r, r >= 0.9
	})
	check(10, "saga p50 latency at most 1.2 of the baseline's at concurrency 10", func(base, saga summary) (float64, bool) {
		r := ratio(saga.p50, base.p50)
		return r, r <= 1.2
	})
	bad := 0
	for _, r := range runs {
		bad += len(r.problems())
	}
	lines = append(lines, fmt.Sprintf("- orders lost or mis-ended, audit violations: %d runs with problems, %s", bad, metWord(bad == 0)))
	return "Targets:\n\n" + strings.Join(lines, "\n") + "\n"
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// machine describes what the benchmark ran on.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); m != nil {
			cpu = string(m[1])
		}
	}
	server := "unknown"
	if out, err := exec.Command(temporalBin, "--version").Output(); err == nil {
		if m := regexp.MustCompile(`\(([^)]*)\)`).FindSubmatch(out); m != nil {
			server = string(m[1])
		}
	}
	return fmt.Sprintf("Machine: %d cores (%s), %s/%s. Go %s. Temporal CLI %s dev server (%s), SQLite with WAL as `make dev` starts it. Temporal Go SDK %s.",
		runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH, strings.TrimPrefix(runtime.Version(), "go"), requiredVersion("tools/go.mod", "github.com/temporalio/cli"), server, requiredVersion("go.mod", "go.temporal.io/sdk"))
}

// requiredVersion is the version of module that the go.mod file goMod
// requires: the Temporal CLI pinned in tools/go.mod (a CLI built from the
// module proxy reports 0.0.0-DEV itself), the SDK the worker is built with.
func requiredVersion(goMod, module string) string {
	b, err := os.ReadFile(goMod)
	if err != nil {
		return "unknown"
	}
	if m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+(v\S+)`).FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return "unknown"
}
