package main

import (
	"testing"
	"time"

	"go.temporal.io/sdk/worker"
)

// Each service with a store runs at most its pool's worth of the tasks
// that use it: the order service its local activities (the claim), the
// others their activities. The audit and the baseline keep the SDK's
// bounds, and nothing else of the options changes.
func TestWithCapacity(t *testing.T) {
	base := worker.Options{WorkerStopTimeout: 7 * time.Second, MaxConcurrentActivityTaskPollers: 8}
	const pool = 4
	tests := []struct {
		service              string
		activities, localAct int
	}{
		{"order", 0, pool},
		{"inventory", pool, 0},
		{"payment", pool, 0},
		{"shipping", pool, 0},
		{"audit", 0, 0},
		{"baseline", 0, 0},
	}
	all := append(append([]service{}, services...), baselineService)
	if len(all) != len(tests) {
		t.Fatalf("%d services, %d in the table: give each new service its capacity", len(all), len(tests))
	}
	for i, tt := range tests {
		if all[i].name != tt.service {
			t.Fatalf("service %d is %q, want %q", i, all[i].name, tt.service)
		}
		got := withCapacity(all[i], pool, base)
		if got.MaxConcurrentActivityExecutionSize != tt.activities || got.MaxConcurrentLocalActivityExecutionSize != tt.localAct ||
			got.WorkerStopTimeout != base.WorkerStopTimeout || got.MaxConcurrentActivityTaskPollers != base.MaxConcurrentActivityTaskPollers {
			t.Errorf("%s: activities %d, local activities %d, stop timeout %s, pollers %d; want %d, %d, %s, %d", tt.service,
				got.MaxConcurrentActivityExecutionSize, got.MaxConcurrentLocalActivityExecutionSize, got.WorkerStopTimeout, got.MaxConcurrentActivityTaskPollers,
				tt.activities, tt.localAct, base.WorkerStopTimeout, base.MaxConcurrentActivityTaskPollers)
		}
	}
}
