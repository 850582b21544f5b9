package e2e

import (
	"maps"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/workflows"
)

// loadReport is the part of `starter load -o json` the test reads.
type loadReport struct {
	Workflow string `json:"workflow"`
	Total    int    `json:"total"`
	Latency  struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latency_ms"`
	PerSecond float64 `json:"per_second"`
	Outcomes  map[string]struct {
		Count int              `json:"count"`
		Want  workflows.Status `json:"want"`
		Ended map[string]int   `json:"ended"`
	} `json:"outcomes"`
	Mismatches []map[string]string `json:"mismatches"`
}

// TestLoad drives a small load of real orders and of the baseline workflow
// through the starter, checks that every one ended as its kind asked and
// that the report adds up, then that the audit is clean.
func TestLoad(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker", "--benchmark-baseline")

	saga := runLoad(t, s, "--orders", "20", "--concurrency", "5", "--mix", "success=60,declined=20,cancel=20")
	assertLoad(t, saga, "saga", 20, map[string]map[string]int{
		"success":  {"COMPLETED": 12},
		"declined": {"FAILED": 4},
		"cancel":   {"CANCELLED": 4},
	})

	base := runLoad(t, s, "--workflow", "baseline", "--orders", "20", "--concurrency", "5")
	assertLoad(t, base, "baseline", 20, map[string]map[string]int{"baseline": {"COMPLETED": 20}})

	// Text output, as a script or CI log gets it: progress lines, then the report.
	r := s.starter(t, "load", "--workflow", "baseline", "--orders", "3", "--concurrency", "3", "--rate", "20")
	for _, want := range []string{"3/3 done (0 not as asked)", "Load ", "(baseline): 3 in", "rate limit 20/s", "Latency (ms): p50", "All ended as asked."} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("starter load (text) lacks %q: %s", want, r)
		}
	}

	assertAuditClean(t, s, map[workflows.Status]int{workflows.Completed: 12, workflows.Failed: 4, workflows.Cancelled: 4})
}

// runLoad runs `starter load -o json` with args and decodes its report.
func runLoad(t *testing.T, s *stack, args ...string) loadReport {
	t.Helper()
	r := s.starter(t, append([]string{"load", "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("starter load %v: %s", args, r)
	}
	var rep loadReport
	decode(t, r, &rep)
	return rep
}

// assertLoad checks a load report's totals, outcomes and latencies.
func assertLoad(t *testing.T, rep loadReport, workflow string, total int, ended map[string]map[string]int) {
	t.Helper()
	if rep.Workflow != workflow || rep.Total != total || rep.PerSecond <= 0 {
		t.Errorf("%s load: workflow %q, total %d, %.2f/s; want %q, %d, a positive rate", workflow, rep.Workflow, rep.Total, rep.PerSecond, workflow, total)
	}
	if len(rep.Mismatches) != 0 {
		t.Errorf("%s load: %d ended otherwise than asked: %v", workflow, len(rep.Mismatches), rep.Mismatches)
	}
	if len(rep.Outcomes) != len(ended) {
		t.Errorf("%s load: outcomes %v, want %v", workflow, rep.Outcomes, ended)
	}
	for kind, want := range ended {
		if got := rep.Outcomes[kind].Ended; !maps.Equal(got, want) {
			t.Errorf("%s load: %s ended %v, want %v", workflow, kind, got, want)
		}
	}
	l := rep.Latency
	if l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
		t.Errorf("%s load: latencies not positive and ordered: %+v", workflow, l)
	}
}
