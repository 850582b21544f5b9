package main

import (
	"strings"
	"testing"
	"time"
)

func TestTuningCheck(t *testing.T) {
	good := tuning{workflowPollers: DefaultWorkflowPollers, activityPollers: DefaultActivityPollers, workflowCacheSize: DefaultWorkflowCacheSize}
	if err := good.check(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*tuning)
		want string
	}{
		{"one workflow poller", func(t *tuning) { t.workflowPollers = 1 }, "--workflow-pollers is 1: give at least 2"},
		{"no activity poller", func(t *tuning) { t.activityPollers = 0 }, "--activity-pollers is 0: give at least 1"},
		{"no cache", func(t *tuning) { t.workflowCacheSize = 0 }, "--workflow-cache-size is 0: give at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := good
			tc.edit(&bad)
			if err := bad.check(); err == nil || err.Error() != tc.want {
				t.Errorf("check() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWorkerOptionsCarryTheTuning(t *testing.T) {
	tu := tuning{workflowPollers: 6, activityPollers: 3, workflowCacheSize: 100}
	o := tu.workerOptions(7 * time.Second)
	if o.MaxConcurrentWorkflowTaskPollers != 6 || o.MaxConcurrentActivityTaskPollers != 3 || o.WorkerStopTimeout != 7*time.Second {
		t.Errorf("worker options %+v", o)
	}
	if s := tu.String(); !strings.Contains(s, "workflow_pollers=6") || !strings.Contains(s, "workflow_cache_size=100") {
		t.Errorf("String() = %q", s)
	}
}
