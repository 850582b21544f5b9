package deploy

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/dns"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Prometheus's files in the checkout, relative to this directory.
const (
	prometheusConfig = "prometheus/prometheus.yml"
	alertRules       = "prometheus/alerts.yml"
	emittedMetrics   = "prometheus/emitted-metrics.txt"
)

// The scrape jobs, as the alert rules and the dashboard name them.
const (
	workersJob  = "ordersaga"
	temporalJob = "temporal"
	// serviceLabel names the compose service of a workersJob target.
	serviceLabel = "service"
)

// prometheusModule is the Go module of Prometheus, whose packages load
// the files here and whose release the prom/prometheus image is.
const prometheusModule = "github.com/prometheus/prometheus"

// jaegerOTLPPorts are the ports the Jaeger image's OTLP receivers listen
// on, by the exporter protocol each speaks: the embedded all-in-one.yaml
// at v2.20.0 binds ${JAEGER_LISTEN_HOST}:4317 (gRPC) and :4318 (HTTP), and
// its Dockerfile sets JAEGER_LISTEN_HOST=0.0.0.0.
var jaegerOTLPPorts = map[string]string{"grpc": "4317", "http/protobuf": "4318"}

// Variables of internal/tracing (the OpenTelemetry ones it reads).
const (
	otlpEndpointEnv = "OTEL_EXPORTER_OTLP_ENDPOINT"
	otlpProtocolEnv = "OTEL_EXPORTER_OTLP_PROTOCOL"
	otelServiceEnv  = "OTEL_SERVICE_NAME"
	// defaultOTLPProtocol is internal/tracing's protocol when none is set.
	defaultOTLPProtocol = "http/protobuf"
)

// loadPrometheusConfig loads prometheus.yml as Prometheus does at start.
func loadPrometheusConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.LoadFile(prometheusConfig, false, promslog.NewNopLogger())
	if err != nil {
		t.Fatalf("Prometheus does not load %s: %v", prometheusConfig, err)
	}
	return cfg
}

func scrapeJob(t *testing.T, cfg *config.Config, name string) *config.ScrapeConfig {
	t.Helper()
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName == name {
			return sc
		}
	}
	t.Fatalf("%s has no job %q", prometheusConfig, name)
	return nil
}

// hostPath is the file of the checkout that service s mounts at the
// container's path p: the most specific bind mount of p or of a directory
// holding it.
func hostPath(s types.ServiceConfig, p string) (string, bool) {
	best, host := -1, ""
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		rest, ok := strings.CutPrefix(p, v.Target)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) || len(v.Target) <= best {
			continue
		}
		best, host = len(v.Target), filepath.Join(v.Source, filepath.FromSlash(rest))
	}
	return host, best >= 0
}

// imageConfigFile is where the Prometheus image reads its configuration:
// --config.file of the service's command, or of the image's CMD in its
// Dockerfile at the module's version.
func imageConfigFile(t *testing.T, s types.ServiceConfig) string {
	t.Helper()
	args := []string(s.Command)
	if len(args) == 0 {
		dockerfile, ok := moduleFile(t, prometheusModule, prometheusVersion(t), "Dockerfile")
		if !ok {
			return "/etc/prometheus/prometheus.yml" // the Dockerfile's at v0.316.0
		}
		m := regexp.MustCompile(`--config\.file=([^"\s]+)`).FindStringSubmatch(dockerfile)
		if m == nil {
			t.Fatalf("%s's Dockerfile runs no --config.file: check the image again", prometheusModule)
		}
		return m[1]
	}
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			return v
		}
		if a == "--config.file" && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatalf("%s: its command %q has no --config.file", s.Name, args)
	return ""
}

// prometheusVersion is the version of prometheusModule that deploy/go.mod
// requires, which this test is built with.
func prometheusVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(prometheusModule) + `\s+(v\S+)`).FindStringSubmatch(readFile(t, "go.mod"))
	if m == nil {
		t.Fatalf("go.mod does not require %s", prometheusModule)
	}
	return m[1]
}

// TestPrometheusImageIsTheModule: the image runs the release whose Go
// packages load the configuration and the rules here. Prometheus 3.N.P is
// the module v0.3NN.P.
func TestPrometheusImageIsTheModule(t *testing.T) {
	p := load(t, true)
	_, tag, _ := splitImage(one(t, p, "prom/prometheus").Image)
	m := regexp.MustCompile(`^v3\.(\d+)\.(\d+)$`).FindStringSubmatch(tag)
	if m == nil {
		t.Fatalf("prom/prometheus:%s is not a v3.N.P release", tag)
	}
	minor, _ := strconv.Atoi(m[1])
	want := fmt.Sprintf("v0.%d.%s", 300+minor, m[2])
	if got := prometheusVersion(t); got != want {
		t.Errorf("the image runs Prometheus %s but deploy/go.mod requires %s %s (want %s): move them together", tag, prometheusModule, got, want)
	}
}

// TestPrometheusConfigIsMounted: Prometheus loads prometheus.yml, from where
// the image reads its configuration, and every rule file it names is one
// of the checkout that the service mounts: alerts.yml.
func TestPrometheusConfigIsMounted(t *testing.T) {
	p := load(t, true)
	prom := one(t, p, "prom/prometheus")
	cfgPath := imageConfigFile(t, prom)
	src, ok := hostPath(prom, cfgPath)
	abs, _ := filepath.Abs(prometheusConfig)
	if !ok || src != abs {
		t.Errorf("%s: the image reads %s, which is mounted from %q, not %s", prom.Name, cfgPath, src, prometheusConfig)
	}

	cfg := loadPrometheusConfig(t)
	var mounted []string
	for _, pattern := range cfg.RuleFiles {
		if !path.IsAbs(pattern) {
			t.Errorf("rule_files: %s is relative to the configuration's directory: give its path in the container", pattern)
			continue
		}
		src, ok := hostPath(prom, pattern)
		if !ok {
			t.Errorf("rule_files: %s is not mounted in %s", pattern, prom.Name)
			continue
		}
		matches, err := filepath.Glob(src)
		if err != nil || len(matches) == 0 {
			t.Errorf("rule_files: %s is mounted from %s, which matches no file", pattern, src)
		}
		mounted = append(mounted, matches...)
	}
	abs, _ = filepath.Abs(alertRules)
	if !slices.Contains(mounted, abs) {
		t.Errorf("%s's rule_files %q do not load %s (they load %q)", prometheusConfig, cfg.RuleFiles, alertRules, mounted)
	}
}

// TestPrometheusScrapesEveryWorker: every container that serves the
// services' metrics (the ordersaga image with ORDERSAGA_METRICS_ADDR) is
// found by its compose service name, on its metrics port, in the workers'
// job, with the service label the alerts and the dashboard group by; no
// name is one compose no longer has.
func TestPrometheusScrapesEveryWorker(t *testing.T) {
	p := load(t, true)
	cfg := loadPrometheusConfig(t)
	job := scrapeJob(t, cfg, workersJob)

	want := map[string]int{} // service → metrics port
	for name, s := range p.Services {
		addr := env(s, "ORDERSAGA_METRICS_ADDR")
		if s.Build == nil || addr == "" {
			continue
		}
		_, port, err := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(port)
		if err != nil || n == 0 {
			t.Errorf("%s: ORDERSAGA_METRICS_ADDR=%q has no port", name, addr)
			continue
		}
		want[name] = n
	}
	if got, all := slices.Sorted(maps.Keys(want)), slices.Sorted(slices.Values(runners())); !slices.Equal(got, all) {
		t.Errorf("services serving metrics: %v, want the services and the audit %v", got, all)
	}

	got := map[string]int{}
	for _, c := range job.ServiceDiscoveryConfigs {
		sd, ok := c.(*dns.SDConfig)
		if !ok {
			t.Errorf("job %s: %s discovery: find the replicas by DNS, which answers with every one of them", workersJob, c.Name())
			continue
		}
		if sd.Type != "A" {
			t.Errorf("job %s: DNS type %q, want A: compose's DNS has no SRV records", workersJob, sd.Type)
		}
		for _, n := range sd.Names {
			got[n] = sd.Port
		}
	}
	for name, port := range want {
		if got[name] != port {
			t.Errorf("job %s does not scrape %s on port %d (DNS SD names %v)", workersJob, name, port, got)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("job %s looks up %s, which is no service serving metrics in %s", workersJob, name, composeFile)
		}
	}

	// The target a replica of payment becomes carries service="payment".
	lb := labels.NewBuilder(labels.FromMap(map[string]string{
		model.AddressLabel: "172.18.0.7:9090",
		"__meta_dns_name":  "payment",
	}))
	if !relabel.ProcessBuilder(lb, job.RelabelConfigs...) {
		t.Fatalf("job %s drops a replica of payment", workersJob)
	}
	if got := lb.Get(serviceLabel); got != "payment" {
		t.Errorf("job %s: a replica of payment has %s=%q, want payment", workersJob, serviceLabel, got)
	}
}

// TestPrometheusScrapesTemporal: the temporal job scrapes the server's
// PROMETHEUS_ENDPOINT, which listens where the prometheus container can
// reach it.
func TestPrometheusScrapesTemporal(t *testing.T) {
	p := load(t, true)
	server := one(t, p, "temporalio/server")
	host, port, err := net.SplitHostPort(env(server, "PROMETHEUS_ENDPOINT"))
	if err != nil {
		t.Fatalf("%s: PROMETHEUS_ENDPOINT=%q: %v", server.Name, env(server, "PROMETHEUS_ENDPOINT"), err)
	}
	if host != "0.0.0.0" && host != "" {
		t.Errorf("%s: PROMETHEUS_ENDPOINT listens on %s only: the prometheus container cannot reach it", server.Name, host)
	}
	job := scrapeJob(t, loadPrometheusConfig(t), temporalJob)
	var targets []string
	for _, c := range job.ServiceDiscoveryConfigs {
		static, ok := c.(discovery.StaticConfig)
		if !ok {
			t.Errorf("job %s: %s discovery, want the one server as a static target", temporalJob, c.Name())
			continue
		}
		for _, g := range static {
			for _, lbls := range g.Targets {
				targets = append(targets, string(lbls[model.AddressLabel]))
			}
		}
	}
	if want := net.JoinHostPort(server.Name, port); !slices.Equal(targets, []string{want}) {
		t.Errorf("job %s scrapes %q, want the server's PROMETHEUS_ENDPOINT, %s", temporalJob, targets, want)
	}
}

// TestAlertRulesNameEmittedMetrics: every metric an alert or recording rule
// reads is one the workers or the server expose (emitted-metrics.txt) or
// a recording rule of the same file; a misspelt name would make its alert
// silently never fire.
func TestAlertRulesNameEmittedMetrics(t *testing.T) {
	emitted := map[string]bool{}
	for line := range strings.Lines(readFile(t, emittedMetrics)) {
		if name := strings.TrimSpace(line); name != "" && !strings.HasPrefix(name, "#") {
			emitted[name] = true
		}
	}
	groups, errs := rulefmt.ParseFile(alertRules, false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", alertRules, errs)
	}
	recorded := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			metrics, err := metricNames(r.Expr) // the PromQL AST's selectors (promql_test.go)
			if err != nil {
				t.Errorf("%s: %s: %v", alertRules, name, err)
				continue
			}
			for _, m := range metrics {
				if !emitted[m] && !recorded[m] {
					t.Errorf("%s: %s reads %s, which is neither in %s nor a recording rule", alertRules, name, m, emittedMetrics)
				}
			}
		}
	}
}

// TestObservabilityPublishedOnLoopback: every port the stack publishes is
// on loopback (none of them asks for a login, or only for one that .env
// sets), and the three UIs are where the README says.
func TestObservabilityPublishedOnLoopback(t *testing.T) {
	p := load(t, true)
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s: publishes %d on %q: publish on 127.0.0.1 only", name, port.Target, port.HostIP)
			}
		}
	}
	tests := []struct {
		image     string
		published string
		target    uint32
	}{
		{"prom/prometheus", "9090", 9090},
		{"grafana/grafana", "3000", 3000},
		{"jaegertracing/jaeger", "16686", 16686},
	}
	for _, tt := range tests {
		s := one(t, p, tt.image)
		if !slices.ContainsFunc(s.Ports, func(port types.ServicePortConfig) bool {
			return port.Published == tt.published && port.Target == tt.target
		}) {
			t.Errorf("%s: ports %+v do not publish 127.0.0.1:%s to its %d", s.Name, s.Ports, tt.published, tt.target)
		}
	}
}

// TestGrafanaIsProvisioned: Grafana reads the checkout's provisioning and
// dashboards, read-only, where the image and the dashboard provider look,
// and its admin password comes from .env.
func TestGrafanaIsProvisioned(t *testing.T) {
	p := load(t, true)
	g := one(t, p, "grafana/grafana")
	for target, dir := range map[string]string{
		"/etc/grafana/provisioning":   "grafana/provisioning", // GF_PATHS_PROVISIONING
		"/var/lib/grafana/dashboards": "grafana/dashboards",   // provisioning/dashboards' file provider
	} {
		abs, _ := filepath.Abs(dir)
		if src, ok := hostPath(g, target); !ok || src != abs {
			t.Errorf("%s: %s is mounted from %q, want deploy/%s", g.Name, target, src, dir)
		}
	}
	raw := service(t, load(t, false), g.Name)
	if v := env(raw, "GF_SECURITY_ADMIN_PASSWORD"); !strings.HasPrefix(v, "${GRAFANA_ADMIN_PASSWORD:?") {
		t.Errorf("%s: GF_SECURITY_ADMIN_PASSWORD=%q, want ${GRAFANA_ADMIN_PASSWORD:?…} from .env", g.Name, v)
	}
}

// TestTracesGoToJaeger: every process of the ordersaga image that places
// or runs orders exports its spans to the jaeger service, on the port of
// the receiver for the protocol it speaks, under its own service name.
func TestTracesGoToJaeger(t *testing.T) {
	p := load(t, true)
	jaeger := one(t, p, "jaegertracing/jaeger").Name
	sources := goSources(t)
	names := map[string]string{}
	for _, name := range append(runners(), "starter") {
		s := service(t, p, name)
		endpoint := env(s, otlpEndpointEnv)
		u, err := url.Parse(endpoint)
		if endpoint == "" || err != nil {
			t.Errorf("%s: %s=%q: its traces go nowhere", name, otlpEndpointEnv, endpoint)
			continue
		}
		protocol := env(s, otlpProtocolEnv)
		if protocol == "" {
			protocol = defaultOTLPProtocol
		}
		want, ok := jaegerOTLPPorts[protocol]
		if !ok {
			t.Errorf("%s: %s=%q, which Jaeger has no receiver for", name, otlpProtocolEnv, protocol)
			continue
		}
		if u.Scheme != "http" || u.Hostname() != jaeger || u.Port() != want {
			t.Errorf("%s: %s=%s, want http://%s:%s (Jaeger's %s receiver)", name, otlpEndpointEnv, endpoint, jaeger, want, protocol)
		}
		svc := env(s, otelServiceEnv)
		if svc == "" {
			t.Errorf("%s: no %s: its spans would share the binary's default name", name, otelServiceEnv)
		} else if other, dup := names[svc]; dup {
			t.Errorf("%s and %s both name their spans %s", name, other, svc)
		}
		names[svc] = name
	}
	// The names are the ones internal/tracing documents and reads.
	for _, v := range []string{otlpEndpointEnv, otlpProtocolEnv, otelServiceEnv} {
		if !regexp.MustCompile(`\b` + v + `\b`).Match(sources) {
			t.Errorf("%s is set in %s but no Go source mentions it", v, composeFile)
		}
	}
}
