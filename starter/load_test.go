package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/stores"
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
			if err := writeJSON(&buf, rep, true); err != nil {
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

// passedAudit judged 2 completed, 1 failed and 1 forgotten completed
// order, and notes an order in NEEDS_ATTENTION that is not yet overdue.
func passedAudit() *loadAudit {
	return &loadAudit{OK: true, Report: &audit.Report{
		OrdersEnded:   map[workflows.Status]int{workflows.Completed: 2, workflows.Failed: 1},
		OrdersRunning: 1, ForgottenCompleted: 1, StuckAfter: "30m0s",
		Stuck: []audit.Stuck{{OrderID: "load-s-3", Kind: audit.KindNeedsAttention, For: "2m0s",
			Detail: "a compensation could not be done", Action: "starter resume load-s-3"}},
		SKUs: 12, CapturedCents: 1497, CompletedCents: 1497, Violations: []string{},
		Checks: []audit.Check{{Name: "stock", Detail: "12 SKUs"}, {Name: "money", Detail: "captured $14.97"}},
	}}
}

// failedAudit found two violations and an order stuck past the threshold.
func failedAudit() *loadAudit {
	return &loadAudit{Report: &audit.Report{
		OrdersEnded: map[workflows.Status]int{workflows.Completed: 2}, OrdersRunning: 1, StuckAfter: "30m0s",
		Stuck: []audit.Stuck{{OrderID: "load-s-1", Kind: audit.KindNoProgress, For: "1h0m0s", Overdue: true,
			Detail: "no event since 10:00", Action: "check the workers"}},
		SKUs: 12, CompletedCents: 998,
		Checks: []audit.Check{{Name: "stock"}, {Name: "completed orders", Violations: 1}, {Name: "money", Violations: 1}, {Name: "orders in progress", Violations: 1}},
		Violations: []string{
			`order load-s-0 (COMPLETED): charge is "", want "CAPTURED"`,
			"money: charges captured for ended orders add up to $0.00, completed orders to $9.98",
		},
	}}
}

// stuckAudit found no violation, but an order stuck past the threshold.
func stuckAudit() *loadAudit {
	a := failedAudit()
	a.Violations = []string{}
	a.Checks = []audit.Check{{Name: "stock"}, {Name: "orders in progress", Violations: 1}}
	return a
}

func TestPrintLoadAudit(t *testing.T) {
	tests := []struct {
		name  string
		audit loadAudit
		want  string
	}{
		{"passed", *passedAudit(), "Audit: passed (4 orders ended, stock of 12 SKUs, money: $14.97 captured = $14.97 completed)\n" +
			"  NOTE   order load-s-3: needs_attention for 2m0s: a compensation could not be done; starter resume load-s-3\n"},
		{"failed", *failedAudit(), "Audit: FAILED: completed orders 1, money 1, orders in progress 1 (2 orders ended)\n" +
			"  order load-s-0 (COMPLETED): charge is \"\", want \"CAPTURED\"\n" +
			"  money: charges captured for ended orders add up to $0.00, completed orders to $9.98\n" +
			"  STUCK  order load-s-1: no_progress for 1h0m0s (over the threshold): no event since 10:00; check the workers\n"},
		{"stuck only", *stuckAudit(), "Audit: FAILED: orders in progress 1 (2 orders ended)\n" +
			"  STUCK  order load-s-1: no_progress for 1h0m0s (over the threshold): no event since 10:00; check the workers\n"},
		{"skipped", loadAudit{Skipped: true}, "Audit: skipped (--audit=false)\n"},
		{"not run", loadAudit{Error: "cannot open the stores to audit: no store at x"}, "Audit: not run: cannot open the stores to audit: no store at x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			printLoadAudit(&buf, tt.audit)
			if buf.String() != tt.want {
				t.Errorf("audit printed\n%s\nwant\n%s", buf.String(), tt.want)
			}
		})
	}
}

func TestLoadOutcome(t *testing.T) {
	tests := []struct {
		name    string
		rep     loadReport
		wantErr string // "" for none
	}{
		{"clean", loadReport{Total: 3, Audit: passedAudit()}, ""},
		{"skipped audit", loadReport{Total: 3, Audit: &loadAudit{Skipped: true}}, ""},
		{"baseline", loadReport{Total: 3}, ""},
		{"mismatches", loadReport{Total: 3, Mismatches: []mismatch{{ID: "a"}}, Audit: passedAudit()}, "1 of 3 orders ended otherwise than asked"},
		{"violations", loadReport{Total: 3, Audit: failedAudit()}, "the audit found 2 violation(s) and 1 order(s) stuck over 30m0s"},
		{"stuck only", loadReport{Total: 3, Audit: stuckAudit()}, "the audit found 0 violation(s) and 1 order(s) stuck over 30m0s"},
		{"both", loadReport{Total: 3, Mismatches: []mismatch{{ID: "a"}}, Audit: failedAudit()},
			"1 of 3 orders ended otherwise than asked; the audit found 2 violation(s) and 1 order(s) stuck over 30m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rep.outcome("orders")
			var outcome *outcomeError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("outcome = %v, want nil", err)
			case tt.wantErr != "" && (!errors.As(err, &outcome) || err.Error() != tt.wantErr):
				t.Errorf("outcome = %#v, want an *outcomeError %q (exit 3)", err, tt.wantErr)
			}
		})
	}
}

// fakeTemporal is an audit.Temporal that lists runs of the order
// workflow, each its own placement; a running one has made no progress
// since lastEvent. With listErr, listing fails.
type fakeTemporal struct {
	runs      []audit.OrderRun
	lastEvent time.Time
	listErr   error
}

func (f fakeTemporal) Runs(_ context.Context, fn func(audit.OrderRun) error) error {
	if f.listErr != nil {
		return f.listErr
	}
	for _, r := range f.runs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (f fakeTemporal) FirstRunID(_ context.Context, workflowID, runID string) (string, error) {
	for _, r := range f.runs {
		if r.WorkflowID == workflowID && (runID == "" || r.RunID == runID) {
			return r.RunID, nil
		}
	}
	return "", audit.ErrGone
}

func (f fakeTemporal) Inspect(_ context.Context, workflowID, runID string) (audit.Inspection, error) {
	if _, err := f.FirstRunID(context.Background(), workflowID, runID); err != nil {
		return audit.Inspection{}, err
	}
	return audit.Inspection{LastEventAt: f.lastEvent, LastEvent: "ACTIVITY_TASK_COMPLETED"}, nil
}

// orderRun is a run of order id's workflow, as Temporal lists it.
func orderRun(id, temporalStatus string, status workflows.Status) audit.OrderRun {
	return audit.OrderRun{WorkflowID: ordersaga.WorkflowID(id), RunID: "run-" + id, Start: time.Now().Add(-time.Hour),
		Status: temporalStatus, OrderStatus: status, Placed: true}
}

// TestAuditLoad audits real, empty SQLite stores against a fake Temporal:
// the orders Temporal lists are judged with the stores, a completed order
// that holds nothing is a violation and an order without progress for an
// hour fails the audit; no stores, or a Temporal that cannot list, is an
// error that says what to do, and no stores creates nothing.
func TestAuditLoad(t *testing.T) {
	withStores := t.TempDir()
	_, closeStores, err := stores.Open(context.Background(), withStores, stores.DSNs{})
	if err != nil {
		t.Fatal(err)
	}
	closeStores()
	missing := filepath.Join(t.TempDir(), "nowhere")
	saga := func(audit bool, dir string) loadPlan {
		return loadPlan{workflow: loadSaga, audit: audit, dataDir: dir}
	}
	declined := fakeTemporal{runs: []audit.OrderRun{orderRun("load-r-a", "Failed", workflows.Failed)}}
	tests := []struct {
		name         string
		plan         loadPlan
		temporal     fakeTemporal
		wantSkipped  bool
		wantErr      []string // what the error says, in this order
		wantOK       bool
		wantEnded    int
		wantOverdue  int
		wantViolated string // a violation it must report
	}{
		{name: "baseline has none", plan: loadPlan{workflow: loadBaseline}},
		{name: "skipped", plan: saga(false, missing), wantSkipped: true},
		{name: "no stores", plan: saga(true, missing), temporal: declined,
			wantErr: []string{"cannot open the stores to audit: ", "no store at " + filepath.Join(missing, "inventory.db"),
				"; run starter load where the worker's stores are (--data-dir or the --*-dsn flags), or pass --audit=false"}},
		{name: "Temporal cannot list", plan: saga(true, withStores), temporal: fakeTemporal{listErr: errors.New("list orders in Temporal: unavailable")},
			wantErr: []string{"cannot audit the stores: list orders in Temporal: unavailable; check that they and Temporal are reachable, or pass --audit=false"}},
		{name: "nothing anywhere", plan: saga(true, withStores), wantOK: true},
		{name: "passed", plan: saga(true, withStores), temporal: declined, wantOK: true, wantEnded: 1},
		{name: "violations", plan: saga(true, withStores), wantEnded: 1,
			temporal:     fakeTemporal{runs: []audit.OrderRun{orderRun("load-r-a", "Completed", workflows.Completed)}},
			wantViolated: "order load-r-a (workflow order-load-r-a, run run-load-r-a) (COMPLETED): reservation is none"},
		{name: "stuck", plan: saga(true, withStores), wantOverdue: 1, temporal: fakeTemporal{
			runs:      []audit.OrderRun{orderRun("load-r-b", "Running", workflows.AwaitingFulfillment)},
			lastEvent: time.Now().Add(-time.Hour),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rep loadReport
			err := auditLoad(context.Background(), tt.plan, tt.temporal, &rep)
			if tt.wantErr != nil {
				if err == nil || !containsInOrder(err.Error(), tt.wantErr) {
					t.Errorf("auditLoad error = %v, want one saying %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("auditLoad: %v", err)
			}
			a := rep.Audit
			if tt.plan.workflow == loadBaseline {
				if a != nil {
					t.Errorf("audit = %+v, want none", a)
				}
				return
			}
			wantError := ""
			if err != nil {
				wantError = oneLine(err.Error())
			}
			if a == nil || a.Skipped != tt.wantSkipped || a.OK != tt.wantOK || a.Error != wantError {
				t.Fatalf("audit = %+v; want skipped %v, ok %v, error %q", a, tt.wantSkipped, tt.wantOK, wantError)
			}
			ran := !tt.wantSkipped && tt.wantErr == nil
			if (a.Report != nil) != ran {
				t.Fatalf("audit ran = %v, want it to run only when asked and the stores and Temporal answered", a.Report != nil)
			}
			if !ran {
				return
			}
			if got := endedOrders(*a.Report); got != tt.wantEnded || a.Overdue() != tt.wantOverdue {
				t.Errorf("audit judged %d ended, %d overdue; want %d, %d", got, a.Overdue(), tt.wantEnded, tt.wantOverdue)
			}
			violations := strings.Join(a.Violations, "\n")
			if (tt.wantViolated == "") != (len(a.Violations) == 0) || !strings.Contains(violations, tt.wantViolated) {
				t.Errorf("violations = %q, want one containing %q", a.Violations, tt.wantViolated)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("auditing a missing data directory created it: %v", err)
	}
}

// containsInOrder reports whether s holds each of parts, one after the
// other.
func containsInOrder(s string, parts []string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// TestDriverMaxInFlight: the driver records the most jobs in flight at
// once, which --concurrency bounds.
func TestDriverMaxInFlight(t *testing.T) {
	for _, concurrency := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(concurrency), func(t *testing.T) {
			var started atomic.Int32
			full := make(chan struct{})
			var once sync.Once
			job := func(ctx context.Context, index int, _ loadKind) (jobEnd, error) {
				// The first jobs wait until all the slots are taken.
				if int(started.Add(1)) == concurrency {
					once.Do(func() { close(full) })
				}
				select {
				case <-full:
				case <-ctx.Done():
				}
				return jobEnd{id: fmt.Sprint(index), status: workflows.Completed}, nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d := &driver{plan: loadPlan{concurrency: concurrency, kinds: slices.Repeat([]loadKind{loadKinds[0]}, 20)}, job: job}
			results, _ := d.drive(ctx, &progress{off: true})
			if ctx.Err() != nil || countEnded(results) != 20 {
				t.Fatalf("%d of 20 jobs ended (ctx %v)", countEnded(results), ctx.Err())
			}
			if d.maxInFlight != concurrency {
				t.Errorf("max in flight = %d, want %d", d.maxInFlight, concurrency)
			}
		})
	}
}

// TestLoadFlagsGetAsFarAsConnecting: flags that are right (or that do not
// apply to the run, as the audit's to a baseline) are no usage error.
func TestLoadFlagsGetAsFarAsConnecting(t *testing.T) {
	for name, args := range map[string][]string{
		"window":                         load("--orders", "2", "--concurrency", "2", "--window", "10m"),
		"longest window":                 load("--orders", "2", "--concurrency", "2", "--window", "168h"),
		"no audit, bad DSN left unread":  load("--orders", "2", "--concurrency", "2", "--audit=false", "--payment-dsn", "x"),
		"baseline with --audit":          load("--orders", "2", "--concurrency", "2", "--workflow", "baseline", "--audit"),
		"baseline with store flags":      load("--orders", "2", "--concurrency", "2", "--workflow", "baseline", "--data-dir", "/nowhere", "--shipping-dsn", "x"),
		"saga with a PostgreSQL DSN set": load("--orders", "2", "--concurrency", "2", "--inventory-dsn", "postgres://u@db:5432/x"),
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runStarter(t, args...)
			if code != exitError || !strings.Contains(stderr, "connect to Temporal at "+deadAddress) {
				t.Errorf("exit code %d, stderr %q; want a connection error to %s", code, stderr, deadAddress)
			}
		})
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
			if err := writeJSON(&js, rep, true); err != nil {
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

// A load's cancel that the order refuses, or that finds it ended, is no
// error of the job: the order's ending is judged instead. Any other error
// of the cancel is the job's.
func TestLoadCancelError(t *testing.T) {
	noAnswer := &orderclient.NoAnswerError{OrderID: "load-r-1", Timeout: 30 * time.Second}
	broken := errors.New("cancel order load-r-1: connection reset")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"accepted", nil, nil},
		{"refused", &orderclient.RefusedError{OrderID: "load-r-1", Reason: "order load-r-1 cannot be cancelled: shipment shp_1 was already created"}, nil},
		{"ended", &orderclient.EndedError{OrderID: "load-r-1", Status: workflows.Completed}, nil},
		{"ended, wrapped", fmt.Errorf("cancel: %w", &orderclient.EndedError{OrderID: "load-r-1", Status: workflows.Failed}), nil},
		{"no answer", noAnswer, noAnswer},
		{"server error", broken, broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadCancelError(tt.err); got != tt.want {
				t.Errorf("loadCancelError(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
