package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/internal/tracing"
	"github.com/ordersaga/ordersaga/workflows"
)

// Workflows that load can drive.
const (
	loadSaga     = "saga"
	loadBaseline = "baseline"
)

// loadCancelWindow is the cancel window of a load's cancel orders: long
// enough for the load to see AWAITING_FULFILLMENT and send the cancel even
// under load. The other kinds get --window, 0 (ship at once) by default.
const loadCancelWindow = 30 * time.Second

// defaultMix is --mix's default.
const defaultMix = "success=80,declined=10,flaky=5,cancel=5"

// loadKind is a kind of order in the mix: how it is paid, whether it is
// cancelled, and how it must end.
type loadKind struct {
	name   string
	token  string
	cancel bool
	want   workflows.Status
}

// loadKinds are the kinds --mix knows, in the order reports list them.
var loadKinds = []loadKind{
	{name: "success", token: "tok_visa", want: workflows.Completed},
	{name: "declined", token: "tok_declined", want: workflows.Failed},
	{name: "flaky", token: "tok_flaky", want: workflows.Completed},
	{name: "cancel", token: "tok_visa", cancel: true, want: workflows.Cancelled},
}

// baselineKind is every job of a baseline run: it must complete.
var baselineKind = loadKind{name: loadBaseline, want: workflows.Completed}

// loadFlags are load's flags.
type loadFlags struct {
	orders, concurrency int
	rate                float64
	mix                 string
	mixSet              bool // --mix was given
	workflow            string
	window              time.Duration
	windowSet           bool // --window was given
	audit               bool
	dataDir             string
	dsns                stores.DSNs
}

func newLoadCommand(a *app) *cobra.Command {
	var lf loadFlags
	cmd := &cobra.Command{
		Use:   "load --orders N --concurrency C [--rate R] [--mix KIND=WEIGHT,...] [--window D] [--workflow saga|baseline]",
		Short: "Place many orders at once and report throughput, latency and outcomes",
		Long: `load places --orders real orders, as place does, at most --concurrency at a
time and, with --rate, at most that many per second; it waits for each to end
and reports orders/s, the end-to-end latency (p50, p95, p99, max, from an HDR
histogram to 3 significant figures), the time to each order's answer (its
reservation or refusal, as place answers; -o json: answer_ms), the most jobs
in flight at once and the outcomes by kind. Order IDs are a run prefix and an index (load-<run>-<i>).

--mix weighs the kinds of order: success (tok_visa, must COMPLETE), declined
(tok_declined, must FAIL), flaky (tok_flaky, must COMPLETE after retries) and
cancel (a 30s cancel window; load cancels it once it is AWAITING_FULFILLMENT,
as 'starter cancel' does, and it must end CANCELLED; a cancel the order
refuses leaves it to end otherwise, which the report shows). --window gives
the other kinds a cancel window, so that many orders are open at once; they
ship when it ends.

After the run, load audits the stores against Temporal as 'worker audit'
does: every order in them and every order Temporal lists, the run's among
them. It must run where the worker's stores are (--data-dir, or
--inventory-dsn, --payment-dsn and --shipping-dsn, as the worker takes
them). --audit=false skips it.

--workflow baseline runs the baseline workflow (three no-op activities) instead,
as workflows baseline-<run>-<i>; a worker must run with --benchmark-baseline.
Every one must complete; --mix and --window do not apply, and there is no audit.

A terminal shows one updating progress line, other outputs a line every few
seconds, -o json none. The report lists every order that ended otherwise than
its kind asked, and every violation and stuck order the audit found; the
exit status is 3 when an order ended otherwise or the audit failed (a
violation, or an order stuck past its threshold).`,
		Example: `  starter load --orders 200 --concurrency 20
  starter load --orders 1000 --concurrency 50 --rate 25 --mix success=70,declined=10,flaky=10,cancel=10
  starter load --orders 500 --concurrency 500 --window 2m --data-dir /var/lib/ordersaga
  starter load --workflow baseline --orders 1000 --concurrency 50 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lf.mixSet = cmd.Flags().Changed("mix")
			lf.windowSet = cmd.Flags().Changed("window")
			plan, err := lf.plan()
			if err != nil {
				return usageError(cmd, err)
			}
			return a.load(cmd.Context(), plan)
		},
	}
	f := cmd.Flags()
	f.IntVar(&lf.orders, "orders", 0, "how many orders to place (at least 1)")
	f.IntVar(&lf.concurrency, "concurrency", 0, "at most this many orders in flight (at least 1)")
	f.Float64Var(&lf.rate, "rate", 0, "start at most this many orders per second; 0 is as fast as --concurrency allows")
	f.StringVar(&lf.mix, "mix", defaultMix, "kinds of order and their weights: success, declined, flaky, cancel")
	f.StringVar(&lf.workflow, "workflow", loadSaga, "what to run: saga (orders) or baseline (three no-op activities)")
	f.DurationVar(&lf.window, "window", 0, "cancel window of the orders not of the cancel kind; 0 ships at once")
	f.BoolVar(&lf.audit, "audit", true, "audit the stores against Temporal once the run ends (saga only)")
	stores.RegisterDataDir(f, &lf.dataDir)
	lf.dsns.RegisterAudited(f)
	return cmd
}

// loadPlan is a checked load: what to run, how fast, each job's kind, and
// where the stores to audit are.
type loadPlan struct {
	workflow    string
	concurrency int
	rate        float64
	window      time.Duration // the cancel window of the orders not of the cancel kind
	run         string        // the run prefix of the IDs
	kinds       []loadKind
	audit       bool // audit the stores after a saga run
	dataDir     string
	dsns        stores.DSNs
}

// plan checks the flags and turns them into a plan. Nothing here touches
// the network.
func (lf *loadFlags) plan() (loadPlan, error) {
	switch {
	case lf.orders < 1:
		return loadPlan{}, fmt.Errorf("--orders is %d: give at least 1", lf.orders)
	case lf.concurrency < 1:
		return loadPlan{}, fmt.Errorf("--concurrency is %d: give at least 1", lf.concurrency)
	case lf.rate < 0 || math.IsNaN(lf.rate) || math.IsInf(lf.rate, 0):
		return loadPlan{}, fmt.Errorf("--rate is %v: give orders per second, or 0 for no limit", lf.rate)
	case lf.window < 0 || lf.window > workflows.MaxCancelWindow:
		return loadPlan{}, fmt.Errorf("--window is %s: give 0 (ship at once) up to %s", lf.window, workflows.MaxCancelWindow)
	}
	// Even when nothing is audited: a password given on the command line
	// is refused whether or not it would be used.
	if err := lf.dsns.CheckSecrets(); err != nil {
		return loadPlan{}, err
	}
	p := loadPlan{workflow: lf.workflow, concurrency: lf.concurrency, rate: lf.rate, window: lf.window, run: runPrefix(time.Now())}
	switch lf.workflow {
	case loadSaga:
		weights, err := parseMix(lf.mix)
		if err != nil {
			return loadPlan{}, fmt.Errorf("--mix %q: %w", lf.mix, err)
		}
		p.kinds = spreadKinds(lf.orders, weights)
		if lf.audit {
			if err := lf.dsns.Check(); err != nil {
				return loadPlan{}, err
			}
			p.audit, p.dataDir, p.dsns = true, lf.dataDir, lf.dsns
		}
	case loadBaseline:
		if lf.mixSet {
			return loadPlan{}, fmt.Errorf("--mix does not apply to --workflow %s: every baseline workflow must complete", loadBaseline)
		}
		if lf.windowSet {
			return loadPlan{}, fmt.Errorf("--window does not apply to --workflow %s: it has no cancel window", loadBaseline)
		}
		p.kinds = slices.Repeat([]loadKind{baselineKind}, lf.orders)
	default:
		return loadPlan{}, fmt.Errorf("unknown --workflow %q: use %s or %s", lf.workflow, loadSaga, loadBaseline)
	}
	return p, nil
}

// runPrefix names a load run: its start time and a random suffix, so that
// two runs in the same second still get distinct order IDs.
func runPrefix(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return now.UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b)
}

// parseMix parses "kind=weight,..." into a weight per loadKinds entry.
// Kinds left out weigh 0; at least one weight must be positive.
func parseMix(s string) ([]int, error) {
	weights := make([]int, len(loadKinds))
	seen := map[string]bool{}
	for _, entry := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(entry), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("entry %q is not KIND=WEIGHT", entry)
		}
		i := slices.IndexFunc(loadKinds, func(k loadKind) bool { return k.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown kind %q: use %s", name, kindNames())
		}
		if seen[name] {
			return nil, fmt.Errorf("kind %q is given twice", name)
		}
		seen[name] = true
		w, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || w < 0 {
			return nil, fmt.Errorf("weight of %s is %q: give a whole number, 0 or more", name, value)
		}
		weights[i] = w
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	if total <= 0 {
		return nil, errors.New("the weights add up to 0: give at least one kind a positive weight")
	}
	return weights, nil
}

func kindNames() string {
	names := make([]string, len(loadKinds))
	for i, k := range loadKinds {
		names[i] = k.name
	}
	return strings.Join(names, ", ")
}

// spreadKinds gives each of n jobs a kind: first how many of each kind
// (largest remainder of n by the weights, so the counts add up to n and
// match the weights as closely as whole numbers can), then interleaved by
// smooth weighted round-robin, so that every stretch of the run has the mix.
func spreadKinds(n int, weights []int) []loadKind {
	counts := kindCounts(n, weights)
	current := make([]int, len(counts))
	out := make([]loadKind, 0, n)
	for range n {
		best := -1
		for i, c := range counts {
			current[i] += c
			if c > 0 && (best < 0 || current[i] > current[best]) {
				best = i
			}
		}
		current[best] -= n
		out = append(out, loadKinds[best])
	}
	return out
}

// kindCounts splits n by weights with the largest-remainder method.
func kindCounts(n int, weights []int) []int {
	total := 0
	for _, w := range weights {
		total += w
	}
	counts := make([]int, len(weights))
	rems := make([]int, len(weights))
	given := 0
	for i, w := range weights {
		counts[i] = n * w / total
		rems[i] = n * w % total
		given += counts[i]
	}
	for ; given < n; given++ {
		best := 0
		for i := range rems {
			if rems[i] > rems[best] {
				best = i
			}
		}
		counts[best]++
		rems[best] = -1
	}
	return counts
}

// load connects and runs the plan, audits a saga run, then reports. It
// returns an *outcomeError when any job ended otherwise than its kind
// asked or the audit failed, and an error after the report when the audit
// could not run.
func (a *app) load(ctx context.Context, p loadPlan) error {
	oc, done, err := a.connect()
	if err != nil {
		return err
	}
	defer done()
	job := tracedOrders(a.tracing.Tracer(), p.run, sagaJob(oc, p.run, p.window))
	if p.workflow == loadBaseline {
		job = baselineJob(oc.Temporal, p.run)
	}
	d := &driver{plan: p, job: job}
	results, elapsed := d.drive(ctx, newProgress(a))
	if ctx.Err() != nil {
		return fmt.Errorf("load interrupted after %d of %d %s ended; the ones started go on", countEnded(results), len(p.kinds), unitOf(p))
	}
	rep := buildReport(p, results, elapsed)
	rep.MaxInFlight = d.maxInFlight
	auditErr := auditLoad(ctx, p, audit.TemporalClient{Client: oc.Temporal, Namespace: oc.Namespace}, &rep)
	if err := render(a, rep, printLoadReport); err != nil {
		return err
	}
	if auditErr != nil {
		return auditErr
	}
	return rep.outcome(unitOf(p))
}

// outcome is the *outcomeError of a report with mismatches or a failed
// audit, nil for one without.
func (rep loadReport) outcome(unit string) error {
	var problems []string
	if n := len(rep.Mismatches); n > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d %s ended otherwise than asked", n, rep.Total, unit))
	}
	if a := rep.Audit; a != nil && a.Report != nil && !a.OK {
		problems = append(problems, fmt.Sprintf("the audit found %d violation(s) and %d order(s) stuck over %s",
			len(a.Violations), a.Overdue(), a.StuckAfter))
	}
	if len(problems) == 0 {
		return nil
	}
	return &outcomeError{msg: strings.Join(problems, "; ")}
}

func unitOf(p loadPlan) string {
	if p.workflow == loadBaseline {
		return "workflows"
	}
	return "orders"
}

// jobResult is how one job ended.
type jobResult struct {
	kind loadKind
	jobEnd
	err     error
	latency time.Duration
	ended   bool
}

// jobEnd is what a job learned of its ending.
type jobEnd struct {
	id     string
	status workflows.Status // "" when it never got an ending
	// answer is how long the order took to answer its placement with its
	// reservation or refusal; 0 when it did not answer (a baseline job, an
	// order that did not answer in time).
	answer time.Duration
}

// jobFunc runs the job index of kind to its end: it returns the ID it used
// and how it ended, or an error if it could not tell.
type jobFunc func(ctx context.Context, index int, kind loadKind) (jobEnd, error)

// sagaJob places an order as `starter place` does (answered with its
// reservation, which it times) and waits for its end,
// cancelling it first when its kind asks. Orders not of the cancel kind
// get the cancel window window.
func sagaJob(oc *orderclient.Client, run string, window time.Duration) jobFunc {
	return func(ctx context.Context, index int, kind loadKind) (jobEnd, error) {
		order := workflows.Order{
			ID:           loadOrderID(run, index),
			CustomerID:   "load-" + run,
			Items:        []inventory.Item{{SKU: "STICKER-PACK", Qty: 1}},
			PaymentToken: kind.token,
			Address:      "1 Load Test Way",
			CancelWindow: workflows.Duration(window),
		}
		if kind.cancel {
			order.CancelWindow = workflows.Duration(loadCancelWindow)
		}
		end := jobEnd{id: order.ID}
		placed, answer, err := placeAnswered(ctx, oc, order)
		if err != nil {
			return end, err
		}
		end.answer = answer
		if kind.cancel {
			if err := cancelWhenAwaiting(ctx, oc, order.ID); err != nil {
				return end, err
			}
		}
		v, err := oc.Await(ctx, placed)
		if err != nil {
			return end, err
		}
		end.status = v.Status
		return end, nil
	}
}

// loadOrderID is the ID of a run's order index.
func loadOrderID(run string, index int) string { return fmt.Sprintf("load-%s-%d", run, index) }

// loadSpanName names the root span of each order that load places.
const loadSpanName = "starter load"

// tracedOrders makes each order's job the root span of a trace of its own,
// with the order's ID (tracing.OrderIDKey) as place's span has it, so that
// a load's orders are found in a trace viewer as placed ones are. The span
// is in error when the order could not be followed to its end or ended
// otherwise than its kind asked. With tracing off the tracer is a no-op.
func tracedOrders(tracer trace.Tracer, run string, job jobFunc) jobFunc {
	return func(ctx context.Context, index int, kind loadKind) (jobEnd, error) {
		ctx, span := tracer.Start(ctx, loadSpanName, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(tracing.OrderIDKey.String(loadOrderID(run, index))))
		defer span.End()
		end, err := job(ctx, index, kind)
		switch {
		case err != nil:
			span.SetStatus(codes.Error, oneLine(err.Error()))
		case end.status != kind.want:
			span.SetStatus(codes.Error, fmt.Sprintf("ended %s, asked for %s", end.status, kind.want))
		}
		return end, err
	}
}

// placeAnswered places the order as `starter place` does, answered with
// its reservation, and returns how long the answer took (0 if the order did
// not answer in time). A refused order is placed all the same: its ending
// tells whether its kind asked for it.
func placeAnswered(ctx context.Context, oc *orderclient.Client, order workflows.Order) (orderclient.View, time.Duration, error) {
	began := time.Now()
	placed, err := oc.PlaceAndAnswer(ctx, order)
	took := time.Since(began)
	var refused *orderclient.PlacementRefusedError
	switch {
	case errors.As(err, &refused):
		return refused.View, took, nil
	case errors.Is(err, orderclient.ErrNoAnswer):
		return placed, 0, nil
	case err != nil:
		return orderclient.View{}, 0, err
	}
	return placed, took, nil
}

// awaitPoll is how often a cancel order's status is read while load waits
// for its cancel window to open.
const awaitPoll = 100 * time.Millisecond

// cancelWhenAwaiting waits, within the cancel window, until the order is
// AWAITING_FULFILLMENT, then cancels it as `starter cancel` does. An order
// that ends first is left alone, and so is one that refuses the cancel:
// its ending tells.
func cancelWhenAwaiting(ctx context.Context, oc *orderclient.Client, orderID string) error {
	deadline := time.Now().Add(loadCancelWindow)
	tick := time.NewTicker(awaitPoll)
	defer tick.Stop()
	for {
		v, err := oc.Snapshot(ctx, orderID)
		if err != nil {
			return err
		}
		switch {
		case v.TemporalStatus != "Running":
			return nil
		case v.Status == workflows.AwaitingFulfillment:
			_, err := oc.Cancel(ctx, orderID, "load test cancel")
			return loadCancelError(err)
		case time.Now().After(deadline):
			return fmt.Errorf("order %s did not reach %s within %s (last %s)", orderID, workflows.AwaitingFulfillment, loadCancelWindow, v.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// loadCancelError is what a load's cancel error says of its job: nothing
// when the order refused the cancel or had already ended, since how the
// order ends is what the load judges (a refused cancel leaves it to end
// COMPLETED, which its kind did not ask); the error otherwise.
func loadCancelError(err error) error {
	var refused *orderclient.RefusedError
	var ended *orderclient.EndedError
	if errors.As(err, &refused) || errors.As(err, &ended) {
		return nil
	}
	return err
}

// baselineJob starts the baseline workflow and waits for it to end.
func baselineJob(c client.Client, run string) jobFunc {
	return func(ctx context.Context, index int, _ loadKind) (jobEnd, error) {
		id := fmt.Sprintf("%s%s-%d", ordersaga.BaselineWorkflowIDPrefix, run, index)
		end := jobEnd{id: id}
		wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                    id,
			TaskQueue:             ordersaga.BaselineTaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, ordersaga.BaselineWorkflowType)
		if err != nil {
			return end, fmt.Errorf("start baseline workflow %s: %w", id, err)
		}
		if err := wr.Get(ctx, nil); err != nil {
			end.status = workflows.Failed
			return end, fmt.Errorf("baseline workflow %s: %w", id, err)
		}
		end.status = workflows.Completed
		return end, nil
	}
}

// driver runs a plan's jobs, at most concurrency at a time and, with a
// rate, no faster than it, and records how each ended.
type driver struct {
	plan loadPlan
	job  jobFunc

	mu          sync.Mutex
	results     []jobResult
	inFlight    int
	maxInFlight int // the most jobs in flight at once
}

// drive runs every job (or until ctx ends) and returns the results in job
// order, with the wall time the run took.
func (d *driver) drive(ctx context.Context, prog *progress) ([]jobResult, time.Duration) {
	d.results = make([]jobResult, len(d.plan.kinds))
	start := time.Now()
	stopProgress := prog.start(d, start)
	var pace <-chan time.Time
	if d.plan.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / d.plan.rate))
		defer t.Stop()
		pace = t.C
	}
	slots := make(chan struct{}, d.plan.concurrency)
	var wg sync.WaitGroup
	for i, kind := range d.plan.kinds {
		if !acquire(ctx, slots, pace, i) {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			d.runOne(ctx, i, kind)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	return d.results, elapsed
}

// acquire waits for a free slot and, past the first job, for the pace; it
// returns false when ctx ends first.
func acquire(ctx context.Context, slots chan struct{}, pace <-chan time.Time, i int) bool {
	if pace != nil && i > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-pace:
		}
	}
	select {
	case <-ctx.Done():
		return false
	case slots <- struct{}{}:
		return true
	}
}

func (d *driver) runOne(ctx context.Context, i int, kind loadKind) {
	d.mu.Lock()
	d.inFlight++
	d.maxInFlight = max(d.maxInFlight, d.inFlight)
	d.mu.Unlock()
	begin := time.Now()
	end, err := d.job(ctx, i, kind)
	r := jobResult{kind: kind, jobEnd: end, err: err, latency: time.Since(begin), ended: true}
	d.mu.Lock()
	d.inFlight--
	d.results[i] = r
	d.mu.Unlock()
}

// counts returns how many jobs ended as asked, how many otherwise, and how
// many are in flight.
func (d *driver) counts() (ok, bad, inFlight int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.results {
		if !r.ended {
			continue
		}
		if r.asAsked() {
			ok++
		} else {
			bad++
		}
	}
	return ok, bad, d.inFlight
}

func (r jobResult) asAsked() bool { return r.err == nil && r.status == r.kind.want }

func countEnded(results []jobResult) int {
	n := 0
	for _, r := range results {
		if r.ended {
			n++
		}
	}
	return n
}
