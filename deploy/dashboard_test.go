package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// The Grafana files: the dashboard, and the provisioning that gives Grafana
// its Prometheus data source and loads the dashboard at start.
const (
	dashboardFile           = "grafana/dashboards/ordersaga.json"
	grafanaDatasourcesFile  = "grafana/provisioning/datasources/prometheus.yml"
	grafanaDashboardsFile   = "grafana/provisioning/dashboards/ordersaga.yml"
	grafanaDashboardsDir    = "/var/lib/grafana/dashboards"
	grafanaDatasourceUID    = "prometheus"
	grafanaDatasourceURL    = "http://prometheus:9090"
	dashboardEmittedMetrics = "prometheus/emitted-metrics.txt"
	dashboardAlertRules     = "prometheus/alerts.yml"
)

// The dashboard schemaVersions the Grafana 11 and 12 lines take: older
// models, from Grafana 9's 36 on, they migrate as they load them; a model
// newer than 42 comes from a newer Grafana than the stack runs.
const (
	dashboardMinSchemaVersion = 36
	dashboardMaxSchemaVersion = 42
)

// grafanaDashboard is the part of Grafana's dashboard JSON model that the
// checks read.
type grafanaDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaPanel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Datasource  *grafanaDSRef  `json:"datasource"`
	Targets     []grafanaQuery `json:"targets"`
	// A collapsed row keeps its panels here, out of the dashboard's own list.
	Panels  []json.RawMessage `json:"panels"`
	GridPos struct {
		X int `json:"x"`
		Y int `json:"y"`
		W int `json:"w"`
		H int `json:"h"`
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"` // nil: the base, from -Inf
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type grafanaDSRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaQuery struct {
	RefID        string        `json:"refId"`
	Expr         string        `json:"expr"`
	LegendFormat string        `json:"legendFormat"`
	Datasource   *grafanaDSRef `json:"datasource"`
}

// dashboardVars are the values the checks give the variables Grafana
// replaces in a query before Prometheus sees it: its interval variables,
// as Grafana would fill them with a 15s scrape interval over 1h. A template
// variable added to the dashboard needs a sample value here, so that its
// queries are checked as Prometheus will receive them.
var dashboardVars = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "1h",
}

// grafanaVar matches Grafana's three ways of writing a variable: $name,
// ${name} or ${name:format}, and [[name]]. A name does not start with a
// digit, so label_replace's "$1" is left alone, as Grafana leaves it.
var grafanaVar = regexp.MustCompile(`\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]`)

// expandDashboardVars replaces every variable in expr by its value in
// dashboardVars; a variable without one is an error.
func expandDashboardVars(expr string) (string, error) {
	var unknown []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		m := grafanaVar.FindStringSubmatch(v)
		name := m[1] + m[2] + m[3]
		value, ok := dashboardVars[name]
		if !ok {
			unknown = append(unknown, v)
			return v
		}
		return value
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("no sample value for %s in dashboardVars", strings.Join(unknown, ", "))
	}
	return out, nil
}

func TestDashboardExpandVars(t *testing.T) {
	tests := []struct {
		expr    string
		want    string
		wantErr bool
	}{
		{expr: `rate(x[$__rate_interval])`, want: `rate(x[1m])`},
		{expr: `increase(x[${__range}]) / rate(x[[[__interval]]])`, want: `increase(x[1h]) / rate(x[15s])`},
		{expr: `label_replace(x, "q", "$1", "task_queue", "(.*)")`, want: `label_replace(x, "q", "$1", "task_queue", "(.*)")`},
		{expr: `x{service="$service"}`, wantErr: true},
		{expr: `rate(x[$__interval_ms])`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := expandDashboardVars(tt.expr)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("expandDashboardVars(%q) = %q, %v; want %q, error: %t", tt.expr, got, err, tt.want, tt.wantErr)
		}
	}
}

func loadDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if len(d.Panels) == 0 {
		t.Fatalf("%s: no panels", dashboardFile)
	}
	return d
}

// TestDashboardModel checks what Grafana needs to load the dashboard and
// what an operator needs to read it: every panel says what it shows and
// what to do about it, and queries the provisioned Prometheus.
func TestDashboardModel(t *testing.T) {
	d := loadDashboard(t)
	if d.UID != "ordersaga" {
		t.Errorf("uid = %q, want ordersaga (links and the provisioning name it)", d.UID)
	}
	if d.Title != "Order saga" {
		t.Errorf("title = %q, want %q", d.Title, "Order saga")
	}
	if d.SchemaVersion < dashboardMinSchemaVersion || d.SchemaVersion > dashboardMaxSchemaVersion {
		t.Errorf("schemaVersion = %d, want %d to %d (Grafana 11 and 12)", d.SchemaVersion, dashboardMinSchemaVersion, dashboardMaxSchemaVersion)
	}
	for _, v := range d.Templating.List {
		if _, ok := dashboardVars[v.Name]; !ok {
			t.Errorf("template variable %q has no sample value in dashboardVars", v.Name)
		}
	}

	wantDS := grafanaDSRef{Type: "prometheus", UID: grafanaDatasourceUID}
	ids := map[int]string{}
	for _, p := range d.Panels {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.Title == "" {
			t.Errorf("%s: no title", name)
		}
		if strings.TrimSpace(p.Description) == "" {
			t.Errorf("%s: no description of what it shows and what to do", name)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id already used by %q", name, other)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" || len(p.Panels) > 0 {
			t.Errorf("%s: a row; keep the panels in the dashboard's own list", name)
		}
		if p.Datasource == nil || *p.Datasource != wantDS {
			t.Errorf("%s: datasource %+v, want %+v", name, p.Datasource, wantDS)
		}
		if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside Grafana's 24 columns", name, g)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no queries", name)
		}
		refIDs := map[string]bool{}
		for _, q := range p.Targets {
			if q.RefID == "" || refIDs[q.RefID] {
				t.Errorf("%s: refId %q empty or repeated", name, q.RefID)
			}
			refIDs[q.RefID] = true
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("%s, query %s: no expr", name, q.RefID)
			}
			if q.LegendFormat == "" {
				t.Errorf("%s, query %s: no legendFormat", name, q.RefID)
			}
			if q.Datasource != nil && *q.Datasource != wantDS {
				t.Errorf("%s, query %s: datasource %v, want %v", name, q.RefID, *q.Datasource, wantDS)
			}
		}
	}
}

// knownDashboardMetrics returns the names a query may read: the metrics the
// workers and the Temporal server emit (emitted-metrics.txt) and the
// recording rules of alerts.yml.
func knownDashboardMetrics(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	f, err := os.Open(dashboardEmittedMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			known[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	groups, errs := rulefmt.ParseFile(dashboardAlertRules, false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil)
	for _, err := range errs {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				known[r.Record] = true
			}
		}
	}
	return known
}

// TestDashboardQueries checks every query as Prometheus will receive it,
// once Grafana has filled in its variables: it parses, and every metric it
// reads is one the code emits or a recording rule, so that a renamed metric
// fails here instead of leaving a panel empty.
func TestDashboardQueries(t *testing.T) {
	d := loadDashboard(t)
	known := knownDashboardMetrics(t)
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			where := fmt.Sprintf("panel %q, query %s", p.Title, q.RefID)
			expr, err := expandDashboardVars(q.Expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			names, err := metricNames(expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if len(names) == 0 {
				t.Errorf("%s: reads no metric: %s", where, q.Expr)
			}
			for _, n := range names {
				if !known[n] {
					t.Errorf("%s reads %s, which is neither in %s nor a recording rule in %s", where, n, dashboardEmittedMetrics, dashboardAlertRules)
				}
			}
		}
	}
}

// panelQueries is what a panel's queries read and how: the metrics, the
// labels they are summed by, and the quantiles taken of histograms.
type panelQueries struct {
	metrics   map[string]bool
	by        map[string]bool
	quantiles map[float64]bool
}

// analyzeDashboardPanel gathers what a panel's queries read; a query that
// does not parse is left out, for TestDashboardQueries reports it.
func analyzeDashboardPanel(p grafanaPanel) panelQueries {
	pq := panelQueries{metrics: map[string]bool{}, by: map[string]bool{}, quantiles: map[float64]bool{}}
	for _, q := range p.Targets {
		expr, err := expandDashboardVars(q.Expr)
		if err != nil {
			continue
		}
		names, err := metricNames(expr)
		if err != nil {
			continue
		}
		for _, n := range names {
			pq.metrics[n] = true
		}
		node, _ := parsePromQL(expr)
		parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
			switch n := n.(type) {
			case *parser.AggregateExpr:
				if !n.Without {
					for _, l := range n.Grouping {
						pq.by[l] = true
					}
				}
			case *parser.Call:
				if n.Func.Name == "histogram_quantile" && len(n.Args) > 0 {
					if q, ok := n.Args[0].(*parser.NumberLiteral); ok {
						pq.quantiles[q.Val] = true
					}
				}
			}
			return nil
		})
	}
	return pq
}

// TestDashboardTopics checks that the dashboard answers the questions it is
// for, each in one panel: which metrics that panel reads, what it splits
// them by, and which quantiles it shows. Deleting or gutting a panel fails.
func TestDashboardTopics(t *testing.T) {
	topics := []struct {
		topic     string
		metrics   []string
		by        []string
		quantiles []float64
		stat      bool // a single number, red above 0
	}{
		{
			topic: "orders per minute by outcome",
			metrics: []string{
				"ordersaga_orders_started_total", "ordersaga_orders_completed_total",
				"ordersaga_orders_failed_total", "ordersaga_orders_cancelled_total",
			},
		},
		{
			topic:   "orders in NEEDS_ATTENTION now",
			metrics: []string{"ordersaga:audit_needs_attention:latest"},
			stat:    true,
		},
		{
			topic: "the audit's findings and when it last ran",
			metrics: []string{
				"ordersaga:audit_violations:latest", "ordersaga:audit_stuck_orders:latest",
				"ordersaga_audit_last_run_timestamp_seconds",
			},
		},
		{
			topic:   "compensations run and failed",
			metrics: []string{"ordersaga_compensations_run_total", "ordersaga_compensations_failed_total"},
			by:      []string{"compensation"},
		},
		{
			topic:   "failed orders by step and reason",
			metrics: []string{"ordersaga_orders_failed_total"},
			by:      []string{"step", "reason"},
		},
		{
			topic:     "step latency",
			metrics:   []string{"ordersaga_step_duration_seconds_bucket"},
			by:        []string{"step"},
			quantiles: []float64{0.5, 0.95, 0.99},
		},
		{
			topic:   "activity retries per service",
			metrics: []string{"temporal_activity_execution_failed_total"},
			by:      []string{"task_queue"},
		},
		{
			topic:     "workflow task latency",
			metrics:   []string{"temporal_workflow_task_execution_latency_seconds_bucket"},
			by:        []string{"task_queue"},
			quantiles: []float64{0.95},
		},
		{
			topic: "schedule-to-start latency",
			metrics: []string{
				"temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
				"temporal_activity_schedule_to_start_latency_seconds_bucket",
			},
			by:        []string{"task_queue"},
			quantiles: []float64{0.95},
		},
		{
			topic:   "pollers per service",
			metrics: []string{"temporal_num_pollers"},
			by:      []string{"task_queue"},
		},
		{
			topic:   "tasks with no poller",
			metrics: []string{"no_poller_tasks"},
			by:      []string{"taskqueue"},
		},
		{
			topic:   "replicas up per service",
			metrics: []string{"up"},
			by:      []string{"service"},
		},
	}

	d := loadDashboard(t)
	analyzed := make([]panelQueries, len(d.Panels))
	for i, p := range d.Panels {
		analyzed[i] = analyzeDashboardPanel(p)
	}
	for _, tt := range topics {
		found := slices.IndexFunc(analyzed, func(pq panelQueries) bool {
			for _, m := range tt.metrics {
				if !pq.metrics[m] {
					return false
				}
			}
			for _, l := range tt.by {
				if !pq.by[l] {
					return false
				}
			}
			for _, q := range tt.quantiles {
				if !pq.quantiles[q] {
					return false
				}
			}
			return true
		})
		if found < 0 {
			want := "read " + strings.Join(tt.metrics, ", ")
			if len(tt.by) > 0 {
				want += fmt.Sprintf(" by %s", strings.Join(tt.by, ", "))
			}
			if len(tt.quantiles) > 0 {
				want += fmt.Sprintf(" at quantiles %v", tt.quantiles)
			}
			t.Errorf("no panel shows %s: want one whose queries %s", tt.topic, want)
			continue
		}
		p := d.Panels[found]
		if tt.stat {
			if p.Type != "stat" {
				t.Errorf("panel %q (%s) is a %s, want a stat", p.Title, tt.topic, p.Type)
			}
			if !redAboveZero(p) {
				t.Errorf("panel %q (%s): thresholds %s, want red from 1 (above 0) and another color below",
					p.Title, tt.topic, thresholdSteps(p))
			}
		}
	}
}

// redAboveZero reports whether a panel's thresholds show a count of 0 in a
// color other than red, and any count from 1 up in red.
func redAboveZero(p grafanaPanel) bool {
	steps := p.FieldConfig.Defaults.Thresholds.Steps
	if len(steps) < 2 || steps[0].Value != nil || steps[0].Color == "red" {
		return false
	}
	last := steps[len(steps)-1]
	return last.Color == "red" && last.Value != nil && *last.Value > 0 && *last.Value <= 1
}

// thresholdSteps prints a panel's thresholds as Grafana's editor shows them.
func thresholdSteps(p grafanaPanel) string {
	var b strings.Builder
	for _, st := range p.FieldConfig.Defaults.Thresholds.Steps {
		if st.Value == nil {
			fmt.Fprintf(&b, "[base: %s]", st.Color)
		} else {
			fmt.Fprintf(&b, "[%g: %s]", *st.Value, st.Color)
		}
	}
	return b.String()
}

// TestGrafanaProvisioning checks that Grafana, at start, gets the Prometheus
// data source under the uid every panel names and loads the dashboards from
// the directory compose mounts them in.
func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string `yaml:"name"`
			Type      string `yaml:"type"`
			UID       string `yaml:"uid"`
			URL       string `yaml:"url"`
			Access    string `yaml:"access"`
			IsDefault bool   `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	readGrafanaYAML(t, grafanaDatasourcesFile, &ds)
	if ds.APIVersion != 1 {
		t.Errorf("%s: apiVersion %d, want 1", grafanaDatasourcesFile, ds.APIVersion)
	}
	if len(ds.Datasources) != 1 {
		t.Fatalf("%s: %d data sources, want 1", grafanaDatasourcesFile, len(ds.Datasources))
	}
	got := ds.Datasources[0]
	checks := []struct{ field, got, want string }{
		{"name", got.Name, "Prometheus"},
		{"type", got.Type, "prometheus"},
		{"uid", got.UID, grafanaDatasourceUID},
		{"url", got.URL, grafanaDatasourceURL},
		{"access", got.Access, "proxy"},
		{"isDefault", fmt.Sprint(got.IsDefault), "true"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: data source %s = %q, want %q", grafanaDatasourcesFile, c.field, c.got, c.want)
		}
	}

	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Folder  string `yaml:"folder"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readGrafanaYAML(t, grafanaDashboardsFile, &dp)
	if dp.APIVersion != 1 {
		t.Errorf("%s: apiVersion %d, want 1", grafanaDashboardsFile, dp.APIVersion)
	}
	if len(dp.Providers) != 1 {
		t.Fatalf("%s: %d providers, want 1", grafanaDashboardsFile, len(dp.Providers))
	}
	p := dp.Providers[0]
	if p.Type != "file" || p.Folder != "ordersaga" || p.Options.Path != grafanaDashboardsDir {
		t.Errorf("%s: provider type %q, folder %q, path %q; want file, ordersaga, %s",
			grafanaDashboardsFile, p.Type, p.Folder, p.Options.Path, grafanaDashboardsDir)
	}
}

func readGrafanaYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
