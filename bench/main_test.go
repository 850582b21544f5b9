package main

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if !slices.Equal(o.concurrencies, []int{10, 50, 100}) || o.rounds != 3 || o.open != 0 {
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
	}
	if s := summarize(runs, "saga", 10); s.perSecond != 28 || s.p50 != 350 {
		t.Errorf("saga at 10: %+v, want 28/s and p50 350 (the means)", s)
	}
	got := targets(runs, options{concurrencies: []int{10, 50}})
	for _, want := range []string{
		"at concurrency 50: 0.85, NOT met",
		"at concurrency 10: 1.13, met",
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
	if got := serverWorkTable([]result{{workflow: "saga", concurrency: 10}}, []int{10}); got != "" {
		t.Errorf("no profiled round: got %q, want no table", got)
	}
	vis := serverWork[0].name
	runs := []result{
		{workflow: "baseline", concurrency: 10, serverWork: map[string]float64{vis: 4, otherWork: 10}},
		{workflow: "saga", concurrency: 10, serverWork: map[string]float64{vis: 7, otherWork: 10}},
		{workflow: "saga", concurrency: 10, serverWork: map[string]float64{vis: 9, otherWork: 12}},
	}
	got := serverWorkTable(runs, []int{10})
	for _, want := range []string{
		"| " + vis + " | 4.0 | 8.0 | +4.0 |",
		"| other | 10.0 | 11.0 | +1.0 |",
		"| **total** | **14.0** | **19.0** | **+5.0** |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}
