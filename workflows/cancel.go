package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
)

// CancelResult answers the cancel-order update: whether the order accepted
// the cancel and where it stands once it has decided.
type CancelResult struct {
	// Accepted is true when the order stopped its forward steps to undo
	// them; false when it refused the cancel (Why says why).
	Accepted bool `json:"accepted"`
	// Status is the order's status when the update returned: COMPENSATING
	// (or already CANCELLED, or NEEDS_ATTENTION) for an accepted cancel.
	Status Status `json:"status"`
	// Why is why the cancel was refused; empty when it was accepted.
	Why string `json:"why,omitempty"`
	// Undoing lists the compensations of an accepted cancel, newest first,
	// the ones already done included.
	Undoing []string `json:"undoing,omitempty"`
}

// cancelAsk is a cancel-order update that passed validation and waits for
// the order's answer, given where the signal's is: at a step boundary
// (answerCancels).
type cancelAsk struct {
	req      CancelRequest
	answered bool
	// why is why the order refused the cancel; empty if it accepted it.
	why string
}

// registerCancelUpdate answers the cancel-order update, the cancel-order
// signal's twin that tells its caller whether the cancel was accepted.
func (o *orderRun) registerCancelUpdate(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, ordersaga.CancelOrderUpdate, o.cancelByUpdate,
		workflow.UpdateHandlerOptions{
			Validator:   o.validateCancel,
			Description: "Cancel the order and undo its steps; refused once the shipment exists or the order is already failing or cancelled. Returns once the order is compensating.",
		})
}

// validateCancel refuses, before it reaches the order's history, a cancel
// that the order would refuse: one past the point of no return, one of an
// order that is already failing or being cancelled, or one whose reason is
// too long to keep. It only reads the state.
func (o *orderRun) validateCancel(req CancelRequest) error {
	if err := CheckReason("cancel", req.Reason); err != nil {
		return err
	}
	if why := o.cancelRefusal(); why != "" {
		return fmt.Errorf("order %s cannot be cancelled: %s", o.state.OrderID, why)
	}
	return nil
}

// cancelByUpdate hands the cancel to the order, which answers it at its
// next step boundary as it answers the signal, and waits for the answer:
// for an accepted cancel, until the forward steps have stopped and the
// order is undoing them. A shipment whose result the order saw first wins:
// the answer is then a refusal.
func (o *orderRun) cancelByUpdate(ctx workflow.Context, req CancelRequest) (CancelResult, error) {
	ask := &cancelAsk{req: req}
	o.asks = append(o.asks, ask)
	// Disconnected, so that a cancellation of the order through Temporal
	// does not cut the answer short: the order still decides.
	wait, _ := workflow.NewDisconnectedContext(ctx)
	err := workflow.Await(wait, func() bool {
		return ask.answered && (ask.why != "" || !o.state.Status.forward()) || o.state.Status.Final()
	})
	if err != nil {
		return CancelResult{}, fmt.Errorf("wait for the order to answer the cancel: %w", err)
	}
	if !ask.answered {
		// The order ended before its first step boundary (an invalid
		// order, an order ID already used).
		ask.why = o.cancelRefusal()
	}
	if ask.why != "" {
		return CancelResult{Status: o.state.Status, Why: ask.why}, nil
	}
	return CancelResult{Accepted: true, Status: o.state.Status, Undoing: o.undoing()}, nil
}

// undoing lists the compensations of a cancelled order, newest first: the
// ones done, then the ones still to run.
func (o *orderRun) undoing() []string {
	out := make([]string, 0, len(o.state.Compensations)+len(o.saga.stack))
	for _, c := range o.state.Compensations {
		out = append(out, c.Name)
	}
	for i := len(o.saga.stack) - 1; i >= 0; i-- {
		out = append(out, o.saga.stack[i].name)
	}
	return out
}

// forward reports whether an order in this status is still running its
// forward steps, and so may be cancelled.
func (s Status) forward() bool {
	switch s {
	case Pending, Reserving, Charging, AwaitingFulfillment, Shipping:
		return true
	}
	return false
}

// cancelRefusal says why the order would refuse a cancel now; empty if it
// would accept it. The update's validator and the step boundary both ask
// it, so that they cannot disagree.
func (o *orderRun) cancelRefusal() string {
	switch {
	case o.shipped:
		return fmt.Sprintf("shipment %s was already created, tracking number %s", o.state.ShipmentID, o.state.TrackingNumber)
	case o.stopped == stoppedByFailure:
		return "the order already failed: " + o.stopReason
	case !o.state.Status.forward():
		return fmt.Sprintf("the order is already %s", o.state.Status)
	case o.stopped.asked():
		return "the order is already being cancelled: " + o.stopReason
	}
	return ""
}

// onCancel answers a cancel that came by signal or update (by is
// stoppedBySignal or stoppedByUpdate). Before the point of no return it
// accepts it and stops the forward steps; after it, or once the order has
// failed, is undoing its steps or has accepted a cancel already, it records
// the cancel as refused (cancelRefusal). It returns why it refused it, or ""
// if it accepted it.
func (o *orderRun) onCancel(ctx workflow.Context, req CancelRequest, by stopCause) string {
	if why := o.cancelRefusal(); why != "" {
		o.refuseCancel(ctx, req.Reason, why)
		return why
	}
	o.stop(by, clip(req.Reason))
	o.logger.Info("cancel accepted", "reason", o.stopReason, "status", o.state.Status)
	o.stopSteps()
	return ""
}

// MaxRefusedCancels is how many refused cancels an order records; more are
// only counted.
const MaxRefusedCancels = 20

func (o *orderRun) refuseCancel(ctx workflow.Context, reason, why string) {
	reason = clip(reason)
	o.logger.Info("cancel refused", "reason", reason, "why", why)
	if len(o.state.RefusedCancels) >= MaxRefusedCancels {
		o.state.MoreRefusedCancels++
		return
	}
	o.state.RefusedCancels = append(o.state.RefusedCancels, RefusedCancel{Reason: reason, Why: why, At: workflow.Now(ctx)})
}

// CheckReason refuses a reason for what ("cancel", "resume") longer than
// MaxTextLength, the limit on an order's texts: the order keeps the reason
// in its state, which every query and its final result carry.
func CheckReason(what, reason string) error {
	if len(reason) > MaxTextLength {
		return fmt.Errorf("%s reason is %d characters long: the limit is %d; give a shorter reason", what, len(reason), MaxTextLength)
	}
	return nil
}
