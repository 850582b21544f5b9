package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
)

// The audit's targets: every run of `worker audit` over the generated
// stores ends within auditTimeTarget and its peak RSS stays under
// auditRSSTarget.
const (
	auditTimeTarget = 60 * time.Second
	auditRSSTarget  = 300 << 20
)

// auditTimeout ends an audit run that has gone far past its target.
const auditTimeout = 10 * auditTimeTarget

// auditRealMix is the mix of the real orders: every way an order ends in
// Temporal (COMPLETED, FAILED, CANCELLED).
const auditRealMix = "success=70,declined=10,flaky=10,cancel=10"

// runAuditBench measures `worker audit` over o.audit placements in fresh
// stores: it generates them through the stores' own methods, starts a
// fresh dev server and a worker on the stores, places o.auditReal real
// orders so that Temporal knows some of the placements (the generated
// ones it never knew: to the audit they are orders Temporal forgot), stops
// the worker, then runs the audit o.auditRuns times as a child process,
// each time measuring its wall time and peak RSS. It writes o.auditOut and
// fails if any run missed a target, did not pass, or did not judge every
// order. The temporary directory, with the stores and the logs, is kept
// when the benchmark fails, as with -keep.
func runAuditBench(ctx context.Context, o options) (err error) {
	if err := checkBinaries(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ordersaga-bench-audit-")
	if err != nil {
		return err
	}
	e := &env{dir: dir}
	defer func() { e.close(o.keep || err != nil) }()
	dataDir := filepath.Join(dir, "data")

	ab := auditBench{n: o.audit, real: o.auditReal, mix: countMix(o.audit), startLoad: loadAverage()}
	fmt.Printf("generating %d placements in %s (load average %.2f)\n", o.audit, dataDir, ab.startLoad)
	start := time.Now()
	if err := generate(ctx, dataDir, o.audit); err != nil {
		return fmt.Errorf("generate the stores: %w", err)
	}
	ab.generation = time.Since(start)
	ab.storeBytes = storeSizes(dataDir)
	fmt.Printf("generated %d placements in %s\n", o.audit, ab.generation.Round(100*time.Millisecond))

	if err := e.startServer(ctx, o.serverArgs); err != nil {
		return err
	}
	if err := e.startWorker(ctx, o.workerArgs); err != nil {
		return err
	}
	fmt.Printf("placing %d real orders (--mix %s)\n", o.auditReal, auditRealMix)
	// env.load asks for --mix success=100; the later --mix wins.
	r, err := e.load(ctx, "saga", o.auditReal, min(o.auditReal, 10), "--mix", auditRealMix, "--audit=false")
	if err != nil {
		return err
	}
	if n := len(r.report.Mismatches); n > 0 || r.report.Total != o.auditReal || r.exitErr != nil {
		return fmt.Errorf("placing the real orders: %d of %d placed, %d ended otherwise than asked (%v); see %s",
			r.report.Total, o.auditReal, n, r.exitErr, e.worker.Log())
	}
	// The worker has nothing left to do; stopped, it takes no CPU from
	// the audit.
	stop(e.worker)

	for i := range o.auditRuns {
		run, err := e.audit(ctx, dataDir)
		if err != nil {
			return err
		}
		ab.runs = append(ab.runs, run)
		fmt.Printf("audit %d: %s\n", i+1, run.line())
	}
	problems := ab.problems()
	if err := os.WriteFile(o.auditOut, []byte(ab.markdown(o)), 0o644); err != nil {
		return err
	}
	worst := ab.worst()
	fmt.Printf("worst of %d audits: %s, peak RSS %d MiB; results in %s\n", len(ab.runs), fmtSeconds(worst.wall), worst.peakRSS>>20, o.auditOut)
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// auditReport is the part of `worker audit -o json` the benchmark reads.
type auditReport struct {
	OK                 bool           `json:"ok"`
	OrdersEnded        map[string]int `json:"orders_ended"`
	OrdersRunning      int            `json:"orders_running"`
	ForgottenCompleted int            `json:"forgotten_completed"`
	ForgottenUndone    int            `json:"forgotten_undone"`
	StartedDuringAudit int            `json:"started_during_audit"`
	Violations         []string       `json:"violations"`
}

// ended counts the placements judged against their run in Temporal.
func (r auditReport) ended() int {
	n := 0
	for _, c := range r.OrdersEnded {
		n += c
	}
	return n
}

// endedByStatus is ended, with the count of each final status.
func (r auditReport) endedByStatus() string {
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(r.OrdersEnded)) {
		parts = append(parts, fmt.Sprintf("%d %s", r.OrdersEnded[status], status))
	}
	if len(parts) == 0 {
		return strconv.Itoa(r.ended())
	}
	return fmt.Sprintf("%d (%s)", r.ended(), strings.Join(parts, ", "))
}

// judged counts every placement the audit judged.
func (r auditReport) judged() int { return r.ended() + r.ForgottenCompleted + r.ForgottenUndone }

// auditRun is one run of `worker audit`.
type auditRun struct {
	wall    time.Duration
	cpu     time.Duration // user and system CPU time, which other processes on the machine change less than wall
	peakRSS int64         // bytes, from the child's rusage
	load    float64       // the 1-minute load average when it started
	report  auditReport
}

func (r auditRun) line() string {
	return fmt.Sprintf("%s (CPU %s), peak RSS %d MiB, %d orders judged (%d forgotten completed, %d forgotten undone, %d ended in Temporal), %s; load average %.2f",
		fmtSeconds(r.wall), fmtSeconds(r.cpu), r.peakRSS>>20, r.report.judged(), r.report.ForgottenCompleted, r.report.ForgottenUndone, r.report.ended(), r.verdict(), r.load)
}

func (r auditRun) verdict() string {
	if r.report.OK {
		return "passed"
	}
	return fmt.Sprintf("FAILED (%d violations)", len(r.report.Violations))
}

// audit runs `worker audit -o json` on the stores in dataDir against the
// dev server, and measures its wall time and peak RSS.
func (e *env) audit(ctx context.Context, dataDir string) (auditRun, error) {
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, workerBin, "audit", "-o", "json", "--data-dir", dataDir, "--temporal-address", e.address)
	cmd.Env = append(os.Environ(), "ORDERSAGA_LOG_LEVEL=warn")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	run := auditRun{load: loadAverage()}
	start := time.Now()
	runErr := cmd.Run() // exit status 1 is a failed audit, which the report says
	run.wall = time.Since(start)
	if cmd.ProcessState == nil {
		return run, fmt.Errorf("worker audit: %w", runErr)
	}
	run.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		run.peakRSS = ru.Maxrss << 10 // kilobytes on Linux
	}
	if err := json.Unmarshal(stdout.Bytes(), &run.report); err != nil {
		return run, fmt.Errorf("worker audit: %v: %s%s", runErr, stdout.Bytes(), stderr.Bytes())
	}
	return run, nil
}

// auditBench is the audit benchmark's setup and its runs.
type auditBench struct {
	n, real    int
	mix        mixCounts
	generation time.Duration
	storeBytes map[string]int64
	startLoad  float64
	runs       []auditRun
}

// worst is the longest wall time, the most CPU time and the highest peak
// RSS of the runs.
func (ab auditBench) worst() auditRun {
	var w auditRun
	for _, r := range ab.runs {
		w.wall = max(w.wall, r.wall)
		w.cpu = max(w.cpu, r.cpu)
		w.peakRSS = max(w.peakRSS, r.peakRSS)
	}
	return w
}

// problems says what fails the benchmark: a run over a target, an audit
// that did not pass or did not judge every placement as generated.
func (ab auditBench) problems() []string {
	var out []string
	for i, r := range ab.runs {
		where := fmt.Sprintf("audit %d", i+1)
		if r.wall >= auditTimeTarget {
			out = append(out, fmt.Sprintf("%s took %s, over the %s target", where, fmtSeconds(r.wall), fmtSeconds(auditTimeTarget)))
		}
		if r.peakRSS >= auditRSSTarget {
			out = append(out, fmt.Sprintf("%s: peak RSS %d MiB, over the %d MiB target", where, r.peakRSS>>20, auditRSSTarget>>20))
		}
		if !r.report.OK {
			v := ""
			if len(r.report.Violations) > 0 {
				v = ": " + r.report.Violations[0]
			}
			out = append(out, fmt.Sprintf("%s did not pass (%d violations%s)", where, len(r.report.Violations), v))
		}
		if got, want := r.report.judged(), ab.n+ab.real; got != want {
			out = append(out, fmt.Sprintf("%s judged %d orders, want %d", where, got, want))
		}
		if r.report.ForgottenCompleted != ab.mix.completed || r.report.ForgottenUndone != ab.mix.undone() {
			out = append(out, fmt.Sprintf("%s: %d forgotten completed and %d undone, want %d and %d",
				where, r.report.ForgottenCompleted, r.report.ForgottenUndone, ab.mix.completed, ab.mix.undone()))
		}
	}
	return out
}

// markdown is the benchmark's results file.
func (ab auditBench) markdown(o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark: the audit of %s orders\n\n", thousands(ab.n))
	fmt.Fprintf(&b, "Written by `make bench-audit` on %s. %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintf(&b, "The stores: fresh SQLite files made by the stores' own `Open`, filled with %s placements through their own methods "+
		"(`Reserve`, `Charge`, `Ship`, `Release`, `Refund`, `Cancel`), each with its own placement (a random UUID) and order ID: "+
		"%s completed (reserved, charge captured for the reservation's total, shipment created), %s declined (released, declined, shipment voided), "+
		"%s cancelled (released, refunded, shipment voided). Generating them took **%s**; the stores then held %s.\n\n",
		thousands(ab.n), thousands(ab.mix.completed), thousands(ab.mix.declined), thousands(ab.mix.cancelled),
		fmtSeconds(ab.generation), describeSizes(ab.storeBytes))
	fmt.Fprintf(&b, "Then a fresh dev server, as `make dev` starts it, and one worker on those stores; `starter load --orders %d --mix %s` "+
		"placed %d real orders, so that the audit judges those against their runs in Temporal and the %s generated ones, which Temporal never knew, "+
		"by the stores alone. The worker was stopped, and `worker audit -o json` ran %d times, each a new process: its wall time, "+
		"the CPU time it used (user and system), and its peak RSS from the kernel's rusage (`ru_maxrss`). The 1-minute load average was %.2f when the benchmark began; "+
		"another process may share the machine. Each run's is in the table; it counts the benchmark's own work of the minute before "+
		"(the writers, the dev server, the real orders) as well.\n\n",
		ab.real, auditRealMix, ab.real, thousands(ab.n), len(ab.runs), ab.startLoad)
	b.WriteString("| run | wall time | CPU time | peak RSS | orders judged | forgotten: completed, undone | ended in Temporal | audit | load average at start |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for i, r := range ab.runs {
		fmt.Fprintf(&b, "| %d | %s | %s | %d MiB | %s | %s, %s | %s | %s | %.2f |\n", i+1, fmtSeconds(r.wall), fmtSeconds(r.cpu), r.peakRSS>>20,
			thousands(r.report.judged()), thousands(r.report.ForgottenCompleted), thousands(r.report.ForgottenUndone),
			r.report.endedByStatus(), r.verdict(), r.load)
	}
	w := ab.worst()
	fmt.Fprintf(&b, "| **worst** | **%s** | %s | **%d MiB** | | | | | |\n\n", fmtSeconds(w.wall), fmtSeconds(w.cpu), w.peakRSS>>20)
	problems := ab.problems()
	fmt.Fprintf(&b, "Targets, for %s orders on this machine:\n\n", thousands(ab.n))
	fmt.Fprintf(&b, "- every audit under %s: worst %s, %s\n", fmtSeconds(auditTimeTarget), fmtSeconds(w.wall), metWord(len(ab.runs) > 0 && w.wall < auditTimeTarget))
	fmt.Fprintf(&b, "- peak RSS under %d MiB: worst %d MiB, %s\n", auditRSSTarget>>20, w.peakRSS>>20, metWord(len(ab.runs) > 0 && w.peakRSS < auditRSSTarget))
	fmt.Fprintf(&b, "- every audit passed and judged all %s orders as generated and placed: %s\n", thousands(ab.n+ab.real),
		metWord(len(ab.runs) > 0 && !judgingProblems(ab)))
	if len(problems) > 0 {
		fmt.Fprintf(&b, "\nProblems:\n\n- %s\n", strings.Join(problems, "\n- "))
	}
	fmt.Fprintf(&b, "\nTo reproduce: `make bench-audit AUDIT_ORDERS=%d` from the repository's root (100,000 is the default; 2000 makes a quick try). "+
		"It builds the binaries and runs `go run ./bench -audit $(AUDIT_ORDERS) $(BENCH_FLAGS)`; "+
		"`BENCH_FLAGS='-audit-runs 5 -audit-real 100 -keep'` changes the runs and the real orders, and keeps the stores.\n", o.audit)
	return b.String()
}

// judgingProblems reports whether any run failed or judged other orders
// than it should have, as opposed to missing only a time or RSS target.
func judgingProblems(ab auditBench) bool {
	for _, r := range ab.runs {
		if !r.report.OK || r.report.judged() != ab.n+ab.real ||
			r.report.ForgottenCompleted != ab.mix.completed || r.report.ForgottenUndone != ab.mix.undone() {
			return true
		}
	}
	return false
}

// storeSizes is the size of each store's files (the database and its
// write-ahead log) in dataDir.
func storeSizes(dataDir string) map[string]int64 {
	sizes := map[string]int64{}
	for _, f := range []string{inventory.DatabaseFile, payment.DatabaseFile, shipping.DatabaseFile} {
		for _, suffix := range []string{"", "-wal"} {
			if st, err := os.Stat(filepath.Join(dataDir, f+suffix)); err == nil {
				sizes[f] += st.Size()
			}
		}
	}
	return sizes
}

func describeSizes(sizes map[string]int64) string {
	var parts []string
	for _, f := range []string{inventory.DatabaseFile, payment.DatabaseFile, shipping.DatabaseFile} {
		parts = append(parts, fmt.Sprintf("%s %.1f MiB", f, float64(sizes[f])/(1<<20)))
	}
	return strings.Join(parts, ", ")
}

// loadAverage is the 1-minute load average, or -1 if it cannot be read.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

func fmtSeconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// thousands writes n with commas between its groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
