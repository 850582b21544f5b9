package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	promlabels "github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// The files under deploy/ that this test holds to what the processes
// really expose.
const (
	alertRulesFile     = "deploy/prometheus/alerts.yml"
	dashboardFile      = "deploy/grafana/dashboards/ordersaga.json"
	emittedMetricsFile = "deploy/prometheus/emitted-metrics.txt"
)

// The scrape interval: short, so that a test of well under a minute gives
// rate() and increase() many samples in a one-minute window, as compose's
// Prometheus (every 15s) does over a longer life. A scrape that gets no
// answer within the timeout, which Prometheus bounds by the interval,
// fails: the target is down.
const (
	scrapeInterval = 2 * time.Second
	scrapeTimeout  = scrapeInterval
)

// TestObservability runs the saga as compose does, one worker process per
// service next to the Temporal server, and scrapes every process the way
// compose's Prometheus does while orders complete, are declined, are
// cancelled, stop in NEEDS_ATTENTION and wait on a service that no worker
// polls, and while the audit finds a broken promise. Then, against what was
// scraped: the alerts for those fire and the others stay quiet, every
// dashboard query returns a series, and every metric name that the rules
// and the dashboard may use is one that the processes expose.
func TestObservability(t *testing.T) {
	s := newStack(t)
	prom := newScraper(t)

	// prometheus.yml scrapes the server as a static target (job temporal)
	// and finds the workers (job ordersaga) through Docker's DNS, which
	// names a compose service's running containers: each service is its
	// own container there, labelled service, and here its own process,
	// which becomes a target when it starts, as a container does. (A
	// stopped container drops out of DNS, and so out of the targets: its
	// up does not stay 0.)
	prom.addTarget("temporal", "127.0.0.1:"+serverMetricsPort(t, s.server))
	prom.start(t)
	metricsAddr := map[string]string{}
	for _, svc := range []string{"order", "inventory", "payment", "shipping", "audit"} {
		metricsAddr[svc] = "127.0.0.1:" + freePort(t)
	}

	extraFlags := map[string][]string{
		// As in attention_test: a refund that cannot take the payment
		// database's lock gives up soon, and the order needs attention.
		"order": {"--compensation-timeout", "3s"},
		// The schedule's first run audits at once; the next only when
		// triggered.
		"audit": {"--audit-every", "1h"},
	}
	startWorkers := func(svcs ...string) {
		t.Helper()
		procs := make([]*process, len(svcs))
		for i, svc := range svcs {
			args := []string{"run", "--temporal-address", s.address, "--data-dir", s.dataDir, "--stop-timeout", "2s",
				"--services", svc, "--metrics-addr", metricsAddr[svc], "--log-format", "json"}
			procs[i] = startProcess(t, svc, nil, workerBin, append(args, extraFlags[svc]...)...)
			prom.addTarget("ordersaga", metricsAddr[svc], "service", svc)
		}
		for _, p := range procs {
			p.waitOutput(t, "worker started", workerStartTimeout)
		}
	}
	place := func(id, item, token, address, window string, wait bool, wantCode int) orderclient.View {
		t.Helper()
		args := []string{"place", "--id", id, "--customer", "c-" + id, "--item", item, "--payment", token,
			"--address", address, "--cancel-window", window, "-o", "json"}
		if wait {
			args = append(args, "--wait")
		}
		return view(t, s.starter(t, args...), wantCode)
	}
	startWorkers("order", "inventory", "shipping")

	// No worker has polled task queue "payment" yet. The server's matching
	// counts no_poller_tasks when a task is added to a queue whose root
	// partition no worker polled in the last two minutes
	// (noPollerThreshold, a constant in Server 1.29.1's
	// service/matching/physical_task_queue_manager.go): a payment worker
	// stopped during a test this short would not be counted, one that
	// never started is. The counter's series is born with the first
	// charge's count, and increase() sees only what a counter gains after
	// its first scrape: the alert needs a second charge to wait, as it
	// would in production, where orders keep coming.
	place("obs-nopoller-1", "BOOK-GOPL:1", payment.TokenVisa, shipTo, "0s", false, 0)
	prom.waitFor(t, `no_poller_tasks{job="temporal",taskqueue="payment"}`, "the server counts a charge waiting on task queue payment")
	place("obs-nopoller-2", "STICKER-PACK:1", payment.TokenVisa, shipTo, "0s", false, 0)
	prom.waitFor(t, `increase(no_poller_tasks{job="temporal",taskqueue="payment"}[5m]) > 0`, "a second charge waiting on payment")
	// The audit reads the three stores, payment's too: it starts once
	// payment's worker has created it.
	startWorkers("payment")
	startWorkers("audit")
	for _, id := range []string{"obs-nopoller-1", "obs-nopoller-2"} {
		if v := s.wait(t, id); v.Status != workflows.Completed {
			t.Fatalf("order %s, once payment had a worker: %s", id, v.Status)
		}
	}

	// Declined: the charge fails and the reservation is released.
	if v := place("obs-declined", "MUG-GOPHER:1", "tok_declined", shipTo, "0s", true, 3); v.Status != workflows.Failed {
		t.Fatalf("order obs-declined: %s", v.Status)
	}
	// Cancelled in its window: refunded and released.
	place("obs-cancel", "STICKER-PACK:1", payment.TokenVisa, shipTo, "10m", false, 0)
	s.waitStatus(t, "obs-cancel", workflows.AwaitingFulfillment)
	if v := view(t, s.starter(t, "cancel", "obs-cancel", "--reason", "changed my mind", "--wait", "-o", "json"), 0); v.Status != workflows.Cancelled {
		t.Fatalf("order obs-cancel: %s", v.Status)
	}
	// NEEDS_ATTENTION, as in attention_test: the shipment fails after the
	// window, and the refund cannot take the payment database's lock
	// within the compensation timeout. The order stays there.
	place("obs-attention", "BOOK-GOPL:1", payment.TokenVisa, "undeliverable: nowhere", "8s", false, 0)
	s.waitStatus(t, "obs-attention", workflows.AwaitingFulfillment)
	release := holdWriteLock(t, filepath.Join(s.dataDir, payment.DatabaseFile))
	s.waitStatus(t, "obs-attention", workflows.NeedsAttention)
	release()

	// The audit finds a broken promise, as in schedule_test: stock changed
	// behind the inventory store's back, and the schedule triggered.
	s.driftStockAndAudit(t, s.waitAuditRun(t, nil))
	prom.waitFor(t, `ordersaga_audit_violations{service="audit"} > 0`, "the audit's violations gauge scraped")

	// Two more scrapes, so that every series born by the last event has
	// the two samples that rate() and increase() need; then the scraping
	// stops, and its last time is the time every query is evaluated at.
	prom.waitRounds(t, 2)
	at := prom.stop()

	if down := prom.query(t, `up == 0`, at); len(down) > 0 {
		t.Errorf("targets down at the last scrape: %v", down)
	}
	// The names a query may select: those scraped, up, and those the
	// recording rules add (checkAlerts adds them). A query must not
	// select another even where it returns a series anyway, through "or
	// vector(0)" or absent().
	known := prom.metricNames()
	known["up"] = true
	t.Run("alerts", func(t *testing.T) { checkAlerts(t, prom, at, known) })
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, prom, at, known) })
	t.Run("emitted metrics", func(t *testing.T) { checkEmittedMetrics(t, prom) })
}

// serverMetricsPort is the port of the dev server's Prometheus endpoint
// (start-dev --metrics-port).
func serverMetricsPort(t *testing.T, s *server) string {
	t.Helper()
	for i, arg := range s.args {
		if arg == "--metrics-port" && i+1 < len(s.args) {
			return s.args[i+1]
		}
	}
	t.Fatalf("the dev server was started without --metrics-port: %v", s.args)
	return ""
}

// checkAlerts evaluates every rule of alerts.yml at at, group by group and
// rule by rule, as Prometheus's rule manager does: a recording rule's
// result is written to storage, where the rules after it read it. An alert
// is taken to fire when its expression returns a series; how long that
// must hold first (for:) is Prometheus's own business, which a test of a
// minute cannot wait out.
func checkAlerts(t *testing.T, prom *scraper, at time.Time, known map[string]bool) {
	groups, errs := rulefmt.ParseFile(filepath.Join(repoRoot, alertRulesFile), false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil)
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil {
		t.FailNow()
	}
	firing := map[string]promql.Vector{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			checkNames(t, "rule "+r.Record+r.Alert, r.Expr, known)
			v, err := prom.eval(r.Expr, at)
			if err != nil {
				t.Errorf("rule %s%s: %v", r.Record, r.Alert, err)
				continue
			}
			if r.Record != "" {
				known[r.Record] = true
				prom.record(t, r.Record, r.Labels, v, at)
				t.Logf("recorded %s: %v", r.Record, v)
				continue
			}
			if len(v) > 0 {
				firing[r.Alert] = v
			}
			t.Logf("alert %s: %v", r.Alert, v)
		}
	}

	// OrderNeedsAttention fires through the audit's count: the order
	// worker's counter of them is born at 1 with the first, which
	// increase() does not see.
	for _, name := range []string{"OrderNeedsAttention", "AuditViolation"} {
		if len(firing[name]) == 0 {
			t.Errorf("alert %s does not fire", name)
		}
	}
	paymentNoPoller := slices.ContainsFunc(firing["ServiceNoPoller"], func(s promql.Sample) bool {
		return s.Metric.Get("taskqueue") == ordersaga.PaymentTaskQueue || s.Metric.Get("service") == "payment"
	})
	if !paymentNoPoller {
		t.Errorf("alert ServiceNoPoller does not fire for payment: %v", firing["ServiceNoPoller"])
	}
	// No step took 30 seconds, no order has been open for the stuck
	// threshold, and the audit ran a moment ago.
	for _, name := range []string{"StepLatencyHigh", "AuditStuckOrders", "AuditNotRunning"} {
		if v, ok := firing[name]; ok {
			t.Errorf("alert %s fires: %v", name, v)
		}
	}
}

// dashboard is the part of a Grafana dashboard's JSON that holds its
// queries.
type dashboard struct {
	Panels     []dashboardPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Time struct {
		From string `json:"from"` // now-3h, say
	} `json:"time"`
}

type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	// A collapsed row holds its panels.
	Panels []dashboardPanel `json:"panels"`
}

// grafanaVariables are the values given to Grafana's built-in variables
// in the dashboard's queries: the windows Grafana chooses for compose's
// Prometheus, which scrapes every 15s ($__rate_interval is four scrape
// intervals), on a wide screen. $__range, the dashboard's time range, is
// set from the dashboard; any range covers the whole test.
var grafanaVariables = map[string]string{
	"__rate_interval":    "1m",
	"__rate_interval_ms": "60000",
	"__interval":         "30s",
	"__interval_ms":      "30000",
}

var grafanaVariable = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// checkDashboard evaluates every query of the dashboard at at: each must
// return a series, so each names metrics that the processes expose, with
// labels that match theirs.
func checkDashboard(t *testing.T, prom *scraper, at time.Time, known map[string]bool) {
	b, err := os.ReadFile(filepath.Join(repoRoot, dashboardFile))
	if err != nil {
		t.Fatalf("the dashboard: %v", err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	vars := maps.Clone(grafanaVariables)
	span := time.Hour
	if r, err := model.ParseDuration(strings.TrimPrefix(d.Time.From, "now-")); err == nil {
		span = time.Duration(r)
	}
	vars["__range"] = model.Duration(span).String()
	vars["__range_s"] = fmt.Sprint(int64(span.Seconds()))
	vars["__range_ms"] = fmt.Sprint(span.Milliseconds())
	// The dashboard's own variables (a service to show, say) take every
	// value, as "All" does.
	templated := map[string]bool{}
	for _, v := range d.Templating.List {
		templated[v.Name] = true
	}
	substitute := func(expr string) string {
		return grafanaVariable.ReplaceAllStringFunc(expr, func(m string) string {
			sub := grafanaVariable.FindStringSubmatch(m)
			name := sub[1] + sub[2] + sub[3]
			if v, ok := vars[name]; ok {
				return v
			}
			if templated[name] {
				return ".*"
			}
			return m
		})
	}
	queries := 0
	var walk func(panels []dashboardPanel)
	walk = func(panels []dashboardPanel) {
		for _, p := range panels {
			for _, q := range p.Targets {
				if strings.TrimSpace(q.Expr) == "" {
					continue
				}
				queries++
				expr := substitute(q.Expr)
				checkNames(t, fmt.Sprintf("panel %q, query %s", p.Title, q.RefID), expr, known)
				v, err := prom.eval(expr, at)
				switch {
				case err != nil:
					t.Errorf("panel %q, query %s: %v\n  %s", p.Title, q.RefID, err, expr)
				case len(v) == 0:
					t.Errorf("panel %q, query %s returns no series:\n  %s", p.Title, q.RefID, expr)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if queries == 0 {
		t.Errorf("%s has no queries (panels[].targets[].expr)", dashboardFile)
	}
	t.Logf("%d dashboard queries evaluated", queries)
}

// checkNames checks that every metric name that expr selects is known.
func checkNames(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return // eval says why
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" && !known[vs.Name] {
			t.Errorf("%s selects %s, which no process exposed and no rule records", where, vs.Name)
		}
		return nil
	})
}

// checkEmittedMetrics checks that every name in emitted-metrics.txt, the
// names the dashboard and the rules may use, is one that a process exposed
// (or up, which Prometheus adds).
func checkEmittedMetrics(t *testing.T, prom *scraper) {
	f, err := os.Open(filepath.Join(repoRoot, emittedMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scraped := prom.metricNames()
	scraped["up"] = true
	listed := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		listed++
		if scraped[name] {
			continue
		}
		// Close relatives help whoever fixes the list.
		var near []string
		stem := name[:strings.LastIndexByte(name, '_')+1]
		for n := range scraped {
			if stem != "" && strings.HasPrefix(n, stem) {
				near = append(near, n)
			}
		}
		sort.Strings(near)
		t.Errorf("%s lists %s, which no process exposed; exposed with its stem: %v", emittedMetricsFile, name, near)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if listed == 0 {
		t.Errorf("%s lists no metric", emittedMetricsFile)
	}
}

// scraper does what compose's Prometheus does with the processes, as far
// as the rules and the dashboard depend on it: it scrapes every target on
// a fixed interval with Prometheus's own exposition parser, adds the
// target's labels (job, instance, and service for a worker) as a scrape
// config with honor_labels: false does, records up, marks the series a
// target stopped exposing stale, and keeps it all in memory for
// Prometheus's PromQL engine to query.
type scraper struct {
	db      *memStorage
	engine  *promql.Engine
	client  *http.Client
	targets []*scrapeTarget // guarded by mu

	quit, done chan struct{}
	stopOnce   sync.Once

	mu       sync.Mutex
	started  int       // rounds of scrapes begun
	finished int       // rounds of scrapes ended
	last     time.Time // when the last round ended
	names    map[string]bool
}

// scrapeTarget is one process's metrics endpoint.
type scrapeTarget struct {
	url    string
	labels promlabels.Labels
	// live are the series of the last scrape, which the next one marks
	// stale if it does not have them.
	live    map[uint64]promlabels.Labels
	lastErr error // guarded by the scraper's mu
}

// acceptHeader is what Prometheus 3 asks a target for by default
// (scrape_protocols: OpenMetrics first, then the text format).
const acceptHeader = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.7," +
	"application/openmetrics-text;version=0.0.1;q=0.6," +
	"text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5," +
	"text/plain;version=0.0.4;q=0.4,*/*;q=0.3"

func newScraper(t *testing.T) *scraper {
	t.Helper()
	return &scraper{
		db: newMemStorage(),
		engine: promql.NewEngine(promql.EngineOpts{
			MaxSamples:    50_000_000,
			Timeout:       30 * time.Second,
			LookbackDelta: 5 * time.Minute, // Prometheus's default
			NoStepSubqueryIntervalFn: func(int64) int64 {
				return scrapeInterval.Milliseconds()
			},
			EnableAtModifier:     true,
			EnableNegativeOffset: true,
		}),
		client: &http.Client{Timeout: scrapeTimeout},
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		names:  map[string]bool{},
	}
}

// addTarget adds http://addr/metrics with job and further labels (name,
// value pairs), to be scraped from the next round on; the instance label
// is addr, as Prometheus sets it.
func (s *scraper) addTarget(job, addr string, more ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.targets = append(s.targets, &scrapeTarget{
		url:    "http://" + addr + "/metrics",
		labels: promlabels.FromStrings(append([]string{"job", job, "instance", addr}, more...)...),
	})
}

// start scrapes every target now and then every scrapeInterval, until
// stop or the test's end.
func (s *scraper) start(t *testing.T) {
	go func() {
		defer close(s.done)
		tick := time.NewTicker(scrapeInterval)
		defer tick.Stop()
		for {
			s.round()
			select {
			case <-s.quit:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { s.stop() })
}

// stop ends the scraping, after the round under way, and returns when the
// last round ended.
func (s *scraper) stop() time.Time {
	s.stopOnce.Do(func() { close(s.quit) })
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// round scrapes every target at once, as Prometheus's scrape loops do.
func (s *scraper) round() {
	s.mu.Lock()
	s.started++
	targets := slices.Clone(s.targets)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, tg := range targets {
		wg.Go(func() { s.scrape(tg) })
	}
	wg.Wait()
	s.mu.Lock()
	s.finished++
	s.last = time.Now()
	s.mu.Unlock()
}

// scrape scrapes one target and appends what it exposed, stamped with the
// scrape's start, plus up: 1, or 0 when the scrape failed, which then
// stores none of the target's samples.
func (s *scraper) scrape(tg *scrapeTarget) {
	ts := time.Now().UnixMilli()
	app := s.db.Appender()
	seen := map[uint64]promlabels.Labels{}
	names := map[string]bool{}
	up := 1.0
	err := s.appendScrape(app, tg, ts, seen, names)
	if err != nil {
		up = 0
		app.Rollback()
		app = s.db.Appender()
		seen, names = map[uint64]promlabels.Labels{}, nil
	}
	// A series the target no longer exposes (all of them, when it is
	// down) is marked stale, as Prometheus does: it drops out of queries
	// at once instead of lingering for the lookback delta.
	for h, l := range tg.live {
		if _, ok := seen[h]; !ok {
			_ = app.Append(l, ts, math.Float64frombits(value.StaleNaN))
		}
	}
	tg.live = seen
	upLabels := promlabels.NewBuilder(tg.labels).Set(promlabels.MetricName, "up").Labels()
	_ = app.Append(upLabels, ts, up)
	app.Commit()
	s.mu.Lock()
	tg.lastErr = err
	for n := range names {
		s.names[n] = true
	}
	s.mu.Unlock()
}

// appendScrape fetches the target's exposition and appends its samples,
// noting each series in seen and each metric name in names.
func (s *scraper) appendScrape(app *memAppender, tg *scrapeTarget, ts int64, seen map[uint64]promlabels.Labels, names map[string]bool) error {
	req, err := http.NewRequest(http.MethodGet, tg.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprint(scrapeTimeout.Seconds()))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", tg.url, resp.Status)
	}
	// New's error may only warn, with a parser to use anyway.
	p, err := textparse.New(body, resp.Header.Get("Content-Type"), nil, textparse.ParserOptions{IgnoreNativeHistograms: true})
	if p == nil {
		return err
	}
	var exposed promlabels.Labels
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tg.url, err)
		}
		if entry != textparse.EntrySeries {
			continue
		}
		_, stamp, v := p.Series()
		p.Labels(&exposed)
		l := withTargetLabels(exposed, tg.labels)
		at := ts
		if stamp != nil {
			at = *stamp
		}
		if err := app.Append(l, at, v); err != nil {
			return fmt.Errorf("%s: append %s: %w", tg.url, l, err)
		}
		seen[l.Hash()] = l
		names[l.Get(promlabels.MetricName)] = true
	}
}

// withTargetLabels sets the target's labels on an exposed series, as
// Prometheus does with honor_labels: false: an exposed label that a
// target label overrides is kept as exported_<name>.
func withTargetLabels(exposed, target promlabels.Labels) promlabels.Labels {
	b := promlabels.NewBuilder(exposed)
	target.Range(func(l promlabels.Label) {
		if v := exposed.Get(l.Name); v != "" {
			name := model.ExportedLabelPrefix + l.Name
			for exposed.Has(name) {
				name = model.ExportedLabelPrefix + name
			}
			b.Set(name, v)
		}
		b.Set(l.Name, l.Value)
	})
	return b.Labels()
}

// metricNames are the metric names of every successful scrape.
func (s *scraper) metricNames() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make(map[string]bool, len(s.names))
	for n := range s.names {
		names[n] = true
	}
	return names
}

// waitRounds waits until n rounds of scrapes that began after the call
// have ended.
func (s *scraper) waitRounds(t *testing.T, n int) {
	t.Helper()
	s.mu.Lock()
	want := s.started + n
	s.mu.Unlock()
	eventually(t, time.Duration(n+2)*(scrapeInterval+scrapeTimeout), fmt.Sprintf("%d more rounds of scrapes", n), func() (bool, string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.finished >= want, fmt.Sprintf("%d of %d rounds", s.finished, want)
	})
}

// waitFor waits until expr, evaluated now, returns a series: until what it
// asks has been scraped.
func (s *scraper) waitFor(t *testing.T, expr, what string) {
	t.Helper()
	eventually(t, 45*time.Second, what+": "+expr, func() (bool, string) {
		v, err := s.eval(expr, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return len(v) > 0, s.targetErrors()
	})
}

// targetErrors says why targets failed their last scrape.
func (s *scraper) targetErrors() string {
	var out []string
	s.mu.Lock()
	for _, tg := range s.targets {
		if tg.lastErr != nil {
			out = append(out, tg.lastErr.Error())
		}
	}
	s.mu.Unlock()
	if len(out) == 0 {
		return "every target answered its last scrape"
	}
	return strings.Join(out, "; ")
}

// query evaluates expr at ts, failing the test on an error.
func (s *scraper) query(t *testing.T, expr string, ts time.Time) promql.Vector {
	t.Helper()
	v, err := s.eval(expr, ts)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// eval evaluates expr at ts, as an instant query or a rule does, and
// returns its series (a scalar as one without labels).
func (s *scraper) eval(expr string, ts time.Time) (promql.Vector, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, err := s.engine.NewInstantQuery(ctx, s.db, nil, expr, ts)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		if math.IsNaN(v.V) {
			return nil, nil
		}
		return promql.Vector{{T: v.T, F: v.V}}, nil
	case promql.Matrix:
		var out promql.Vector
		for _, series := range v {
			if n := len(series.Floats); n > 0 {
				out = append(out, promql.Sample{Metric: series.Metric, T: series.Floats[n-1].T, F: series.Floats[n-1].F})
			}
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s: a %s, not series", expr, res.Value.Type())
	}
}

// record stores a recording rule's result at ts, named name with the
// rule's labels, as Prometheus's rule manager does.
func (s *scraper) record(t *testing.T, name string, ruleLabels map[string]string, v promql.Vector, ts time.Time) {
	t.Helper()
	app := s.db.Appender()
	for _, smp := range v {
		b := promlabels.NewBuilder(smp.Metric).Set(promlabels.MetricName, name)
		for k, val := range ruleLabels {
			b.Set(k, val)
		}
		if err := app.Append(b.Labels(), ts.UnixMilli(), smp.F); err != nil {
			t.Fatalf("record %s: %v", name, err)
		}
	}
	app.Commit()
}
