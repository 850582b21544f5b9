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
	name        string // the contender: the baseline or a variant; the workflow's if empty
	concurrency int
	round       int
	nodes       int // the cluster's node count; 0 on the dev server
	report      loadReport
	exitErr     error
	// CPU used during the run by each process, in cores (1.0 = one core busy).
	serverCPU, workerCPU, starterCPU float64
	// dbCPU is PostgreSQL's, on a cluster: every node's history, task
	// queues and visibility live there, where the dev server's SQLite is
	// inside its own process (and its serverCPU).
	dbCPU     float64
	workerRSS int64 // the worker's peak RSS so far
	// serverWork is the dev server's CPU per workflow by kind of work, in
	// ms, when the round was profiled.
	serverWork map[string]float64
}

// label names the round's contender: "baseline" or a variant's name.
func (r result) label() string {
	if r.name != "" {
		return r.name
	}
	return r.workflow
}

func (r result) line() string {
	l := ""
	if r.nodes > 0 {
		l = fmt.Sprintf("nodes=%d ", r.nodes)
	}
	l += fmt.Sprintf("c=%-3d round %d %-8s %4d in %5.1fs: %6.1f/s p50 %6.0fms p99 %6.0fms  cpu server %.2f worker %.2f starter %.2f",
		r.concurrency, r.round, r.label(), r.report.Total, r.report.Seconds, r.report.PerSecond,
		r.report.Latency.P50, r.report.Latency.P99, r.serverCPU, r.workerCPU, r.starterCPU)
	if r.nodes > 0 {
		l += fmt.Sprintf(" postgres %.2f", r.dbCPU)
	}
	if a := r.report.Answer; a != nil {
		l += fmt.Sprintf("  answer p50 %.0fms p99 %.0fms", a.P50, a.P99)
	}
	return l
}

// problems says what went wrong in the run: orders that ended otherwise
// than asked, a failed audit, a starter that failed.
func (r result) problems() []string {
	var out []string
	where := fmt.Sprintf("%s c=%d round %d", r.label(), r.concurrency, r.round)
	if r.nodes > 0 {
		where = fmt.Sprintf("%d node(s) %s", r.nodes, where)
	}
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

// summary is the mean of the rounds of one contender at one concurrency.
type summary struct {
	perSecond, p50, p99, serverCPU, workerCPU, dbCPU float64
	// answerP50 and answerP99 are the means of the times to the
	// placements' answers over the rounds that had answers (answered of
	// them; none for the baseline).
	answerP50, answerP99 float64
	answered             int
}

func summarize(runs []result, name string, c int) summary {
	var s summary
	n := 0
	for _, r := range runs {
		if r.label() != name || r.concurrency != c {
			continue
		}
		n++
		s.perSecond += r.report.PerSecond
		s.p50 += r.report.Latency.P50
		s.p99 += r.report.Latency.P99
		s.serverCPU += r.serverCPU
		s.workerCPU += r.workerCPU
		s.dbCPU += r.dbCPU
		if a := r.report.Answer; a != nil {
			s.answered++
			s.answerP50 += a.P50
			s.answerP99 += a.P99
		}
	}
	if n > 0 {
		f := float64(n)
		s.perSecond, s.p50, s.p99, s.serverCPU, s.workerCPU, s.dbCPU = s.perSecond/f, s.p50/f, s.p99/f, s.serverCPU/f, s.workerCPU/f, s.dbCPU/f
	}
	if s.answered > 0 {
		f := float64(s.answered)
		s.answerP50, s.answerP99 = s.answerP50/f, s.answerP99/f
	}
	return s
}

// answerCell gives the time to the answers as "p50 / p99" in ms, or a dash
// for a contender whose orders do not answer (the baseline).
func (s summary) answerCell() string {
	if s.answered == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f / %.0f", s.answerP50, s.answerP99)
}

// writeResults writes the machine, the summary tables with the ratios, the
// targets, and every round.
func writeResults(path string, o options, runs []result) error {
	if o.server == serverCluster {
		return writeClusterResults(path, o, runs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark: the order saga against the baseline\n\n")
	fmt.Fprintf(&b, "Written by `make bench` on %s. %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	b.WriteString(method(o))
	if len(o.workerArgs) > 0 || len(o.serverArgs) > 0 {
		fmt.Fprintf(&b, "Worker flags: `%s`. Extra dev server flags: `%s`.\n\n", strings.Join(o.workerArgs, " "), strings.Join(o.serverArgs, " "))
	}
	variants := o.runVariants()
	if len(o.variants) == 0 {
		b.WriteString(ratioTable(runs, o.concurrencies, baselineName, defaultVariant.name))
	} else {
		b.WriteString(variantList(o))
		for _, v := range variants {
			fmt.Fprintf(&b, "## %s against the baseline\n\n", v.name)
			b.WriteString(ratioTable(runs, o.concurrencies, baselineName, v.name))
			b.WriteString("\n")
		}
	}
	if len(variants) > 1 {
		fmt.Fprintf(&b, "## Each variant against %s\n\n", variants[0].name)
		b.WriteString(againstFirstTable(runs, o.concurrencies, names(variants)))
	}
	b.WriteString("\n" + targets(runs, o) + "\n")
	b.WriteString(clusterPointer)
	b.WriteString(serverWorkTable(runs, o.concurrencies, names(variants)))
	return writeWithRounds(path, &b, runs)
}

// clusterPointer points the dev server's results at the same rounds on
// the compose stack's Temporal, which production runs.
const clusterPointer = "The same rounds on docker-compose.yml's Temporal (Server 1.29.1 on PostgreSQL, one node and two): " +
	"[results-cluster.md](results-cluster.md), `make bench BENCH_SERVER=cluster`.\n\n"

// writeWithRounds ends the results in b with every round's line and
// writes them to path.
func writeWithRounds(path string, b *strings.Builder, runs []result) error {
	b.WriteString("## Every round\n\n```\n")
	for _, r := range runs {
		b.WriteString(r.line() + "\n")
	}
	b.WriteString("```\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// method says how the rounds ran.
func method(o options) string {
	rest := fmt.Sprintf("a round is one `starter load` of max(%d, %d × concurrency) workflows. The saga runs orders that ship at once "+
		"(`--mix success=100`: reserve, charge, ship, no cancel window) on SQLite stores; the baseline is three no-op activities. "+
		"Figures are the means of the rounds; CPU is in cores (1.00 = one core busy) over the round's wall time.\n\n", o.minOrders, o.ordersPerSlot)
	if len(o.variants) == 0 {
		return fmt.Sprintf("Each concurrency runs on a fresh dev server and worker: a warm-up of %d of each workflow, then "+
			"%d rounds of each, alternating which goes first; ", o.warmup, o.rounds) + rest
	}
	return fmt.Sprintf("Each concurrency runs on a fresh dev server and stores: a warm-up of %d of the baseline and of each variant, then "+
		"%d rounds of each, the order rotating by one place every round; before every round the worker is stopped and started afresh with "+
		"that round's flags, on the same dev server and stores, and runs once it has answered a baseline workflow; ", o.warmup, o.rounds) + rest
}

// variantList says which flags each variant's worker had.
func variantList(o options) string {
	var b strings.Builder
	b.WriteString("Variants: each is the saga on a worker started as `worker run --benchmark-baseline`, with `-worker-args` and then its own flags; " +
		"the baseline's worker has `-worker-args` alone.\n\n")
	for _, v := range o.variants {
		flags := "no flags of its own"
		if len(v.flags) > 0 {
			flags = "`" + strings.Join(v.flags, " ") + "`"
		}
		fmt.Fprintf(&b, "- **%s**: %s\n", v.name, flags)
	}
	b.WriteString("\n")
	return b.String()
}

// serverWorkTable says where the dev server's CPU went, per workflow, by
// kind of work: the mean of the profiled rounds of the baseline and of
// each variant at each concurrency, and each variant's extra. Empty if no
// round was profiled.
func serverWorkTable(runs []result, concurrencies []int, variants []string) string {
	return workTable(runs, concurrencies, variants, "the dev server's")
}

// workTable is serverWorkTable for whose CPU it was ("the dev server's",
// or a cluster's nodes').
func workTable(runs []result, concurrencies []int, variants []string, who string) string {
	mean := func(name string, c int, kind string) float64 {
		sum, n := 0.0, 0
		for _, r := range runs {
			if r.label() == name && r.concurrency == c && r.serverWork != nil {
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
	fmt.Fprintf(&b, "## Where %[1]s CPU goes\n\n"+
		"`--profile`: perf sampled the server's stacks (every node's, on a cluster) at %[2]d Hz during every round. Milliseconds of server CPU per workflow, the mean of the rounds; "+
		"a sample counts for the first kind of work, in this order, that its stack shows (bench/profile.go), so a request claims the database calls made under it.\n\n", who, profileHz)
	b.WriteString("| work |")
	for _, c := range concurrencies {
		fmt.Fprintf(&b, " c=%d %s |", c, baselineName)
		for _, v := range variants {
			fmt.Fprintf(&b, " c=%d %s | c=%d %s − %s |", c, v, c, v, baselineName)
		}
	}
	b.WriteString("\n|---|" + strings.Repeat("---|"+strings.Repeat("---|---|", len(variants)), len(concurrencies)) + "\n")
	kinds := []string{}
	for _, w := range serverWork {
		kinds = append(kinds, w.name)
	}
	// totals[i][0] is the baseline's at concurrencies[i], then each variant's.
	totals := make([][]float64, len(concurrencies))
	for i := range totals {
		totals[i] = make([]float64, 1+len(variants))
	}
	for _, kind := range append(kinds, otherWork) {
		fmt.Fprintf(&b, "| %s |", kind)
		for i, c := range concurrencies {
			base := mean(baselineName, c, kind)
			totals[i][0] += base
			fmt.Fprintf(&b, " %.1f |", base)
			for j, v := range variants {
				m := mean(v, c, kind)
				totals[i][1+j] += m
				fmt.Fprintf(&b, " %.1f | %+.1f |", m, m-base)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("| **total** |")
	for _, t := range totals {
		fmt.Fprintf(&b, " **%.1f** |", t[0])
		for _, v := range t[1:] {
			fmt.Fprintf(&b, " **%.1f** | **%+.1f** |", v, v-t[0])
		}
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

// targets judges the runs against the project's targets, for each
// variant of the saga.
func targets(runs []result, o options) string {
	var lines []string
	check := func(c int, what string, ok func(base summary) (float64, bool)) {
		if slices.Contains(o.concurrencies, c) {
			r, met := ok(summarize(runs, baselineName, c))
			lines = append(lines, fmt.Sprintf("- %s: %.2f, %s", what, r, metWord(met)))
		}
	}
	for _, v := range o.runVariants() {
		check(50, v.name+" throughput at least 0.9 of the baseline's at concurrency 50", func(base summary) (float64, bool) {
			r := ratio(summarize(runs, v.name, 50).perSecond, base.perSecond)
			return r, r >= 0.9
		})
		for _, c := range []int{1, 10} {
			check(c, fmt.Sprintf("%s p50 latency at most 1.2 of the baseline's at concurrency %d", v.name, c), func(base summary) (float64, bool) {
				r := ratio(summarize(runs, v.name, c).p50, base.p50)
				return r, r <= 1.2
			})
		}
		check(1, v.name+" p50 ms of one order alone, end to end, at most 30", func(summary) (float64, bool) {
			p50 := summarize(runs, v.name, 1).p50
			return p50, p50 <= 30
		})
	}
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
