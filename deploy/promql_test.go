package deploy

import (
	"fmt"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// parsePromQL parses expr as Prometheus parses its queries and rules by
// default: no experimental functions.
func parsePromQL(expr string) (parser.Expr, error) {
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

// metricNames returns the names of the metrics that expr reads, sorted and
// without duplicates: each selector's name, written before its braces or as
// a __name__="..." matcher. A selector that picks its metrics by a pattern
// (__name__=~"...") is an error, because no list of emitted names can vouch
// for it; so is an expr that does not parse.
func metricNames(expr string) ([]string, error) {
	node, err := parsePromQL(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var patternErr error
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name != "" {
			names = append(names, vs.Name)
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != labels.MetricName {
				continue
			}
			if m.Type != labels.MatchEqual {
				if patternErr == nil {
					patternErr = fmt.Errorf("%s: selects metrics by a pattern, %s", expr, m)
				}
				continue
			}
			names = append(names, m.Value)
		}
		return nil
	})
	if patternErr != nil {
		return nil, patternErr
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// TestDashboardQueryMetricNames checks metricNames, on which the checks of
// the dashboard's queries rely to find every metric a query reads.
func TestDashboardQueryMetricNames(t *testing.T) {
	tests := []struct {
		expr    string
		want    []string
		wantErr bool
	}{
		{expr: `up`, want: []string{"up"}},
		{expr: `up{job="ordersaga"}`, want: []string{"up"}},
		{expr: `{__name__="up", job="ordersaga"}`, want: []string{"up"}},
		{expr: `ordersaga:audit_violations:latest > 0`, want: []string{"ordersaga:audit_violations:latest"}},
		{
			expr: `histogram_quantile(0.99, sum by (step, le) (rate(ordersaga_step_duration_seconds_bucket[5m])))`,
			want: []string{"ordersaga_step_duration_seconds_bucket"},
		},
		{
			// Both sides of a binary operator, a subquery, and a name
			// read twice counted once.
			expr: `max_over_time(rate(b_total[1m])[10m:1m]) / on (job) a + a`,
			want: []string{"a", "b_total"},
		},
		{expr: `time() - vector(0)`, want: nil},
		{expr: `{__name__=~"ordersaga_.*"}`, wantErr: true},
		{expr: `sum(rate(up[$__rate_interval]))`, wantErr: true},
		{expr: `sum by (step (up)`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := metricNames(tt.expr)
		if (err != nil) != tt.wantErr {
			t.Errorf("metricNames(%q): error %v, want error: %t", tt.expr, err, tt.wantErr)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
