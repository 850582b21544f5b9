package load

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/workflows"
)

// TestDriverMaxInFlight: the driver records the most jobs in flight at
// once, which --concurrency bounds.
func TestDriverMaxInFlight(t *testing.T) {
	for _, concurrency := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(concurrency), func(t *testing.T) {
			var started atomic.Int32
			full := make(chan struct{})
			var once sync.Once
			job := func(ctx context.Context, index int, _ loadKind) (jobEnd, error) {
				// The first jobs wait until all the slots are taken.
				if int(started.Add(1)) == concurrency {
					once.Do(func() { close(full) })
				}
				select {
				case <-full:
				case <-ctx.Done():
				}
				return jobEnd{id: fmt.Sprint(index), status: workflows.Completed}, nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d := &driver{plan: loadPlan{concurrency: concurrency, kinds: slices.Repeat([]loadKind{loadKinds[0]}, 20)}, job: job}
			results, _ := d.drive(ctx, &progress{off: true})
			if ctx.Err() != nil || countEnded(results) != 20 {
				t.Fatalf("%d of 20 jobs ended (ctx %v)", countEnded(results), ctx.Err())
			}
			if d.maxInFlight != concurrency {
				t.Errorf("max in flight = %d, want %d", d.maxInFlight, concurrency)
			}
		})
	}
}
