package workflows

import (
	"context"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/activities/payment"
)

// TestMetricsCountWhatHappenedToTheOrder: each way an order ends counts
// once in its metric, with labels that say how, and the compensations and
// step durations are recorded by name.
func TestMetricsCountWhatHappenedToTheOrder(t *testing.T) {
	declined := func(h *testEnv) {
		h.charge = func(context.Context, payment.ChargeRequest) (payment.Charge, error) {
			return payment.Charge{}, temporal.NewNonRetryableApplicationError("card declined", payment.DeclinedError, nil)
		}
	}
	tests := []struct {
		name  string
		setup func(h *testEnv)
		run   func(h *testEnv, o Order)
		want  []sample
	}{
		{
			name: "completed",
			run:  func(h *testEnv, o Order) { h.runCompleted(o) },
			want: []sample{
				{name: MetricOrdersCompleted, value: 1},
				{name: MetricOrdersFailed, value: 0},
				{name: MetricOrdersCancelled, value: 0},
				{name: MetricCompensationsRun, value: 0},
				{name: MetricStepDuration, labels: map[string]string{LabelStep: StepReserve, LabelOutcome: OutcomeOK}, value: 1},
				{name: MetricStepDuration, labels: map[string]string{LabelStep: StepCharge, LabelOutcome: OutcomeOK}, value: 1},
				{name: MetricStepDuration, labels: map[string]string{LabelStep: StepShip, LabelOutcome: OutcomeOK}, value: 1},
				{name: MetricStepDuration, labels: map[string]string{LabelStep: StepCancelWindow}, value: 0},
			},
		},
		{
			name:  "declined",
			setup: declined,
			run:   func(h *testEnv, o Order) { h.runFailed(o) },
			want: []sample{
				{name: MetricOrdersCompleted, value: 0},
				{name: MetricOrdersFailed, labels: map[string]string{LabelStep: StepCharge, LabelReason: payment.DeclinedError}, value: 1},
				{name: MetricCompensationsRun, labels: map[string]string{LabelCompensation: CompensateRefund}, value: 1},
				{name: MetricCompensationsRun, labels: map[string]string{LabelCompensation: CompensateRelease}, value: 1},
				{name: MetricCompensationsRun, labels: map[string]string{LabelCompensation: CompensateCancelShipment}, value: 0},
				{name: MetricStepDuration, labels: map[string]string{LabelStep: StepCharge, LabelOutcome: OutcomeFailed}, value: 1},
			},
		},
		{
			name: "invalid",
			run: func(h *testEnv, o Order) {
				o.Items = nil
				h.runFailed(o)
			},
			want: []sample{
				{name: MetricOrdersFailed, labels: map[string]string{LabelStep: StepValidate, LabelReason: ReasonInvalid}, value: 1},
				{name: MetricStepDuration, value: 0},
			},
		},
		{
			name:  "cancelled by signal",
			setup: func(h *testEnv) { h.cancelAt(testWindow/2, "changed my mind") },
			run:   func(h *testEnv, o Order) { h.runCancelled(o) },
			want: []sample{
				{name: MetricOrdersCancelled, labels: map[string]string{LabelCancelledBy: CancelledBySignal}, value: 1},
				{name: MetricOrdersFailed, value: 0},
				{name: MetricCompensationsRun, labels: map[string]string{LabelCompensation: CompensateRefund}, value: 1},
				{name: MetricCompensationsRun, labels: map[string]string{LabelCompensation: CompensateRelease}, value: 1},
			},
		},
		{
			name:  "cancelled through Temporal",
			setup: func(h *testEnv) { h.at(testWindow/2, h.env.CancelWorkflow) },
			run:   func(h *testEnv, o Order) { h.runCancelled(o) },
			want: []sample{
				{name: MetricOrdersCancelled, labels: map[string]string{LabelCancelledBy: CancelledByTemporal}, value: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			if tt.setup != nil {
				tt.setup(h)
			}
			tt.run(h, testOrder())

			assert.Equal(t, 1, h.metrics.count(MetricOrdersStarted, nil), MetricOrdersStarted)
			for _, w := range tt.want {
				assert.Equal(t, w.value, h.metrics.count(w.name, w.labels), "%s%v", w.name, w.labels)
			}
			h.metrics.assertBoundedLabels(t)
		})
	}
}

// TestMetricsCountACompensationThatNeedsAttention: a refused refund counts
// as a failed compensation and sends the order to NEEDS_ATTENTION; once
// resumed, the refund counts as run.
func TestMetricsCountACompensationThatNeedsAttention(t *testing.T) {
	h := newTestEnv(t)
	var broken atomic.Bool
	broken.Store(true)
	failingRefund(h, &broken, temporal.NewNonRetryableApplicationError("refunds are switched off", "Maintenance", nil))
	h.at(time.Hour, func() { broken.Store(false) })
	h.resumeAt(time.Hour+time.Minute, "payment service fixed")

	h.runFailed(testOrder())

	refund := map[string]string{LabelCompensation: CompensateRefund}
	assert.Equal(t, 1, h.metrics.count(MetricCompensationsFailed, refund))
	assert.Equal(t, 1, h.metrics.count(MetricOrdersNeedsAttention, refund))
	assert.Equal(t, 1, h.metrics.count(MetricCompensationsRun, refund))
	assert.Equal(t, 1, h.metrics.count(MetricOrdersFailed, map[string]string{LabelStep: StepShip, LabelReason: "Undeliverable"}))
	h.metrics.assertBoundedLabels(t)
}

// sample is a metric, some of its labels, and how many times it was
// incremented (a counter) or recorded (a timer) with them.
type sample struct {
	name   string
	labels map[string]string
	value  int
}

// capturedMetrics is a client.MetricsHandler that keeps every counter
// increment and timer recording, with its labels.
type capturedMetrics struct {
	tags map[string]string
	all  *metricLog
}

type metricLog struct {
	mu      sync.Mutex
	samples []sample
}

var _ client.MetricsHandler = (*capturedMetrics)(nil)

func newCapturedMetrics() *capturedMetrics {
	return &capturedMetrics{tags: map[string]string{}, all: &metricLog{}}
}

func (m *capturedMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(m.tags)
	maps.Copy(merged, tags)
	return &capturedMetrics{tags: merged, all: m.all}
}

func (m *capturedMetrics) record(name string, n int) {
	l := m.all
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = append(l.samples, sample{name: name, labels: maps.Clone(m.tags), value: n})
}

func (m *capturedMetrics) Counter(name string) client.MetricsCounter {
	return counterFunc(func(n int64) { m.record(name, int(n)) })
}

func (m *capturedMetrics) Timer(name string) client.MetricsTimer {
	return timerFunc(func(time.Duration) { m.record(name, 1) })
}

func (m *capturedMetrics) Gauge(string) client.MetricsGauge {
	return client.MetricsNopHandler.Gauge("")
}

type counterFunc func(int64)

func (f counterFunc) Inc(n int64) { f(n) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

// count sums the metric's samples that carry every one of labels.
func (m *capturedMetrics) count(name string, labels map[string]string) int {
	l := m.all
	l.mu.Lock()
	defer l.mu.Unlock()
	total := 0
	for _, s := range l.samples {
		if s.name == name && hasLabels(s.labels, labels) {
			total += s.value
		}
	}
	return total
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// assertBoundedLabels checks that the order's metrics carry only their
// documented labels (besides the SDK's own) and never the order's or the
// workflow's ID.
func (m *capturedMetrics) assertBoundedLabels(t *testing.T) {
	t.Helper()
	ours := map[string]bool{LabelStep: true, LabelReason: true, LabelCancelledBy: true, LabelCompensation: true, LabelOutcome: true}
	sdk := map[string]bool{"namespace": true, "task_queue": true, "workflow_type": true}
	l := m.all
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.samples {
		if !strings.HasPrefix(s.name, "ordersaga_") {
			continue
		}
		for k, v := range s.labels {
			require.True(t, ours[k] || sdk[k], "%s has the undocumented label %s=%q", s.name, k, v)
			require.NotContains(t, []string{testOrderID, testWorkflowID}, v, "%s labelled with an ID", s.name)
		}
	}
}
