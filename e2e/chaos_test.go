package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// The environment that sizes TestChaos. `make chaos` runs it with
// ORDERSAGA_CHAOS_ORDERS=2000.
const (
	chaosOrdersEnv = "ORDERSAGA_CHAOS_ORDERS" // orders to place (default 300)
	chaosSeedEnv   = "ORDERSAGA_CHAOS_SEED"   // seed of the orders and the faults (default: the clock)
	chaosRateEnv   = "ORDERSAGA_CHAOS_RATE"   // orders placed per second at most (default 10)
	// How many faults of each kind are spread over the stream. A worker
	// kill kills one to all four worker processes at once.
	chaosServerRestartsEnv = "ORDERSAGA_CHAOS_SERVER_RESTARTS" // default 1 + orders/1000
	chaosStoreFaultsEnv    = "ORDERSAGA_CHAOS_STORE_FAULTS"    // default 1 + orders/600
	chaosWorkerKillsEnv    = "ORDERSAGA_CHAOS_WORKER_KILLS"    // default 3 + orders/200
)

// Bounds of the chaos test's waits. They are generous: the machines are
// small and shared, and a fault stalls everything for a while.
const (
	// chaosCallTimeout bounds one call to the server, and chaosPollTimeout
	// one long poll; the caller retries.
	chaosCallTimeout = 10 * time.Second
	chaosPollTimeout = 30 * time.Second
	// chaosRetryInterval spaces out the attempts of a call.
	chaosRetryInterval = 500 * time.Millisecond
	// chaosPlaceTimeout bounds the placement of one order, retries included.
	chaosPlaceTimeout = 3 * time.Minute
	// chaosForgetTimeout bounds the wait for Temporal to delete an ended
	// order's workflow, as its retention would. Deletion is a transfer task
	// that waits until the run's close task is acknowledged (queues record
	// that every 30 s by default) and retries with a growing backoff: on
	// the cluster, on a durable PostgreSQL and with nodes dying, it has
	// taken over three minutes.
	chaosForgetTimeout = 8 * time.Minute
	// chaosCancelTimeout bounds the wait for the moment to cancel an order
	// and the cancel itself.
	chaosCancelTimeout = 3 * time.Minute
	// chaosEndTimeout bounds the wait for an order to end, once placed and
	// cancelled; chaosSettleTimeout the last wait for the orders that had
	// not ended by then, once the faults and the stream are over.
	chaosEndTimeout    = 3 * time.Minute
	chaosSettleTimeout = 3 * time.Minute
	// chaosInFlight bounds how many orders are between their placement and
	// their end at once: a slow or stalled server slows the stream down
	// instead of piling orders up.
	chaosInFlight = 40
	// chaosLongWindow is the cancel window of the orders cancelled in it:
	// long enough that the cancel always lands in it.
	chaosLongWindow = 10 * time.Minute
	// chaosOffenders is how many offenders each failure message details.
	chaosOffenders = 5
)

// TestChaos is the fault test. It streams orders of every kind (see
// chaosKinds) against the dev server while, at random moments, it kills
// worker processes with SIGKILL and starts them again (a full worker and
// services split across three processes), kills the dev server with
// SIGKILL and starts it again on the same database and ports, and holds a
// store's SQLite write lock longer than the stores' busy timeout. Then it
// checks that every order ended as its kind requires, that no order was
// lost or charged twice, that the stock adds up, and that `worker audit`
// passes, and prints one line of figures.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault test takes minutes (-short)")
	}
	started := time.Now()
	cfg := chaosConfigFromEnv(t)
	t.Logf("chaos: seed=%d orders=%d rate=%g/s server_restarts=%d store_faults=%d worker_kill_rounds=%d (%s=%d repeats the plan)",
		cfg.seed, cfg.orders, cfg.rate, cfg.serverRestarts, cfg.storeFaults, cfg.workerKills, chaosSeedEnv, cfg.seed)

	s := newStack(t)
	faults := newChaosFaults(t, s, rand.New(rand.NewPCG(cfg.seed, 2)))
	st := s.stores(t)
	orders := planOrders(rand.New(rand.NewPCG(cfg.seed, 1)), cfg.orders)

	d := &chaosDriver{oc: s.orders(t)}
	placing := d.start(t.Context(), orders, cfg.rate)
	faults.run(faults.plan(cfg), &d.placed, placing)
	<-placing
	settle(t.Context(), s.orders(t), orders, chaosSettleTimeout)

	tally := judge(t, st, orders, faults.lastEnd)
	t.Log(tally.figures(cfg, faults, time.Since(started)))
	tally.report(t, s.address, faults.log)
	// The first placements of the reused IDs are forgotten by Temporal:
	// the audit judges them by the stores alone, as completed.
	assertAuditJudged(t, s, tally.ended, tally.reused)
}

// chaosConfig is the size of a chaos run.
type chaosConfig struct {
	seed                                             uint64
	orders, serverRestarts, storeFaults, workerKills int
	rate                                             float64
}

func chaosConfigFromEnv(t *testing.T) chaosConfig {
	t.Helper()
	orders := envInt(t, chaosOrdersEnv, 300)
	c := chaosConfig{
		seed:           envSeed(t, chaosSeedEnv),
		orders:         orders,
		serverRestarts: envInt(t, chaosServerRestartsEnv, 1+orders/1000),
		storeFaults:    envInt(t, chaosStoreFaultsEnv, 1+orders/600),
		workerKills:    envInt(t, chaosWorkerKillsEnv, 3+orders/200),
		rate:           float64(envInt(t, chaosRateEnv, 10)),
	}
	if c.orders < 1 || c.rate <= 0 {
		t.Fatalf("%s=%d, %s=%g: both must be positive", chaosOrdersEnv, c.orders, chaosRateEnv, c.rate)
	}
	return c
}

// envSeed is the seed that the variable name sets, or the clock's.
func envSeed(t *testing.T, name string) uint64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return uint64(time.Now().UnixNano())
	}
	seed, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an unsigned integer", name, v)
	}
	return seed
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a count", name, v)
	}
	return n
}

// cancelPoint is when the test cancels an order, if it does.
type cancelPoint int

const (
	noCancel cancelPoint = iota
	// inWindow: once the order waits in its cancel window
	// (AWAITING_FULFILLMENT), so the cancel is accepted.
	inWindow
	// afterShipment: once the shipment's result is in the order's
	// history, so the cancel is too late and must be refused.
	afterShipment
)

// orderKind is one kind of order in the stream and the ending it requires.
type orderKind struct {
	name   string
	weight int // relative frequency in the stream
	token  string
	// undeliverable addresses the parcel where it cannot be delivered;
	// outOfStock adds more units of LAMP-LIMITED than the catalog has.
	undeliverable, outOfStock bool
	cancelAt                  cancelPoint
	cancelBy                  string // workflows.CancelledBySignal or CancelledByTemporal
	// reuse: once the order has completed, its workflow is deleted from
	// Temporal (as retention would) and the same order is placed again.
	// The required ending below is the second placement's; the first's
	// must be COMPLETED, and the stores must keep its records.
	reuse bool

	// The required ending: the status, who cancelled it, the
	// compensations that ran (newest first; each undoes its step's key),
	// and what the stores hold under its keys (reservation, charge,
	// shipment; "" for no record).
	status        workflows.Status
	cancelledBy   string
	compensations []string
	records       [3]string
}

var (
	completedRecords = [3]string{inventory.Reserved, payment.Captured, shipping.Created}
	refundedRecords  = [3]string{inventory.Released, payment.Refunded, ""}
	undoCharge       = []string{workflows.CompensateRefund, workflows.CompensateRelease}
)

// chaosKinds are the kinds of orders in the stream.
var chaosKinds = []orderKind{
	{name: "completed", weight: 24, token: payment.TokenVisa,
		status: workflows.Completed, records: completedRecords},
	{name: "flaky-payment", weight: 10, token: payment.TokenFlaky,
		status: workflows.Completed, records: completedRecords},
	{name: "slow-payment", weight: 5, token: payment.TokenSlow,
		status: workflows.Completed, records: completedRecords},
	{name: "declined", weight: 10, token: payment.TokenDeclined,
		status: workflows.Failed, compensations: undoCharge,
		records: [3]string{inventory.Released, payment.Declined, ""}},
	{name: "out-of-stock", weight: 8, token: payment.TokenVisa, outOfStock: true,
		status: workflows.Failed, compensations: []string{workflows.CompensateRelease},
		records: [3]string{inventory.Voided, "", ""}},
	{name: "undeliverable", weight: 8, token: payment.TokenVisa, undeliverable: true,
		status: workflows.Failed, compensations: append([]string{workflows.CompensateCancelShipment}, undoCharge...),
		records: [3]string{inventory.Released, payment.Refunded, shipping.Voided}},
	{name: "cancel-in-window", weight: 10, token: payment.TokenVisa, cancelAt: inWindow, cancelBy: workflows.CancelledBySignal,
		status: workflows.Cancelled, cancelledBy: workflows.CancelledBySignal, compensations: undoCharge, records: refundedRecords},
	{name: "temporal-cancel-in-window", weight: 9, token: payment.TokenVisa, cancelAt: inWindow, cancelBy: workflows.CancelledByTemporal,
		status: workflows.Cancelled, cancelledBy: workflows.CancelledByTemporal, compensations: undoCharge, records: refundedRecords},
	{name: "late-cancel", weight: 9, token: payment.TokenVisa, cancelAt: afterShipment, cancelBy: workflows.CancelledBySignal,
		status: workflows.Completed, records: completedRecords},
	{name: "late-temporal-cancel", weight: 7, token: payment.TokenVisa, cancelAt: afterShipment, cancelBy: workflows.CancelledByTemporal,
		status: workflows.Completed, records: completedRecords},
	{name: "reused-id", weight: 3, token: payment.TokenVisa, reuse: true,
		status: workflows.Failed, records: completedRecords},
}

// compensatedStep is the step whose key each compensation undoes.
var compensatedStep = map[string]string{
	workflows.CompensateRelease:        workflows.StepReserve,
	workflows.CompensateRefund:         workflows.StepCharge,
	workflows.CompensateCancelShipment: workflows.StepShip,
}

// wantCompensations is the kind's compensations as "name key" for one order.
func (k *orderKind) wantCompensations(orderID string) []string {
	out := []string{}
	for _, c := range k.compensations {
		out = append(out, c+" "+ordersaga.WorkflowID(orderID)+"/"+compensatedStep[c])
	}
	return out
}

// chaosOrder is one order of the stream: what was placed, what the test
// did to it, and how it ended.
type chaosOrder struct {
	kind  *orderKind
	order workflows.Order

	// Set by the goroutine that drives the order.
	placed   bool
	placedAt time.Time
	// cancelSent: the kind's cancel reached the server; refusedEnded: it
	// was refused because the order had already ended.
	cancelSent, refusedEnded bool
	// first is how the first placement of a reused order ID ended, once
	// the order was placed again (at placedAgainAt); final is then the
	// second's ending.
	first         *orderclient.View
	placedAgainAt time.Time
	problem       string // what went wrong driving it, if anything

	// Set once the order ended, by its driver or by settle.
	final    *orderclient.View
	lastSeen string // the last thing known of an order that did not end
}

// ampleSKUs are the catalog's SKUs with ample stock.
var ampleSKUs = []string{"BOOK-GOPL", "MUG-GOPHER", "TEE-TEMPORAL-M", "STICKER-PACK"}

// planOrders draws the stream of orders.
func planOrders(rng *rand.Rand, n int) []*chaosOrder {
	total := 0
	for _, k := range chaosKinds {
		total += k.weight
	}
	orders := make([]*chaosOrder, n)
	for i := range orders {
		pick := rng.IntN(total)
		k := 0
		for ; pick >= chaosKinds[k].weight; k++ {
			pick -= chaosKinds[k].weight
		}
		orders[i] = newChaosOrder(rng, i, &chaosKinds[k])
	}
	return orders
}

func newChaosOrder(rng *rand.Rand, i int, k *orderKind) *chaosOrder {
	o := workflows.Order{
		ID:           fmt.Sprintf("chaos-%04d-%s", i, k.name),
		CustomerID:   fmt.Sprintf("c-%d", i%37),
		PaymentToken: k.token,
		Address:      shipTo,
		CancelWindow: workflows.Duration(time.Duration(1+rng.IntN(3)) * time.Second),
	}
	skus := slices.Clone(ampleSKUs)
	rng.Shuffle(len(skus), func(a, b int) { skus[a], skus[b] = skus[b], skus[a] })
	for _, sku := range skus[:1+rng.IntN(2)] {
		o.Items = append(o.Items, inventory.Item{SKU: sku, Qty: 1 + rng.IntN(3)})
	}
	if k.outOfStock {
		// After the ample items, so their units are taken and put back
		// within the reservation that fails.
		o.Items = append(o.Items, inventory.Item{SKU: "LAMP-LIMITED", Qty: 4})
	}
	if k.undeliverable {
		o.Address = "9 Undeliverable Lane, Nowhere"
	}
	if k.cancelAt == inWindow {
		o.CancelWindow = workflows.Duration(chaosLongWindow)
	}
	return &chaosOrder{kind: k, order: o}
}

// lossFigures are the figures that must be zero.
var lossFigures = []string{"lost_orders", "double_charges", "stock_drift", "wrong_endings"}

// chaosTally is the verdict on a run.
type chaosTally struct {
	// losses holds the lossFigures; offenders details the first few
	// offenders of each, offendingOrders lists the orders among them, and
	// problems is what went wrong driving the orders.
	losses          map[string]int
	offenders       map[string][]string
	offendingOrders []string
	problems        []string
	ended           map[workflows.Status]int
	// lateInOrder counts the late cancels that reached the running order
	// (and were refused there) rather than an order that had ended.
	lateInOrder int
	// reused counts the order IDs placed again after Temporal forgot
	// their first, completed, placement.
	reused                int
	longestAfterLastFault time.Duration
}

// offend adds n to a loss figure, and the first few details.
func (tl *chaosTally) offend(figure string, n int, orderID, detail string) {
	tl.losses[figure] += n
	if len(tl.offenders[figure]) < chaosOffenders {
		tl.offenders[figure] = append(tl.offenders[figure], detail)
	}
	if orderID != "" {
		tl.offendingOrders = append(tl.offendingOrders, orderID)
	}
}

// judge checks every order's ending against its kind, and the stores
// against the endings.
func judge(t *testing.T, st stores, orders []*chaosOrder, lastFault time.Time) *chaosTally {
	t.Helper()
	tl := &chaosTally{losses: map[string]int{}, offenders: map[string][]string{}, ended: map[workflows.Status]int{}}
	recs := loadChaosRecords(t, st)
	for _, o := range orders {
		tl.judgeOrder(o, recs)
	}
	tl.judgeMoney(orders, recs.charges)
	tl.judgeStock(orders, recs, catalogStock(t))
	tl.longestAfterLastFault = longestAfter(orders, lastFault)
	return tl
}

func (tl *chaosTally) judgeOrder(o *chaosOrder, recs chaosRecords) {
	if o.problem != "" {
		tl.problems = append(tl.problems, fmt.Sprintf("order %s: %s", o.order.ID, o.problem))
	}
	switch {
	case !o.placed:
		return
	case o.final == nil:
		tl.offend("lost_orders", 1, o.order.ID, fmt.Sprintf("order %s: placed at %s, not ended: %s",
			o.order.ID, o.placedAt.Format(time.TimeOnly), o.lastSeen))
		return
	}
	tl.ended[o.final.Status]++
	if o.kind.cancelAt == afterShipment && o.cancelSent && !o.refusedEnded {
		tl.lateInOrder++
	}
	if o.first != nil && o.first.Status == workflows.Completed {
		tl.reused++
	}
	if wrong := o.mismatches(recs); len(wrong) > 0 {
		tl.offend("wrong_endings", 1, o.order.ID, fmt.Sprintf("order %s (%s): %s", o.order.ID, o.kind.name, strings.Join(wrong, "; ")))
	}
}

// mismatches lists how the order's ending differs from its kind's.
func (o *chaosOrder) mismatches(recs chaosRecords) []string {
	k, v := o.kind, o.final
	var out []string
	if v.Note != "" {
		out = append(out, v.Note)
	}
	if v.Status != k.status || v.CancelledBy != k.cancelledBy {
		out = append(out, fmt.Sprintf("ended %s (cancelled by %q, failure %q), want %s (cancelled by %q)",
			v.Status, v.CancelledBy, v.FailureReason, k.status, k.cancelledBy))
	}
	var got []string
	for _, c := range v.Compensations {
		got = append(got, c.Name+" "+c.Key)
	}
	if want := k.wantCompensations(o.order.ID); !slices.Equal(got, want) {
		out = append(out, fmt.Sprintf("compensations %q, want %q", got, want))
	}
	if got := recs.statuses(o.order.ID); got != k.records {
		out = append(out, fmt.Sprintf("reservation, charge, shipment %q, want %q", got, k.records))
	}
	// Every record carries the placement of the order that wrote it: the
	// first placement of a reused ID.
	if kept := o.kept(); kept != nil {
		var want [3]string
		for i, status := range k.records {
			if status != "" {
				want[i] = kept.Placement
			}
		}
		if got := recs.placements(o.order.ID); got != want || kept.Placement == "" {
			out = append(out, fmt.Sprintf("the records' placements are %q, want %q", got, want))
		}
	}
	if k.cancelAt == afterShipment && o.cancelSent && !o.refusedEnded && len(v.RefusedCancels) == 0 {
		out = append(out, "the late cancel reached the running order but is not among its refused cancels")
	}
	if k.reuse {
		out = append(out, o.reuseMismatches()...)
	}
	return out
}

// reuseMismatches lists how a reused order ID's two placements differ
// from what they must be: the first COMPLETED, the second a placement of
// its own that failed on its claim of the ID, naming the first.
func (o *chaosOrder) reuseMismatches() []string {
	first, second := o.first, o.final
	switch {
	case first == nil:
		return []string{"not placed again"}
	case first.Status != workflows.Completed:
		return []string{fmt.Sprintf("the first placement ended %s, want COMPLETED", first.Status)}
	case second.Placement == "" || second.Placement == first.Placement:
		return []string{fmt.Sprintf("the second placement is %q, the first %q: want one of its own", second.Placement, first.Placement)}
	}
	wf := ordersaga.WorkflowID(o.order.ID)
	prefix := fmt.Sprintf("claim failed: order ID %q already used: claimed ", o.order.ID)
	suffix := fmt.Sprintf(" by workflow %s (placement %s); order IDs cannot be reused, pick another", wf, first.Placement)
	if r := second.FailureReason; !strings.HasPrefix(r, prefix) || !strings.HasSuffix(r, suffix) {
		return []string{fmt.Sprintf("the second placement failed with %q, want the claim's refusal naming placement %s", r, first.Placement)}
	}
	return nil
}

// kept is the ending of the placement whose records the stores must
// hold: the order's, or the first placement's of a reused order ID.
func (o *chaosOrder) kept() *orderclient.View {
	if o.kind.reuse {
		return o.first
	}
	return o.final
}

// completes reports whether an order of the kind keeps its stock and its
// charge: it completes, or its first placement does.
func (k *orderKind) completes() bool { return k.status == workflows.Completed || k.reuse }

// judgeMoney counts the orders charged more than once, or charged when
// they should not have been: only an order that its kind and its ending
// say COMPLETED (for a reused ID, its first placement's) keeps one
// captured charge of its total. (An order that did not end is lost; what
// it holds is not judged.)
func (tl *chaosTally) judgeMoney(orders []*chaosOrder, charges []payment.Charge) {
	captured := map[string][]payment.Charge{}
	for _, c := range charges {
		if c.Status == payment.Captured {
			captured[c.OrderID] = append(captured[c.OrderID], c)
		}
	}
	for _, o := range orders {
		cs := captured[o.order.ID]
		delete(captured, o.order.ID)
		if len(cs) == 0 {
			continue
		}
		kept := o.kept()
		switch {
		case len(cs) > 1:
			tl.offend("double_charges", 1, o.order.ID, fmt.Sprintf("order %s: %d captured charges %+v", o.order.ID, len(cs), cs))
		case o.final == nil:
		case kept == nil || kept.Status != workflows.Completed || !o.kind.completes():
			tl.offend("double_charges", 1, o.order.ID, fmt.Sprintf("order %s (%s) ended %s but %s is captured (%s)",
				o.order.ID, o.kind.name, o.final.Status, cs[0].ID, workflows.FormatCents(cs[0].AmountCents)))
		case cs[0].AmountCents != kept.TotalCents:
			tl.offend("double_charges", 1, o.order.ID, fmt.Sprintf("order %s: captured %s, its total is %s",
				o.order.ID, workflows.FormatCents(cs[0].AmountCents), workflows.FormatCents(kept.TotalCents)))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(captured)) {
		cs := captured[id]
		tl.offend("double_charges", 1, "", fmt.Sprintf("order %s, which the test never placed: captured %+v", id, cs))
	}
}

// judgeStock adds up, over the SKUs, how many units stock on hand, units
// reserved and units received are away from what the catalog and the
// orders make them: the COMPLETED orders (and the reused IDs' completed
// first placements) keep their units, and so, for now, do the orders that
// did not end (they are lost) and still hold a reservation; every other
// order gave its units back.
func (tl *chaosTally) judgeStock(orders []*chaosOrder, recs chaosRecords, catalog map[string]int) {
	kept := map[string]int{}
	for _, o := range orders {
		holds := o.final == nil && recs.statuses(o.order.ID)[0] == inventory.Reserved
		if k := o.kept(); holds || k != nil && k.Status == workflows.Completed {
			for _, it := range o.order.Items {
				kept[it.SKU] += it.Qty
			}
		}
	}
	for _, p := range recs.products {
		drift := abs(p.OnHand-(catalog[p.SKU]-kept[p.SKU])) + abs(p.Reserved-kept[p.SKU]) + abs(p.Received-catalog[p.SKU])
		if drift == 0 {
			continue
		}
		tl.offend("stock_drift", drift, "", fmt.Sprintf("%s: on hand %d, reserved %d, received %d; catalog %d, kept by orders %d",
			p.SKU, p.OnHand, p.Reserved, p.Received, catalog[p.SKU], kept[p.SKU]))
	}
}

func abs(n int) int { return max(n, -n) }

// longestAfter is the longest time from the end of the last fault to the
// end of an order that was placed before it and ended after it. Of a
// reused order ID, that is the second placement if it was placed before
// the last fault, else the first.
func longestAfter(orders []*chaosOrder, lastFault time.Time) time.Duration {
	var longest time.Duration
	for _, o := range orders {
		end := o.final
		if o.first != nil && !o.placedAgainAt.Before(lastFault) {
			end = o.first
		}
		if end != nil && o.placedAt.Before(lastFault) {
			longest = max(longest, end.EndedAt.Sub(lastFault))
		}
	}
	return longest
}

// figures is the run's one line of figures.
func (tl *chaosTally) figures(cfg chaosConfig, f *chaosFaults, elapsed time.Duration) string {
	return fmt.Sprintf("chaos: orders=%d worker_kills=%d server_restarts=%d store_faults=%d lost_orders=%d double_charges=%d "+
		"stock_drift=%d wrong_endings=%d longest_after_last_fault=%.1fs late_cancels_in_order=%d reused_ids=%d seed=%d elapsed=%s",
		cfg.orders, f.workerKills, f.serverRestarts, f.storeFaults, tl.losses["lost_orders"], tl.losses["double_charges"],
		tl.losses["stock_drift"], tl.losses["wrong_endings"], tl.longestAfterLastFault.Seconds(), tl.lateInOrder, tl.reused,
		cfg.seed, elapsed.Round(100*time.Millisecond))
}

// report fails the test on any loss, with the first offenders, the faults
// and the history of an offending order, read from the server at address.
func (tl *chaosTally) report(t *testing.T, address string, faultLog []string) {
	t.Helper()
	for _, fig := range lossFigures {
		if n := tl.losses[fig]; n > 0 {
			t.Errorf("%s=%d; the first:\n  %s", fig, n, strings.Join(tl.offenders[fig], "\n  "))
		}
	}
	if len(tl.problems) > 0 {
		t.Errorf("%d order(s) could not be driven; the first:\n  %s", len(tl.problems),
			strings.Join(tl.problems[:min(len(tl.problems), chaosOffenders)], "\n  "))
	}
	if t.Failed() {
		t.Logf("faults:\n  %s", strings.Join(faultLog, "\n  "))
		if len(tl.offendingOrders) > 0 {
			id := tl.offendingOrders[0]
			r := runCommand(t, temporalBin(t), "workflow", "show", "--address", address, "-w", ordersaga.WorkflowID(id))
			t.Logf("history of order %s (temporal workflow show):\n%s%s", id, r.stdout, r.stderr)
		}
	}
}

// chaosRecords is what the three stores hold, by idempotency key.
type chaosRecords struct {
	products     []inventory.Product
	reservations map[string]inventory.Reservation
	charges      []payment.Charge
	chargeByKey  map[string]payment.Charge
	shipments    map[string]shipping.Shipment
}

func loadChaosRecords(t *testing.T, st stores) chaosRecords {
	t.Helper()
	ctx := context.Background()
	var recs chaosRecords
	var err error
	if recs.products, err = st.inventory.Products(ctx); err != nil {
		t.Fatal(err)
	}
	reservations, err := st.inventory.Reservations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if recs.charges, err = st.payment.Charges(ctx); err != nil {
		t.Fatal(err)
	}
	shipments, err := st.shipping.Shipments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs.reservations = keyed(reservations, func(r inventory.Reservation) string { return r.Key })
	recs.chargeByKey = keyed(recs.charges, func(c payment.Charge) string { return c.Key })
	recs.shipments = keyed(shipments, func(s shipping.Shipment) string { return s.Key })
	return recs
}

func keyed[T any](items []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[key(it)] = it
	}
	return m
}

// placements are the placements of the order's reservation, charge and
// shipment ("" for no record).
func (r chaosRecords) placements(orderID string) [3]string {
	key := ordersaga.WorkflowID(orderID) + "/"
	return [3]string{
		r.reservations[key+workflows.StepReserve].Placement,
		r.chargeByKey[key+workflows.StepCharge].Placement,
		r.shipments[key+workflows.StepShip].Placement,
	}
}

// statuses are the order's reservation, charge and shipment statuses
// ("" for no record).
func (r chaosRecords) statuses(orderID string) [3]string {
	key := ordersaga.WorkflowID(orderID) + "/"
	return [3]string{
		r.reservations[key+workflows.StepReserve].Status,
		r.chargeByKey[key+workflows.StepCharge].Status,
		r.shipments[key+workflows.StepShip].Status,
	}
}

// catalogStock is the initial stock of each SKU, from the shipped catalog.
func catalogStock(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "activities", "inventory", "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		SKU   string `json:"sku"`
		Stock int    `json:"stock"`
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatalf("catalog.json: %v", err)
	}
	stock := map[string]int{}
	for _, e := range entries {
		stock[e.SKU] = e.Stock
	}
	return stock
}
