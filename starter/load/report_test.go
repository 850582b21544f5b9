package load

import (
	"bytes"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/workflows"
)

func TestLatencySummary(t *testing.T) {
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
		name      string
		latencies []time.Duration
		want      latencyStats // exact nearest-rank values, in ms
	}{
		{"none", nil, latencyStats{}},
		{"one value", ms(7), latencyStats{P50: 7, P95: 7, P99: 7, Max: 7}},
		{"1..100 ms", ms(hundred...), latencyStats{P50: 50, P95: 95, P99: 99, Max: 100}},
		{"four, unsorted", ms(4, 1, 3, 2), latencyStats{P50: 2, P95: 4, P99: 4, Max: 4}},
		{"a slow tail", ms(10, 10, 10, 10, 10, 10, 10, 10, 10, 2500), latencyStats{P50: 10, P95: 2500, P99: 2500, Max: 2500}},
		{"under a microsecond counts as one", []time.Duration{100 * time.Nanosecond}, latencyStats{P50: 0.001, P95: 0.001, P99: 0.001, Max: 0.001}},
		{"over an hour counts as an hour", []time.Duration{2 * time.Hour}, latencyStats{P50: 3_600_000, P95: 3_600_000, P99: 3_600_000, Max: 3_600_000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := latencySummary(tt.latencies)
			for _, q := range []struct {
				name      string
				got, want float64
			}{{"p50", got.P50, tt.want.P50}, {"p95", got.P95, tt.want.P95}, {"p99", got.P99, tt.want.P99}, {"max", got.Max, tt.want.Max}} {
				if !withinPrecision(q.got, q.want) {
					t.Errorf("%s = %v ms, want %v ms to 3 significant figures", q.name, q.got, q.want)
				}
			}
		})
	}
}

// withinPrecision reports whether got is want as a histogram with 3
// significant figures holds it: within 0.1%, or a microsecond.
func withinPrecision(got, want float64) bool {
	return math.Abs(got-want) <= max(want*0.001, 0.001)
}

// loadResults makes results of the given kinds: a status per job, "" for an
// error.
func loadResults(statuses map[string][]workflows.Status) []jobResult {
	var out []jobResult
	for _, k := range append(slices.Clone(loadKinds), baselineKind) {
		for _, s := range statuses[k.name] {
			r := jobResult{kind: k, latency: time.Duration(len(out)+1) * time.Second, ended: true,
				jobEnd: jobEnd{id: "load-r-" + string(rune('a'+len(out))), status: s}}
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
		name        string
		plan        loadPlan
		results     []jobResult
		wantText    []string
		wantMiss    []string // IDs
		wantEnded   map[string]map[string]int
		wantLatency latencyStats
	}{
		{
			name: "all as asked",
			plan: plan,
			results: loadResults(map[string][]workflows.Status{
				"success": {workflows.Completed, workflows.Completed}, "declined": {workflows.Failed}, "cancel": {workflows.Cancelled},
			}),
			wantText:    []string{"Load r (saga): 4 in 2s, 2.0/s, concurrency 2, max 2 in flight\n", "Latency (ms): p50 2", "success:   2  want COMPLETED  COMPLETED 2", "All ended as asked."},
			wantEnded:   map[string]map[string]int{"success": {"COMPLETED": 2}, "declined": {"FAILED": 1}, "cancel": {"CANCELLED": 1}},
			wantLatency: latencyStats{P50: 2000, P95: 4000, P99: 4000, Max: 4000},
		},
		{
			name: "mismatches and errors are listed",
			plan: plan,
			results: loadResults(map[string][]workflows.Status{
				"success": {workflows.Completed}, "flaky": {workflows.Failed}, "cancel": {""},
			}),
			wantText:    []string{"2 ended otherwise than asked:", "load-r-b (flaky): want COMPLETED, got FAILED", "load-r-c (cancel): want CANCELLED, got ERROR: wait for order: deadline exceeded after 30s"},
			wantMiss:    []string{"load-r-b", "load-r-c"},
			wantEnded:   map[string]map[string]int{"success": {"COMPLETED": 1}, "flaky": {"FAILED": 1}, "cancel": {"ERROR": 1}},
			wantLatency: latencyStats{P50: 2000, P95: 3000, P99: 3000, Max: 3000},
		},
		{
			name:        "baseline",
			plan:        loadPlan{workflow: loadBaseline, concurrency: 1, rate: 5, run: "b"},
			results:     loadResults(map[string][]workflows.Status{loadBaseline: {workflows.Completed}}),
			wantText:    []string{"Load b (baseline): 1 in 2s, 0.5/s, concurrency 1, rate limit 5/s, max 2 in flight", "baseline:  1  want COMPLETED  COMPLETED 1"},
			wantEnded:   map[string]map[string]int{loadBaseline: {"COMPLETED": 1}},
			wantLatency: latencyStats{P50: 1000, P95: 1000, P99: 1000, Max: 1000},
		},
		{
			name:        "window",
			plan:        loadPlan{workflow: loadSaga, concurrency: 3, window: 90 * time.Second, run: "w"},
			results:     loadResults(map[string][]workflows.Status{"success": {workflows.Completed}}),
			wantText:    []string{"Load w (saga): 1 in 2s, 0.5/s, concurrency 3, window 1m30s, max 2 in flight"},
			wantEnded:   map[string]map[string]int{"success": {"COMPLETED": 1}},
			wantLatency: latencyStats{P50: 1000, P95: 1000, P99: 1000, Max: 1000},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := buildReport(tt.plan, tt.results, 2*time.Second)
			rep.MaxInFlight = 2
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
			l, w := rep.Latency, tt.wantLatency
			if !withinPrecision(l.P50, w.P50) || !withinPrecision(l.P95, w.P95) || !withinPrecision(l.P99, w.P99) || !withinPrecision(l.Max, w.Max) {
				t.Errorf("latencies = %+v, want %+v to 3 significant figures", l, w)
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
			if strings.Contains(buf.String(), "Audit") {
				t.Errorf("a report without an audit mentions one:\n%s", buf.String())
			}
		})
	}
}

func TestLoadReportJSON(t *testing.T) {
	tests := []struct {
		name    string
		plan    loadPlan
		audit   *loadAudit
		want    []string
		wantNot []string
	}{
		{
			name: "baseline has no audit",
			plan: loadPlan{workflow: loadBaseline, concurrency: 1, run: "b"},
			want: []string{`"mismatches": []`, `"latency_ms": {`, `"per_second": 1`, `"max_in_flight": 1`},
			// A baseline run has no window and no audit.
			wantNot: []string{`"audit"`, `"window_seconds"`},
		},
		{
			name:  "passed audit",
			plan:  loadPlan{workflow: loadSaga, concurrency: 1, window: time.Minute, run: "s"},
			audit: passedAudit(),
			want: []string{`"window_seconds": 60`, `"audit": {`, `"ok": true`, `"orders_ended": {`, `"COMPLETED": 2`,
				`"forgotten_completed": 1`, `"orders_running": 1`, `"stuck_after": "30m0s"`, `"kind": "needs_attention"`, `"overdue": false`,
				`"checks": [`, `"name": "stock"`, `"violations": []`, `"captured_cents": 1497`},
			wantNot: []string{`"skipped"`, `"error"`, `"orders_audited"`, `"orders_not_audited"`},
		},
		{
			name:  "failed audit",
			plan:  loadPlan{workflow: loadSaga, concurrency: 1, run: "s"},
			audit: failedAudit(),
			want: []string{`"ok": false`, `"violations": [` + "\n" + `      "order load-s-0 (COMPLETED): charge is \"\", want \"CAPTURED\""`,
				`"kind": "no_progress"`, `"overdue": true`},
		},
		{
			name:  "skipped audit",
			plan:  loadPlan{workflow: loadSaga, concurrency: 1, run: "s"},
			audit: &loadAudit{Skipped: true},
			want:  []string{`"ok": false`, `"skipped": true`},
			// The audit's own fields are absent: it did not run.
			wantNot: []string{`"checks"`, `"violations"`, `"orders_ended"`, `"error"`},
		},
		{
			name:    "audit not run",
			plan:    loadPlan{workflow: loadSaga, concurrency: 1, run: "s"},
			audit:   &loadAudit{Error: "cannot open the stores to audit: no store at x"},
			want:    []string{`"ok": false`, `"error": "cannot open the stores to audit: no store at x"`},
			wantNot: []string{`"checks"`, `"violations"`, `"skipped"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := buildReport(tt.plan, loadResults(map[string][]workflows.Status{loadBaseline: {workflows.Completed}}), time.Second)
			rep.MaxInFlight, rep.Audit = 1, tt.audit
			var buf bytes.Buffer
			if err := cli.WriteJSON(&buf, rep, true); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("JSON report lacks %s:\n%s", want, buf.String())
				}
			}
			for _, not := range tt.wantNot {
				if strings.Contains(buf.String(), not) {
					t.Errorf("JSON report has %s:\n%s", not, buf.String())
				}
			}
		})
	}
}

// The report gives the time to the placements' answers beside the
// end-to-end latency, over the orders that answered only; a run where none
// answered (a baseline run) reports none.
func TestLoadReportAnswers(t *testing.T) {
	success := loadKinds[0]
	answered := func(latency, answer time.Duration) jobResult {
		return jobResult{kind: success, jobEnd: jobEnd{id: "x", status: workflows.Completed, answer: answer}, latency: latency, ended: true}
	}
	tests := []struct {
		name      string
		results   []jobResult
		want      *answerStats
		wantText  string
		wantJSON  string
		noAnswers bool
	}{
		{
			name:     "answered",
			results:  []jobResult{answered(2*time.Second, 40*time.Millisecond), answered(3*time.Second, 80*time.Millisecond), answered(time.Second, 0)},
			want:     &answerStats{latencyStats: latencyStats{P50: 40, P95: 80, P99: 80, Max: 80}, Count: 2},
			wantText: "Answer (ms): p50 40.0  p95 80.1  p99 80.1  max 80.1  (2 placements answered with their reservation or refusal)",
			wantJSON: `"answer_ms": {`,
		},
		{
			name:      "none answered",
			results:   []jobResult{answered(time.Second, 0)},
			noAnswers: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := buildReport(loadPlan{workflow: loadSaga, concurrency: 1, run: "a"}, tt.results, time.Second)
			var text, js bytes.Buffer
			if err := printLoadReport(&text, rep); err != nil {
				t.Fatal(err)
			}
			if err := cli.WriteJSON(&js, rep, true); err != nil {
				t.Fatal(err)
			}
			if tt.noAnswers {
				if rep.Answer != nil || strings.Contains(text.String(), "Answer") || strings.Contains(js.String(), "answer_ms") {
					t.Errorf("no order answered, yet the report has answers: %+v\n%s\n%s", rep.Answer, text.String(), js.String())
				}
				return
			}
			a := rep.Answer
			if a == nil || a.Count != tt.want.Count || !withinPrecision(a.P50, tt.want.P50) || !withinPrecision(a.P99, tt.want.P99) || !withinPrecision(a.Max, tt.want.Max) {
				t.Fatalf("answers = %+v, want %+v to 3 significant figures", a, tt.want)
			}
			if !withinPrecision(rep.Latency.Max, 3000) {
				t.Errorf("end-to-end max = %v ms, want 3000: the answers must not replace the latency", rep.Latency.Max)
			}
			if !strings.Contains(text.String(), tt.wantText) {
				t.Errorf("report lacks %q:\n%s", tt.wantText, text.String())
			}
			if !strings.Contains(js.String(), tt.wantJSON) || !strings.Contains(js.String(), `"count": 2`) {
				t.Errorf("JSON lacks %s with its count:\n%s", tt.wantJSON, js.String())
			}
		})
	}
}
