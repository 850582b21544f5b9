package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// compensation undoes one forward step. run returns a line for the order's
// record of what it did ("released 3 units").
type compensation struct {
	name string
	key  string
	run  func(ctx workflow.Context) (string, error)
}

// saga is the stack of compensations of the steps an order has started.
// A step pushes its compensation before it runs, because a step can take
// effect and still report failure (its worker crashed after the commit, its
// reply timed out); every compensation is idempotent and a no-op for a step
// that never happened, so undoing a step that did not happen is harmless.
type saga struct {
	stack []compensation
}

func (s *saga) add(c compensation) { s.stack = append(s.stack, c) }

// compensationRetryPause is how long the saga waits before it runs a
// compensation again after the activity gave up on it (its retry policy has
// no attempt limit, so only a non-retryable error gets here).
const compensationRetryPause = time.Minute

// compensate runs the compensations in reverse order, each until it
// succeeds, and reports each one to done. ctx must be disconnected from the
// order's cancellation, so that a cancelled order still undoes its steps.
func (s *saga) compensate(ctx workflow.Context, done func(c compensation, detail string), failed func(c compensation, err error)) {
	for i := len(s.stack) - 1; i >= 0; i-- {
		c := s.stack[i]
		for {
			detail, err := c.run(ctx)
			if err == nil {
				done(c, detail)
				break
			}
			failed(c, err)
			_ = workflow.Sleep(ctx, compensationRetryPause)
		}
	}
	s.stack = nil
}
