package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Setenv(serverEnv, "")
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if !slices.Equal(o.concurrencies, []int{1, 10, 50, 100}) || o.rounds != 3 || o.open != 0 {
		t.Errorf("defaults: concurrencies %v, rounds %d, open %d", o.concurrencies, o.rounds, o.open)
	}
	o, err = parseFlags([]string{"-concurrency", "5, 20", "-worker-args", "--workflow-pollers 16  --activity-pollers 4", "-open", "100", "-open-window", "2m", "-profile"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.concurrencies, []int{5, 20}) || !slices.Equal(o.workerArgs, []string{"--workflow-pollers", "16", "--activity-pollers", "4"}) ||
		o.open != 100 || o.openWindow != 2*time.Minute || !o.profile {
		t.Errorf("got %+v", o)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-concurrency", "10,x"}, "--concurrency"},
		{[]string{"-concurrency", "0"}, "--concurrency"},
		{[]string{"-rounds", "0"}, "--rounds is 0"},
		{[]string{"-open", "-1"}, "--open is -1"},
		{[]string{"-open", "10", "-open-rate", "0"}, "--open needs"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		if _, err := parseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

func TestSummarizeAndTargets(t *testing.T) {
	run := func(wf string, c int, perSecond, p50 float64) result {
		r := result{workflow: wf, concurrency: c}
		r.report.PerSecond, r.report.Latency.P50 = perSecond, p50
		if wf == "saga" {
			r.report.Audit = &auditResult{OK: true}
		}
		return r
	}
	runs := []result{
		run("baseline", 10, 30, 300), run("saga", 10, 28, 330), run("baseline", 10, 30, 320), run("saga", 10, 28, 370),
		run("baseline", 50, 40, 1000), run("saga", 50, 34, 1200),
		run("baseline", 1, 50, 20), run("saga", 1, 40, 25),
	}
	if s := summarize(runs, "saga", 10); s.perSecond != 28 || s.p50 != 350 {
		t.Errorf("saga at 10: %+v, want 28/s and p50 350 (the means)", s)
	}
	got := targets(runs, options{concurrencies: []int{1, 10, 50}})
	for _, want := range []string{
		"at concurrency 50: 0.85, NOT met",
		"at concurrency 10: 1.13, met",
		"at concurrency 1: 1.25, NOT met",
		"one order alone, end to end, at most 30: 25.00, met",
		"0 runs with problems, met",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets lack %q:\n%s", want, got)
		}
	}
}

func TestProblems(t *testing.T) {
	r := result{workflow: "saga", concurrency: 10, round: 2}
	r.report.Mismatches = make([]json.RawMessage, 2)
	if p := r.problems(); len(p) != 2 || !strings.Contains(p[0], "2 ended otherwise") || !strings.Contains(p[1], "did not audit") {
		t.Errorf("problems = %q", p)
	}
}

// TestRequiredVersion reads the pins the results name: the CLI's in
// tools/go.mod (a one-line require) and the SDK's in go.mod (a block).
func TestRequiredVersion(t *testing.T) {
	for _, tc := range []struct{ goMod, module string }{
		{"../tools/go.mod", "github.com/temporalio/cli"},
		{"../go.mod", "go.temporal.io/sdk"},
	} {
		if v := requiredVersion(tc.goMod, tc.module); !strings.HasPrefix(v, "v1.") {
			t.Errorf("requiredVersion(%s, %s) = %q, want a v1 version", tc.goMod, tc.module, v)
		}
	}
	if v := requiredVersion("../go.mod", "example.com/absent"); v != "unknown" {
		t.Errorf("an absent module: %q, want unknown", v)
	}
}

// perfScript is `perf script` output in its shape: a header line per
// sample, its frames indented, a blank line after each.
const perfScript = `temporal 17888 21881.23: 2004008 cpu-clock:ppp:
	  1dc7e1c go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite.(*db).ReplaceIntoVisibility+0x21c (/bin/temporal)
	  1dc34a5 go.temporal.io/server/service/history.(*visibilityQueueTaskExecutor).Execute+0x265 (/bin/temporal)
	  1dc34a6 go.temporal.io/server/service/history/queues.(*executableImpl).Execute+0x10 (/bin/temporal)

temporal 17888 21881.24: 2004008 cpu-clock:ppp:
	  1dc7e1c go.temporal.io/server/service/history/queues.(*executableTracker).split+0x21c (/bin/temporal)

temporal 17888 21881.25: 2004008 cpu-clock:ppp:
	  95ab1 runtime.gcDrain+0x131 (/bin/temporal)
	  95ab2 runtime.gcBgMarkWorker+0x131 (/bin/temporal)

temporal 17888 21881.26: 2004008 cpu-clock:ppp:
	  95ab1 runtime.memmove+0x131 (/bin/temporal)
`

func TestClassify(t *testing.T) {
	got, err := classify(strings.NewReader(perfScript))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"visibility tasks (search attributes, start, close)": 1, // not the queue frame under it
		"history queue readers":                              1,
		"garbage collection":                                 1,
		otherWork:                                            1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("classify = %v, want %v", got, want)
	}
}

func TestServerWorkTable(t *testing.T) {
	if got := serverWorkTable([]result{{workflow: "saga", concurrency: 10}}, []int{10}, []string{"saga"}); got != "" {
		t.Errorf("no profiled round: got %q, want no table", got)
	}
	vis := serverWork[0].name
	runs := []result{
		{workflow: "baseline", concurrency: 10, serverWork: map[string]float64{vis: 4, otherWork: 10}},
		{workflow: "saga", concurrency: 10, serverWork: map[string]float64{vis: 7, otherWork: 10}},
		{workflow: "saga", concurrency: 10, serverWork: map[string]float64{vis: 9, otherWork: 12}},
	}
	got := serverWorkTable(runs, []int{10}, []string{"saga"})
	for _, want := range []string{
		"| work | c=10 baseline | c=10 saga | c=10 saga − baseline |",
		"| " + vis + " | 4.0 | 8.0 | +4.0 |",
		"| other | 10.0 | 11.0 | +1.0 |",
		"| **total** | **14.0** | **19.0** | **+5.0** |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

func TestParseVariants(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.variants) != 0 || !slices.Equal(names(o.runVariants()), []string{"saga"}) || o.runVariants()[0].flags != nil {
		t.Errorf("no -variant: variants %v, run %v; want none given and the saga alone", o.variants, o.runVariants())
	}

	o, err = parseFlags([]string{"-worker-args", "--workflow-pollers 16",
		"-variant", "fixed=--pollers fixed", "-variant", " auto = --pollers  autoscaling --sqlite-synchronous normal", "-variant", "plain="})
	if err != nil {
		t.Fatal(err)
	}
	want := []variant{
		{"fixed", []string{"--pollers", "fixed"}},
		{"auto", []string{"--pollers", "autoscaling", "--sqlite-synchronous", "normal"}},
		{"plain", nil},
	}
	if !slices.EqualFunc(o.variants, want, func(a, b variant) bool { return a.name == b.name && slices.Equal(a.flags, b.flags) }) {
		t.Errorf("variants = %+v, want %+v", o.variants, want)
	}
	if !slices.Equal(o.runVariants()[0].flags, want[0].flags) {
		t.Errorf("given variants must be the ones run: %+v", o.runVariants())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-variant", "fixed"}, `invalid value "fixed" for flag -variant: give name=worker flags, such as -variant 'autoscaling=--pollers autoscaling'`},
		{[]string{"-variant", "=--pollers fixed"}, `invalid value "=--pollers fixed" for flag -variant: give name=worker flags, such as -variant 'autoscaling=--pollers autoscaling'`},
		{[]string{"-variant", "two words=--pollers fixed"}, `invalid value "two words=--pollers fixed" for flag -variant: name "two words": use only letters, digits, '.', '_' and '-'`},
		{[]string{"-variant", "baseline=--pollers fixed"}, `invalid value "baseline=--pollers fixed" for flag -variant: name "baseline" is the baseline workflow's: choose another`},
		{[]string{"-variant", "a=--pollers fixed", "-variant", "a=--pollers autoscaling"}, `invalid value "a=--pollers autoscaling" for flag -variant: "a" is given twice: give each variant its own name`},
		{[]string{"-variant", "a=", "-open", "10"}, "--variant compares the rounds: leave it out with --open or --audit"},
		{[]string{"-variant", "a=", "-audit", "10"}, "--variant compares the rounds: leave it out with --open or --audit"},
	} {
		_, err := parseFlags(tc.args)
		if err == nil || err.Error() != tc.want {
			t.Errorf("parseFlags(%q) = %v, want %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("parseFlags(%q): error of more than one line: %q", tc.args, err)
		}
	}
}

func TestRoundOrder(t *testing.T) {
	order := func(cs []contender, round int) string {
		var out []string
		for _, c := range roundOrder(cs, round) {
			out = append(out, c.name)
		}
		return strings.Join(out, " ")
	}
	// Without -variant the rounds alternate as they always have.
	two := contenders([]variant{defaultVariant})
	for round, want := range []string{"baseline saga", "saga baseline", "baseline saga", "saga baseline"} {
		if got := order(two, round); got != want {
			t.Errorf("round %d: %q, want %q", round+1, got, want)
		}
	}
	// With variants every contender takes every place once in len(cs)
	// rounds.
	three := contenders([]variant{{"fixed", []string{"--pollers", "fixed"}}, {"auto", []string{"--pollers", "autoscaling"}}})
	for round, want := range []string{"baseline fixed auto", "fixed auto baseline", "auto baseline fixed", "baseline fixed auto"} {
		if got := order(three, round); got != want {
			t.Errorf("round %d: %q, want %q", round+1, got, want)
		}
	}
	for _, tc := range []struct {
		c        contender
		workflow string
		args     []string
	}{
		{three[0], "baseline", []string{"--workflow-pollers", "16"}},
		{three[1], "saga", []string{"--workflow-pollers", "16", "--pollers", "fixed"}},
		{three[2], "saga", []string{"--workflow-pollers", "16", "--pollers", "autoscaling"}},
	} {
		common := []string{"--workflow-pollers", "16"}
		if got := tc.c.workerArgs(common); tc.c.workflow != tc.workflow || !slices.Equal(got, tc.args) {
			t.Errorf("%s: workflow %s, worker args %q; want %s, %q", tc.c.name, tc.c.workflow, got, tc.workflow, tc.args)
		}
		if !slices.Equal(common, []string{"--workflow-pollers", "16"}) {
			t.Errorf("%s: workerArgs changed -worker-args to %q", tc.c.name, common)
		}
	}
}

// fakeRound is a round's result with the figures the tables read.
func fakeRound(name string, c, round int, perSecond, p50, p99, serverCPU, workerCPU float64) result {
	r := result{workflow: "saga", name: name, concurrency: c, round: round, serverCPU: serverCPU, workerCPU: workerCPU}
	if name == baselineName {
		r.workflow = "baseline"
	} else {
		r.report.Audit = &auditResult{OK: true}
	}
	r.report.PerSecond, r.report.Latency.P50, r.report.Latency.P99 = perSecond, p50, p99
	r.report.Total = 200
	return r
}

// variantRuns are two rounds at concurrency 10 of the baseline and of two
// variants, fixed and auto; the tables take their means.
func variantRuns() []result {
	return []result{
		fakeRound("baseline", 10, 1, 30, 300, 500, 1.5, 0.20), fakeRound("fixed", 10, 1, 20, 400, 700, 1.4, 0.30), fakeRound("auto", 10, 1, 24, 380, 600, 1.4, 0.36),
		fakeRound("fixed", 10, 2, 16, 500, 900, 1.4, 0.30), fakeRound("auto", 10, 2, 26, 420, 660, 1.6, 0.24), fakeRound("baseline", 10, 2, 30, 340, 540, 1.5, 0.20),
	}
}

func TestRatioTable(t *testing.T) {
	runs := variantRuns()
	// auto's orders answered their placements: p50 40 and 60 ms, p99 90
	// and 110 ms over its two rounds.
	runs[2].report.Answer = &answerStats{P50: 40, P99: 90, Count: 200}
	runs[4].report.Answer = &answerStats{P50: 60, P99: 110, Count: 200}
	got := ratioTable(runs, []int{10}, "baseline", "auto")
	for _, want := range []string{
		"| concurrency | baseline /s | auto /s | throughput auto/baseline | baseline p50 ms | auto p50 ms | p50 auto/baseline | baseline p99 ms | auto p99 ms | p99 auto/baseline | server CPU (baseline, auto) | worker CPU (baseline, auto) | auto answer p50/p99 ms |",
		// auto: 25/s, p50 400, p99 630, CPU 1.5 and 0.30, answers p50 50,
		// p99 100; baseline 30/s, p50 320, p99 520.
		"| 10 | 30.0 | 25.0 | **0.83** | 320 | 400 | **1.25** | 520 | 630 | **1.21** | 1.50, 1.50 | 0.20, 0.30 | 50 / 100 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks\n%s\n%s", want, got)
		}
	}
	// Without variants the saga's table keeps the header it always had.
	if h := ratioTable(nil, []int{10}, baselineName, defaultVariant.name); !strings.HasPrefix(h,
		"| concurrency | baseline /s | saga /s | throughput saga/baseline | baseline p50 ms | saga p50 ms | p50 saga/baseline | baseline p99 ms | saga p99 ms | p99 saga/baseline | server CPU (baseline, saga) | worker CPU (baseline, saga) | saga answer p50/p99 ms |\n") {
		t.Errorf("the saga's header changed:\n%s", h)
	}
}

func TestAgainstFirstTable(t *testing.T) {
	got := againstFirstTable(variantRuns(), []int{10}, []string{"fixed", "auto"})
	for _, want := range []string{
		"| concurrency | variant | saga /s | throughput /fixed | p50 ms | p50 /fixed | p99 ms | p99 /fixed | server CPU | worker CPU | server CPU ms/order | worker CPU ms/order |",
		// fixed: 18/s, p50 450, p99 800, CPU 1.4 and 0.3 (77.8 and 16.7 ms an order).
		"| 10 | fixed | 18.0 | **1.00** | 450 | **1.00** | 800 | **1.00** | 1.40 | 0.30 | 77.8 | 16.7 |",
		// auto: 25/s, p50 400, p99 630, CPU 1.5 and 0.3 (60.0 and 12.0 ms an order).
		"| 10 | auto | 25.0 | **1.39** | 400 | **0.89** | 630 | **0.79** | 1.50 | 0.30 | 60.0 | 12.0 | – |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks\n%s\n%s", want, got)
		}
	}
}

func TestTargetsPerVariant(t *testing.T) {
	got := targets(variantRuns(), options{concurrencies: []int{10}, variants: []variant{{"fixed", nil}, {"auto", nil}}})
	for _, want := range []string{
		"- fixed p50 latency at most 1.2 of the baseline's at concurrency 10: 1.41, NOT met",
		"- auto p50 latency at most 1.2 of the baseline's at concurrency 10: 1.25, NOT met",
		"0 runs with problems, met",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "concurrency 50") {
		t.Errorf("a target at a concurrency not run:\n%s", got)
	}
}

// TestWriteResultsWithVariants: the file says each variant's flags, has
// a table per variant against the baseline and one against the first
// variant, and lists every round under its variant's name.
func TestWriteResultsWithVariants(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.md")
	o := options{concurrencies: []int{10}, rounds: 2, minOrders: 200, ordersPerSlot: 8, warmup: 100,
		workerArgs: []string{"--workflow-cache-size", "500"},
		variants:   []variant{{"fixed", []string{"--pollers", "fixed"}}, {"auto", []string{"--pollers", "autoscaling", "--sqlite-synchronous", "normal"}}}}
	if err := writeResults(path, o, variantRuns()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"Worker flags: `--workflow-cache-size 500`.",
		"- **fixed**: `--pollers fixed`\n",
		"- **auto**: `--pollers autoscaling --sqlite-synchronous normal`\n",
		"the order rotating by one place every round",
		"## fixed against the baseline\n\n| concurrency | baseline /s | fixed /s |",
		"## auto against the baseline\n\n| concurrency | baseline /s | auto /s |",
		"## Each variant against fixed\n\n| concurrency | variant |",
		"| 10 | auto | 25.0 | **1.39** |",
		"c=10  round 1 auto      200 in",
		"c=10  round 2 baseline  200 in",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("results lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "saga /s |") && !strings.Contains(got, "| variant | saga /s |") {
		t.Errorf("a saga table without a -variant named saga:\n%s", got)
	}
}

// TestWriteResultsWithoutVariants: no -variant writes the one table of the
// saga against the baseline, with no variant sections.
func TestWriteResultsWithoutVariants(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.md")
	runs := []result{fakeRound("baseline", 10, 1, 30, 300, 500, 1.5, 0.2), fakeRound("saga", 10, 1, 27, 330, 560, 1.4, 0.3)}
	runs[0].name, runs[1].name = "", "" // as the rounds of open and audit leave them: the workflow names them
	o := options{concurrencies: []int{10}, rounds: 1, minOrders: 200, ordersPerSlot: 8, warmup: 100}
	if err := writeResults(path, o, runs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"then 1 rounds of each, alternating which goes first;",
		"| 10 | 30.0 | 27.0 | **0.90** | 300 | 330 | **1.10** |",
		"- saga p50 latency at most 1.2 of the baseline's at concurrency 10: 1.10, met",
		"[results-cluster.md](results-cluster.md), `make bench BENCH_SERVER=cluster`",
		"c=10  round 1 saga      200 in",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("results lack %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"Variants:", "## saga against the baseline", "Each variant against"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("results without variants have %q:\n%s", unwanted, got)
		}
	}
}

// A round's line gives the time to the answers of a contender whose orders
// answer, and nothing of the kind for the baseline's.
func TestRoundLineAnswers(t *testing.T) {
	saga := fakeRound("saga", 10, 1, 20, 400, 700, 1.4, 0.30)
	saga.report.Answer = &answerStats{P50: 42, P99: 97, Count: 200}
	if got := saga.line(); !strings.HasSuffix(got, "  answer p50 42ms p99 97ms") {
		t.Errorf("saga round line = %q, want it to end with its answers", got)
	}
	if got := fakeRound(baselineName, 10, 1, 30, 300, 500, 1.5, 0.20).line(); strings.Contains(got, "answer") {
		t.Errorf("baseline round line = %q, want no answers", got)
	}
}
