package load

import (
	"context"
	"sync"
	"time"
)

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
