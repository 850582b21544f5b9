package e2e

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/platform/sqlitedb"
)

// faultKind is one kind of fault TestChaos injects.
type faultKind int

const (
	// workerKill kills some worker processes with SIGKILL at once and
	// starts them again a moment later.
	workerKill faultKind = iota
	// serverCrash kills the dev server with SIGKILL and starts it again on
	// the same database file and ports a moment later; in the rehearsal,
	// it kills one node of the cluster.
	serverCrash
	// storeLock holds one service's SQLite write lock for longer than the
	// stores' busy timeout, so every attempt to write it fails and is
	// retried.
	storeLock
)

// chaosWorkerSpecs are the worker processes of a chaos run: one that hosts
// every service, and the services split across three more, so that every
// task queue has two workers until some are killed.
var chaosWorkerSpecs = []struct{ name, services string }{
	{"worker-all", ""},
	{"worker-order", "order"},
	{"worker-inventory-payment", "inventory,payment"},
	{"worker-shipping", "shipping"},
}

// chaosWorker is one worker process, started again after each kill.
type chaosWorker struct {
	name, services string
	proc           *process
}

func (w *chaosWorker) start(t *testing.T, s *stack) {
	t.Helper()
	var args []string
	if w.services != "" {
		args = []string{"--services", w.services}
	}
	w.proc = s.startWorker(t, w.name, args...)
}

// chaosFaults injects the faults into the dev server's stack. It runs on
// the test's goroutine: it starts processes and may fail the test.
type chaosFaults struct {
	faultSchedule
	t       *testing.T
	s       *stack
	workers []*chaosWorker

	workerKills, serverRestarts, storeFaults int
}

// newChaosFaults starts the workers.
func newChaosFaults(t *testing.T, s *stack, rng *rand.Rand) *chaosFaults {
	t.Helper()
	f := &chaosFaults{faultSchedule: faultSchedule{rng: rng}, t: t, s: s}
	for _, spec := range chaosWorkerSpecs {
		w := &chaosWorker{name: spec.name, services: spec.services}
		w.start(t, s)
		f.workers = append(f.workers, w)
	}
	return f
}

// plannedFault is a fault and when to inject it: once that many orders
// have been placed.
type plannedFault struct {
	kind faultKind
	at   int64
}

// plan spreads the run's faults over the stream of orders.
func (f *chaosFaults) plan(cfg chaosConfig) []plannedFault {
	kinds := slices.Repeat([]faultKind{serverCrash}, cfg.serverRestarts)
	kinds = append(kinds, slices.Repeat([]faultKind{storeLock}, cfg.storeFaults)...)
	kinds = append(kinds, slices.Repeat([]faultKind{workerKill}, cfg.workerKills)...)
	return planFaults(f.rng, cfg.orders, kinds)
}

// planFaults spreads the faults over a stream of orders, in a random
// order, between the first twentieth and the last tenth of it.
func planFaults(rng *rand.Rand, orders int, kinds []faultKind) []plannedFault {
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	at := make([]int64, len(kinds))
	for i := range at {
		at[i] = int64(orders/20 + rng.IntN(orders*17/20+1))
	}
	slices.Sort(at)
	plan := make([]plannedFault, len(kinds))
	for i, k := range kinds {
		plan[i] = plannedFault{kind: k, at: at[i]}
	}
	return plan
}

// run injects the planned faults into the stack, as faultSchedule.run
// does.
func (f *chaosFaults) run(plan []plannedFault, placed *placedCount, placing <-chan struct{}) {
	f.faultSchedule.run(f, plan, placed, placing)
}

// faultTarget is what a faultSchedule injects faults into: the dev
// server's stack (chaosFaults) or the cluster (rehearsal).
type faultTarget interface {
	// restartExited starts again, failing the test, whatever exited
	// without being killed.
	restartExited()
	// inject injects a fault of kind and says what it did.
	inject(kind faultKind) string
}

// faultSchedule spaces out a run's faults at random and records them. The
// fault test and the rehearsal share it, so that both inject their faults
// on the same schedule.
type faultSchedule struct {
	rng *rand.Rand
	// lastEnd is when the last fault ended; log says what each did.
	lastEnd time.Time
	log     []string
}

// run injects the planned faults into target one after another, each once
// its share of the orders has been placed (or all have) and a few seconds
// after the one before.
func (s *faultSchedule) run(target faultTarget, plan []plannedFault, placed *placedCount, placing <-chan struct{}) {
	for _, p := range plan {
		placed.await(p.at, placing)
		s.pause(time.Second, 3*time.Second)
		target.restartExited()
		start := time.Now()
		what := target.inject(p.kind)
		s.lastEnd = time.Now()
		n, _ := placed.load()
		s.log = append(s.log, fmt.Sprintf("%s–%s after %d orders placed: %s",
			start.Format("15:04:05.0"), s.lastEnd.Format("15:04:05.0"), n, what))
	}
	target.restartExited()
}

// pause waits a random time in [lo, hi): the gaps of the fault schedule.
func (s *faultSchedule) pause(lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(s.rng.Int64N(int64(hi-lo))))
}

func (f *chaosFaults) inject(kind faultKind) string {
	switch kind {
	case serverCrash:
		return f.crashServer()
	case storeLock:
		return f.lockStore()
	}
	return f.killWorkers()
}

// killWorkers kills one to all of the workers at once, and starts them
// again after a pause in which some task queues may have no worker.
func (f *chaosFaults) killWorkers() string {
	victims := slices.Clone(f.workers)
	f.rng.Shuffle(len(victims), func(i, j int) { victims[i], victims[j] = victims[j], victims[i] })
	victims = victims[:1+f.rng.IntN(len(victims))]
	var names []string
	for _, w := range victims {
		w.proc.stop(f.t, syscall.SIGKILL)
		names = append(names, w.name)
	}
	f.workerKills += len(victims)
	f.pause(0, 3*time.Second)
	for _, w := range victims {
		w.start(f.t, f.s)
	}
	return "killed and restarted " + strings.Join(names, ", ")
}

// crashServer kills the dev server and starts it again on the same
// database and ports after a pause.
func (f *chaosFaults) crashServer() string {
	f.s.crash(f.t)
	down := time.Now()
	f.pause(time.Second, 5*time.Second)
	f.s.restart(f.t)
	f.serverRestarts++
	return fmt.Sprintf("crashed the dev server; it answered again after %s", time.Since(down).Round(100*time.Millisecond))
}

// lockStore holds one store's write lock for longer than its busy timeout.
func (f *chaosFaults) lockStore() string {
	file := []string{inventory.DatabaseFile, payment.DatabaseFile, shipping.DatabaseFile}[f.rng.IntN(3)]
	hold := time.Duration(sqlitedb.BusyTimeoutMillis)*time.Millisecond + 2*time.Second + time.Duration(f.rng.Int64N(int64(3*time.Second)))
	holdStoreLock(f.t, filepath.Join(f.s.dataDir, file), hold)
	f.storeFaults++
	return fmt.Sprintf("held the write lock of %s for %s", file, hold.Round(100*time.Millisecond))
}

// holdStoreLock holds the SQLite database's write lock for d: every write
// to the database meanwhile waits for its busy timeout and fails.
func holdStoreLock(t *testing.T, path string, d time.Duration) {
	t.Helper()
	release := holdWriteLock(t, path)
	defer release()
	time.Sleep(d) // the fault's length
}

// restartExited starts again any worker that exited without being killed,
// which is a failure: a worker must ride out the faults.
func (f *chaosFaults) restartExited() {
	for _, w := range f.workers {
		if w.proc.exited() {
			f.t.Errorf("worker %s exited by itself (%v):\n%s", w.name, w.proc.err, w.proc.tail(20))
			w.start(f.t, f.s)
		}
	}
}
