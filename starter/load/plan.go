package load

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/stores"
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
