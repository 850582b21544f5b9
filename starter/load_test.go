package main

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/workflows"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		mix     string
		want    []int // success, declined, flaky, cancel
		wantErr string
	}{
		{mix: defaultMix, want: []int{80, 10, 5, 5}},
		{mix: "cancel=1", want: []int{0, 0, 0, 1}},
		{mix: " success = 3 , declined=0", want: []int{3, 0, 0, 0}},
		{mix: "success", wantErr: "not KIND=WEIGHT"},
		{mix: "=3", wantErr: "not KIND=WEIGHT"},
		{mix: "", wantErr: "not KIND=WEIGHT"},
		{mix: "success=1,", wantErr: "not KIND=WEIGHT"},
		{mix: "refund=1", wantErr: `unknown kind "refund"`},
		{mix: "success=1,success=2", wantErr: "given twice"},
		{mix: "success=x", wantErr: `weight of success is "x"`},
		{mix: "success=-2", wantErr: `weight of success is "-2"`},
		{mix: "success=0,flaky=0", wantErr: "add up to 0"},
	}
	for _, tt := range tests {
		t.Run(tt.mix, func(t *testing.T) {
			got, err := parseMix(tt.mix)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseMix(%q) error = %v, want one containing %q", tt.mix, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("parseMix(%q) = %v, %v; want %v", tt.mix, got, err, tt.want)
			}
		})
	}
}

func TestSpreadKinds(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		weights []int
		want    map[string]int
	}{
		{"exact split", 20, []int{60, 20, 0, 20}, map[string]int{"success": 12, "declined": 4, "cancel": 4}},
		{"default mix of 100", 100, []int{80, 10, 5, 5}, map[string]int{"success": 80, "declined": 10, "flaky": 5, "cancel": 5}},
		{"remainders go to the largest", 3, []int{1, 1, 1, 0}, map[string]int{"success": 1, "declined": 1, "flaky": 1}},
		{"one order", 1, []int{80, 10, 5, 5}, map[string]int{"success": 1}},
		{"one kind", 5, []int{0, 0, 0, 7}, map[string]int{"cancel": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kinds := spreadKinds(tt.n, tt.weights)
			got := map[string]int{}
			for _, k := range kinds {
				got[k.name]++
			}
			if len(kinds) != tt.n || len(got) != len(tt.want) {
				t.Fatalf("spreadKinds(%d, %v) = %v, want %v", tt.n, tt.weights, got, tt.want)
			}
			for name, n := range tt.want {
				if got[name] != n {
					t.Errorf("spreadKinds(%d, %v): %d %s, want %d", tt.n, tt.weights, got[name], name, n)
				}
			}
		})
	}
}

func TestSpreadKindsInterleaves(t *testing.T) {
	kinds := spreadKinds(10, []int{50, 50, 0, 0})
	for i := 1; i < len(kinds); i++ {
		if kinds[i].name == kinds[i-1].name {
			t.Fatalf("an even mix of two kinds should alternate; got %s twice at %d", kinds[i].name, i)
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p95 of 1..100", ms(hundred...), 95, 95 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"max of 1..100", ms(hundred...), 100, 100 * time.Millisecond},
		{"p50 of four", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p95 of four", ms(1, 2, 3, 4), 95, 4 * time.Millisecond},
		{"p0 is the minimum", ms(1, 2, 3, 4), 0, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

// loadResults makes results of the given kinds: a status per job, "" for an
// error.
func loadResults(statuses map[string][]workflows.Status) []jobResult {
	var out []jobResult
	for _, k := range append(slices.Clone(loadKinds), baselineKind) {
		for _, s := range statuses[k.name] {
			r := jobResult{index: len(out), id: "load-r-" + string(rune('a'+len(out))), kind: k, status: s, latency: time.Duration(len(out)+1) * time.Second, ended: true}
			if s == "" {
				r.err = errors.New("wait for order: deadline exceeded\nafter 30s")
			}
			out = append(out, r)
		}
	}
	return out
}

func TestLoadReport(t *testing.T) {
	plan := loadPlan{workflow: loadSaga, concurrency: 2, run: "r"}
	tests := []struct {
		name      string
		plan      loadPlan
		results   []jobResult
		wantText  []string
		wantMiss  []string // IDs
		wantEnded map[string]map[string]int
	}{
		{
			name: "all as asked",
			plan: plan,
			results: loadResults(map[string][]workflows.Status{
				"success": {workflows.Completed, workflows.Completed}, "declined": {workflows.Failed}, "cancel": {workflows.Cancelled},
			}),
			wantText:  []string{"Load r (saga): 4 in 2s, 2.0/s, concurrency 2", "p50 2000.0  p95 4000.0  p99 4000.0  max 4000.0", "success:   2  want COMPLETED  COMPLETED 2", "All ended as asked."},
			wantEnded: map[string]map[string]int{"success": {"COMPLETED": 2}, "declined": {"FAILED": 1}, "cancel": {"CANCELLED": 1}},
		},
		{
			name: "mismatches and errors are listed",
			plan: plan,
			results: loadResults(map[string][]workflows.Status{
				"success": {workflows.Completed}, "flaky": {workflows.Failed}, "cancel": {""},
			}),
			wantText:  []string{"2 ended otherwise than asked:", "load-r-b (flaky): want COMPLETED, got FAILED", "load-r-c (cancel): want CANCELLED, got ERROR: wait for order: deadline exceeded after 30s"},
			wantMiss:  []string{"load-r-b", "load-r-c"},
			wantEnded: map[string]map[string]int{"success": {"COMPLETED": 1}, "flaky": {"FAILED": 1}, "cancel": {"ERROR": 1}},
		},
		{
			name:      "baseline",
			plan:      loadPlan{workflow: loadBaseline, concurrency: 1, rate: 5, run: "b"},
			results:   loadResults(map[string][]workflows.Status{loadBaseline: {workflows.Completed}}),
			wantText:  []string{"Load b (baseline): 1 in 2s, 0.5/s, concurrency 1, rate limit 5/s", "baseline:  1  want COMPLETED  COMPLETED 1"},
			wantEnded: map[string]map[string]int{loadBaseline: {"COMPLETED": 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := buildReport(tt.plan, tt.results, 2*time.Second)
			var ids []string
			for _, m := range rep.Mismatches {
				ids = append(ids, m.ID)
			}
			if !slices.Equal(ids, tt.wantMiss) {
				t.Errorf("mismatches = %q, want %q", ids, tt.wantMiss)
			}
			for kind, ended := range tt.wantEnded {
				if got := rep.Outcomes[kind].Ended; !maps.Equal(got, ended) {
					t.Errorf("outcomes of %s = %v, want %v", kind, got, ended)
				}
			}
			l := rep.Latency
			if l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
				t.Errorf("latencies not positive and ordered: %+v", l)
			}
			var buf bytes.Buffer
			if err := printLoadReport(&buf, rep); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, buf.String())
				}
			}
		})
	}
}

func TestLoadReportJSONHasEmptyMismatches(t *testing.T) {
	rep := buildReport(loadPlan{workflow: loadBaseline, concurrency: 1, run: "b"},
		loadResults(map[string][]workflows.Status{loadBaseline: {workflows.Completed}}), time.Second)
	var buf bytes.Buffer
	if err := writeJSON(&buf, rep, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"mismatches": []`, `"latency_ms": {`, `"per_second": 1`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON report lacks %s:\n%s", want, buf.String())
		}
	}
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name                     string
		total, ok, bad, inFlight int
		elapsed                  time.Duration
		want                     string
	}{
		{"start", 100, 0, 0, 5, 0, "0/100 done (0 not as asked), 5 in flight, 0.0/s, ETA -"},
		{"midway", 100, 40, 10, 5, 10 * time.Second, "50/100 done (10 not as asked), 5 in flight, 5.0/s, ETA 10s"},
		{"done", 10, 10, 0, 0, 2 * time.Second, "10/10 done (0 not as asked), 0 in flight, 5.0/s, ETA -"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := progressLine(tt.total, tt.ok, tt.bad, tt.inFlight, tt.elapsed); got != tt.want {
				t.Errorf("progressLine = %q, want %q", got, tt.want)
			}
		})
	}
}
