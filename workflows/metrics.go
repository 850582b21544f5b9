package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The order's business metrics, as the worker's metrics handler names them.
// A Prometheus exporter adds "_total" to the counters and "_seconds" to the
// step duration. Every label has a small, fixed set of values: never an
// order or customer ID.
const (
	// MetricOrdersStarted counts the orders whose saga began.
	MetricOrdersStarted = "ordersaga_orders_started"
	// MetricOrdersCompleted counts the orders that ended COMPLETED.
	MetricOrdersCompleted = "ordersaga_orders_completed"
	// MetricOrdersFailed counts the orders that ended FAILED, by LabelStep
	// and LabelReason.
	MetricOrdersFailed = "ordersaga_orders_failed"
	// MetricOrdersCancelled counts the orders that ended CANCELLED, by
	// LabelCancelledBy.
	MetricOrdersCancelled = "ordersaga_orders_cancelled"
	// MetricOrdersNeedsAttention counts the times an order stopped in
	// NEEDS_ATTENTION, by LabelCompensation.
	MetricOrdersNeedsAttention = "ordersaga_orders_needs_attention"
	// MetricCompensationsRun counts the compensations that succeeded, by
	// LabelCompensation.
	MetricCompensationsRun = "ordersaga_compensations_run"
	// MetricCompensationsFailed counts the compensations that gave up (their
	// service refused, or their time ran out), by LabelCompensation.
	MetricCompensationsFailed = "ordersaga_compensations_failed"
	// MetricStepDuration is how long a forward step took as the order saw
	// it, retries included, by LabelStep and LabelOutcome.
	MetricStepDuration = "ordersaga_step_duration"
)

// The business metrics' labels.
const (
	// LabelStep is a forward step (StepReserve, StepCharge, StepShip) or,
	// for a failed order, StepValidate or StepClaim.
	LabelStep = "step"
	// LabelReason is why the step failed: the service's error type
	// ("PaymentDeclined", "OutOfStock", "OrderIDUsed", ...), ReasonTimeout, ReasonInvalid
	// or ReasonError.
	LabelReason = "reason"
	// LabelCancelledBy is CancelledBySignal, CancelledByUpdate or
	// CancelledByTemporal.
	LabelCancelledBy = "cancelled_by"
	// LabelCompensation is CompensateRelease, CompensateRefund or
	// CompensateCancelShipment.
	LabelCompensation = "compensation"
	// LabelOutcome is OutcomeOK, OutcomeFailed or OutcomeCancelled.
	LabelOutcome = "outcome"
)

// Label values that are not the order's own names.
const (
	// StepValidate is the check of the order's fields before any step.
	StepValidate = "validate"

	ReasonInvalid = "InvalidOrder"
	ReasonTimeout = "Timeout"
	ReasonError   = "Error"

	OutcomeOK        = "ok"
	OutcomeFailed    = "failed"
	OutcomeCancelled = "cancelled"
)

// orderMetrics emits one order's business metrics through the workflow's
// metrics handler, which drops them while the workflow replays: each is
// counted once, however often the order's history is replayed.
type orderMetrics struct {
	handler client.MetricsHandler
}

func newOrderMetrics(ctx workflow.Context) orderMetrics {
	return orderMetrics{handler: workflow.GetMetricsHandler(ctx)}
}

func (m orderMetrics) count(name string, labels map[string]string) {
	m.handler.WithTags(labels).Counter(name).Inc(1)
}

func (m orderMetrics) started()   { m.count(MetricOrdersStarted, nil) }
func (m orderMetrics) completed() { m.count(MetricOrdersCompleted, nil) }

func (m orderMetrics) failed(step, reason string) {
	m.count(MetricOrdersFailed, map[string]string{LabelStep: step, LabelReason: reason})
}

func (m orderMetrics) cancelled(by string) {
	m.count(MetricOrdersCancelled, map[string]string{LabelCancelledBy: by})
}

func (m orderMetrics) needsAttention(compensation string) {
	m.count(MetricOrdersNeedsAttention, map[string]string{LabelCompensation: compensation})
}

func (m orderMetrics) compensationRun(compensation string) {
	m.count(MetricCompensationsRun, map[string]string{LabelCompensation: compensation})
}

func (m orderMetrics) compensationFailed(compensation string) {
	m.count(MetricCompensationsFailed, map[string]string{LabelCompensation: compensation})
}

// stepEnded records how long a step took and how it ended (its outcome).
func (m orderMetrics) stepEnded(step string, took time.Duration, outcome string) {
	m.handler.WithTags(map[string]string{LabelStep: step, LabelOutcome: outcome}).Timer(MetricStepDuration).Record(took)
}

// stepOutcome is how a step that returned err ended, given why the forward
// steps stopped: OutcomeOK, OutcomeCancelled or OutcomeFailed.
func stepOutcome(err error, stopped stopCause) string {
	switch {
	case err == nil:
		return OutcomeOK
	case stopped.cancelled():
		return OutcomeCancelled
	}
	return OutcomeFailed
}

// failureKind names, from a small fixed set, why a step failed: the
// service's business error type, a timeout, or any other error.
func failureKind(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() && appErr.Type() != "" {
		return appErr.Type()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return ReasonTimeout
	}
	return ReasonError
}
