package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// Stuck is a running order that makes no progress, or waits for a person.
type Stuck struct {
	OrderID    string `json:"order_id"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	// Kind is what holds it: KindNeedsAttention, KindTaskFailing,
	// KindNoOrderWorker, KindNoServiceWorker, KindActivityFailing or
	// KindNoProgress.
	Kind string `json:"kind"`
	// Since is when it last made progress (or when what holds it began).
	Since time.Time `json:"since"`
	// For is how long that is, when the audit looked.
	For    string `json:"for"`
	Detail string `json:"detail"`
	// Action says what to do about it.
	Action string `json:"action"`
	// Overdue: stuck for longer than the audit's StuckAfter, which fails
	// the audit.
	Overdue bool `json:"overdue"`
}

// String says in one line which order is stuck, how, for how long, and
// what to do.
func (s Stuck) String() string {
	over := ""
	if s.Overdue {
		over = " (over the threshold)"
	}
	return fmt.Sprintf("order %s: %s for %s%s: %s; %s", s.OrderID, s.Kind, s.For, over, s.Detail, s.Action)
}

// Mark is how a report flags it: STUCK over the threshold, NOTE under.
func (s Stuck) Mark() string {
	if s.Overdue {
		return "STUCK"
	}
	return "NOTE "
}

// The kinds of stuck order.
const (
	KindNeedsAttention  = "needs_attention"
	KindTaskFailing     = "workflow_task_failing"
	KindNoOrderWorker   = "no_order_worker"
	KindNoServiceWorker = "no_service_worker"
	KindActivityFailing = "activity_failing"
	KindNoProgress      = "no_progress"
)

// inspectParallelism bounds how many running orders are inspected at once.
const inspectParallelism = 16

// inspectRunning looks at every running order for what holds it.
func (a *auditor) inspectRunning(ctx context.Context) error {
	var running []*runInfo
	for _, runs := range a.runs {
		for _, r := range runs {
			if r.Running() && !r.gone {
				running = append(running, r)
			}
		}
	}
	a.report.OrdersRunning = len(running)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(inspectParallelism)
	for _, r := range running {
		g.Go(func() error {
			in, err := a.temporal.Inspect(gctx, r.WorkflowID, r.RunID)
			if errors.Is(err, ErrGone) {
				return nil // deleted since the list: nothing left to judge
			}
			if err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			if s, ok := stuckOf(r.OrderRun, in, a.start, a.opts.stuckAfter()); ok {
				mu.Lock()
				a.report.Stuck = append(a.report.Stuck, s)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	slices.SortFunc(a.report.Stuck, func(x, y Stuck) int { return x.Since.Compare(y.Since) })
	return nil
}

// stuckOf says what holds a running order, if anything does. An order in
// NEEDS_ATTENTION or whose workflow task fails is always reported (neither
// passes by itself); anything else only once it has made no progress for
// longer than stuckAfter. An order waiting out its cancel window is not
// stuck until the window's timer is overdue.
func stuckOf(r OrderRun, in Inspection, now time.Time, stuckAfter time.Duration) (Stuck, bool) {
	s := Stuck{OrderID: strings.TrimPrefix(r.WorkflowID, ordersaga.WorkflowIDPrefix), WorkflowID: r.WorkflowID, RunID: r.RunID, Since: in.LastEventAt}
	always := true
	switch wt := in.WorkflowTask; {
	case r.OrderStatus == workflows.NeedsAttention:
		s.Kind = KindNeedsAttention
		s.Detail = "a compensation could not be done; the order holds what it could not give back"
		s.Action = fmt.Sprintf("see why with 'starter status %s', fix the cause, then 'starter resume %s'", s.OrderID, s.OrderID)
	case wt != nil && wt.Attempt > 1:
		s.Kind, s.Since = KindTaskFailing, wt.ScheduledAt
		s.Detail = fmt.Sprintf("its workflow task has failed %d times", wt.Attempt-1)
		if wt.LastFailure != "" {
			s.Detail += ": " + wt.LastFailure
		}
		s.Action = "the order workers cannot run its history: roll back to the code that started it, or fix the change (docs/promises.md: Changing the workflow safely); see the worker's log"
	default:
		always = false
		if !pendingWork(&s, in) {
			if !in.TimerDue.IsZero() && in.TimerDue.After(s.Since) {
				s.Since = in.TimerDue // waiting is progress until the timer is due
			}
			s.Kind = KindNoProgress
			s.Detail = fmt.Sprintf("no event since %s (last: %s)", in.LastEventAt.UTC().Format(time.RFC3339), in.LastEvent)
			s.Action = fmt.Sprintf("look at its history in the Web UI ('starter status %s'); check that the order, inventory, payment and shipping workers run", s.OrderID)
		}
	}
	age := now.Sub(s.Since)
	s.For = age.Round(time.Second).String()
	s.Overdue = age > stuckAfter
	return s, always || s.Overdue
}

// pendingWork says what pending task holds the order, if one does: a
// workflow task no order worker picks up, or an activity that no service
// worker picks up or that keeps failing.
func pendingWork(s *Stuck, in Inspection) bool {
	if wt := in.WorkflowTask; wt != nil && !wt.Started {
		s.Kind, s.Since = KindNoOrderWorker, wt.ScheduledAt
		s.Detail = fmt.Sprintf("its workflow task waits for an order worker on task queue %q", ordersaga.OrdersTaskQueue)
		s.Action = "start an order worker: worker run --services order"
		return true
	}
	for _, act := range in.Activities {
		queue, service := activityQueue(act.Type)
		switch {
		case !act.Started && act.Attempt <= 1:
			s.Kind, s.Since = KindNoServiceWorker, act.ScheduledAt
			s.Detail = fmt.Sprintf("%s waits for a %s worker on task queue %q", act.Type, service, queue)
			s.Action = "start one: worker run --services " + service
			return true
		case act.Attempt > 1:
			s.Kind = KindActivityFailing
			s.Detail = fmt.Sprintf("%s has failed %d times; last: %s", act.Type, act.Attempt-1, act.LastFailure)
			s.Action = fmt.Sprintf("fix what the %s service's log says; the order goes on by itself once it succeeds", service)
			return true
		}
	}
	return false
}

// activityQueue is the task queue and service of an order's activity.
func activityQueue(activityType string) (queue, service string) {
	switch activityType {
	case "ReserveStock", "ReleaseStock":
		return ordersaga.InventoryTaskQueue, "inventory"
	case "ChargePayment", "RefundPayment":
		return ordersaga.PaymentTaskQueue, "payment"
	case "CreateShipment", "CancelShipment":
		return ordersaga.ShippingTaskQueue, "shipping"
	}
	return "?", "?"
}
