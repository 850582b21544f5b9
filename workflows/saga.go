package workflows

import (
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

// drop removes the newest compensation if it undoes the step with key: the
// step's service refused it without acting, so there is nothing to undo.
func (s *saga) drop(key string) {
	if n := len(s.stack); n > 0 && s.stack[n-1].key == key {
		s.stack = s.stack[:n-1]
	}
}

// remaining is how many compensations are still to run, the one under way
// included.
func (s *saga) remaining() int { return len(s.stack) }

// compensate runs the compensations newest first, each until it succeeds,
// and reports each success to done. When one fails, retry decides when to
// run it again: it returns once it is time to. ctx must be disconnected from
// the order's cancellation, so that a cancelled order still undoes its steps.
func (s *saga) compensate(ctx workflow.Context, done func(c compensation, detail string), retry func(c compensation, err error)) {
	for len(s.stack) > 0 {
		c := s.stack[len(s.stack)-1]
		detail, err := c.run(ctx)
		if err != nil {
			retry(c, err)
			continue
		}
		done(c, detail)
		s.stack = s.stack[:len(s.stack)-1]
	}
}
