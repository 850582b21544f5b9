package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/stores"
)

func TestParseAuditFlags(t *testing.T) {
	o, err := parseFlags([]string{"-audit", "2000"})
	if err != nil {
		t.Fatal(err)
	}
	if o.audit != 2000 || o.auditReal != 50 || o.auditRuns != 3 || o.auditOut != "bench/audit.md" {
		t.Errorf("got audit %d, real %d, runs %d, out %q", o.audit, o.auditReal, o.auditRuns, o.auditOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-audit", "-5"}, "--audit is -5"},
		{[]string{"-audit", "10", "-open", "10"}, "not both"},
		{[]string{"-audit", "10", "-audit-real", "0"}, "at least 1 real order"},
		{[]string{"-audit", "10", "-audit-runs", "0"}, "1 run"},
	} {
		if _, err := parseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

func TestMix(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want mixCounts
	}{
		{0, mixCounts{}},
		{1, mixCounts{declined: 1}},
		{7, mixCounts{completed: 4, declined: 2, cancelled: 1}},
		{100_000, mixCounts{completed: 85_000, declined: 10_000, cancelled: 5_000}},
	} {
		if got := countMix(tc.n); got != tc.want {
			t.Errorf("countMix(%d) = %+v, want %+v", tc.n, got, tc.want)
		}
	}
	if got := countMix(100).undone(); got != 15 {
		t.Errorf("undone of 100: %d, want 15", got)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestGenOrderAt(t *testing.T) {
	placements, orderIDs := map[string]bool{}, map[string]bool{}
	for i := range 10_000 {
		o := genOrderAt(i)
		if !uuidRE.MatchString(o.placement) {
			t.Fatalf("order %d: placement %q is not a version 4 UUID", i, o.placement)
		}
		if placements[o.placement] || orderIDs[o.orderID] {
			t.Fatalf("order %d: placement %q or order ID %q seen before", i, o.placement, o.orderID)
		}
		placements[o.placement], orderIDs[o.orderID] = true, true
		if o.end != endOf(i) {
			t.Fatalf("order %d ends %s, want %s", i, o.end, endOf(i))
		}
		if len(o.items) < 1 || len(o.items) > 3 {
			t.Fatalf("order %d: %d items", i, len(o.items))
		}
		skus := map[string]bool{}
		for _, it := range o.items {
			if !slices.Contains(genSKUs, it.SKU) || skus[it.SKU] || it.Qty < 1 || it.Qty > maxGenQty {
				t.Fatalf("order %d: items %+v", i, o.items)
			}
			skus[it.SKU] = true
		}
	}
	a, b := genOrderAt(42), genOrderAt(42)
	if a.placement != b.placement || !slices.Equal(a.items, b.items) {
		t.Errorf("order 42 twice: %+v and %+v", a, b)
	}
	if got := a.key("charge"); got != "order-forgotten-0000042/charge" {
		t.Errorf("key = %q", got)
	}
	o := genOrder{items: []inventory.Item{{SKU: "STICKER-PACK", Qty: 2}, {SKU: "MUG-GOPHER", Qty: 1}}}
	if got := o.totalCents(map[string]int64{"STICKER-PACK": 499, "MUG-GOPHER": 1299}); got != 2*499+1299 {
		t.Errorf("total of 2 × 499 + 1299: %d", got)
	}
}

// nothingInTemporal is a Temporal that never knew any order.
type nothingInTemporal struct{}

func (nothingInTemporal) Runs(context.Context, func(audit.OrderRun) error) error { return nil }
func (nothingInTemporal) FirstRunID(context.Context, string, string) (string, error) {
	return "", audit.ErrGone
}
func (nothingInTemporal) Inspect(context.Context, string, string) (audit.Inspection, error) {
	return audit.Inspection{}, audit.ErrGone
}

// TestGenerateMakesStoresThatPass writes a few placements of each kind
// and audits them as `worker audit` does: every one judged by the stores
// alone, the stock and the money consistent.
func TestGenerateMakesStoresThatPass(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const n = 45
	if err := generate(ctx, dir, n); err != nil {
		t.Fatal(err)
	}
	r, err := audit.RunAt(ctx, dir, stores.DSNs{}, nothingInTemporal{}, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mix := countMix(n)
	if !r.OK() || r.ForgottenCompleted != mix.completed || r.ForgottenUndone != mix.undone() || r.CapturedCents == 0 {
		t.Errorf("audit: ok %v, forgotten %d completed and %d undone (want %d and %d), captured %d cents; violations %q",
			r.OK(), r.ForgottenCompleted, r.ForgottenUndone, mix.completed, mix.undone(), r.CapturedCents, r.Violations)
	}
}

func benchRun(wall time.Duration, rssMiB int64, completed, undone int, ended map[string]int) auditRun {
	r := auditRun{wall: wall, cpu: wall / 2, peakRSS: rssMiB << 20, load: 0.5}
	r.report = auditReport{OK: true, OrdersEnded: ended, ForgottenCompleted: completed, ForgottenUndone: undone}
	return r
}

func TestAuditBenchVerdict(t *testing.T) {
	ended := map[string]int{"COMPLETED": 7, "FAILED": 2, "CANCELLED": 1}
	ab := auditBench{n: 100, real: 10, mix: countMix(100), generation: 90 * time.Second, startLoad: 0.4,
		runs: []auditRun{benchRun(4*time.Second, 50, 85, 15, ended), benchRun(5*time.Second, 48, 85, 15, ended)}}
	if p := ab.problems(); len(p) != 0 {
		t.Fatalf("problems of good runs: %q", p)
	}
	if w := ab.worst(); w.wall != 5*time.Second || w.peakRSS != 50<<20 {
		t.Errorf("worst: %s, %d MiB", w.wall, w.peakRSS>>20)
	}
	md := ab.markdown(options{audit: 100})
	for _, want := range []string{
		"# Benchmark: the audit of 100 orders",
		"85 completed", "10 declined", "5 cancelled", "took **90.0 s**",
		"| 1 | 4.0 s | 2.0 s | 50 MiB | 110 | 85, 15 | 10 (1 CANCELLED, 7 COMPLETED, 2 FAILED) | passed | 0.50 |",
		"| **worst** | **5.0 s** | 2.5 s | **50 MiB** |",
		"every audit under 60.0 s: worst 5.0 s, met",
		"peak RSS under 300 MiB: worst 50 MiB, met",
		"judged all 110 orders as generated and placed: met",
		"make bench-audit AUDIT_ORDERS=100",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Problems") {
		t.Errorf("markdown of good runs lists problems:\n%s", md)
	}

	slow := benchRun(61*time.Second, 301, 85, 15, ended)
	failed := benchRun(time.Second, 10, 84, 15, ended)
	failed.report.OK, failed.report.Violations = false, []string{"money: off by a cent"}
	ab.runs = []auditRun{slow, failed}
	want := []string{
		"audit 1 took 61.0 s, over the 60.0 s target",
		"audit 1: peak RSS 301 MiB, over the 300 MiB target",
		"audit 2 did not pass (1 violations: money: off by a cent)",
		"audit 2 judged 109 orders, want 110",
		"audit 2: 84 forgotten completed and 15 undone, want 85 and 15",
	}
	if p := ab.problems(); !slices.Equal(p, want) {
		t.Errorf("problems:\n got %q\nwant %q", p, want)
	}
	md = ab.markdown(options{audit: 100})
	for _, want := range []string{"worst 61.0 s, NOT met", "worst 301 MiB, NOT met", "as generated and placed: NOT met", "Problems:"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100_050: "100,050", 1_234_567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
