// Package continuousaudit runs the audit (internal/audit, the same code as
// `worker audit`) on a Temporal Schedule, every few minutes, so that a
// broken promise or a stuck order is seen when it happens and not when
// somebody thinks of auditing. A worker that hosts the audit service
// (`worker run --services audit`, where the three stores are reachable)
// creates the schedule and runs its workflow and activity; the findings go
// where people look: the audit workflow's result and current details in
// the Web UI (a run that finds anything fails, so it shows red), gauges in
// the worker's metrics, and the worker's log.
package continuousaudit

import (
	"fmt"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/audit"
)

// MaxListed is how many violations and stuck orders a Summary lists; the
// worker's log has them all, and `worker audit` prints them all.
const MaxListed = 20

// Summary is one audit's findings, small enough for a workflow result.
type Summary struct {
	OK                 bool      `json:"ok"`
	At                 time.Time `json:"at"`
	Took               string    `json:"took"`
	OrdersEnded        int       `json:"orders_ended"`
	OrdersRunning      int       `json:"orders_running"`
	Forgotten          int       `json:"forgotten"`
	StartedDuringAudit int       `json:"started_during_audit"`
	Violations         int       `json:"violations"`
	// Stuck counts the orders stuck for longer than the audit's
	// threshold; NeedsAttention those waiting for an operator.
	Stuck          int `json:"stuck"`
	NeedsAttention int `json:"needs_attention"`
	// FirstViolations and FirstStuck are the first MaxListed of each.
	FirstViolations []string `json:"first_violations,omitempty"`
	FirstStuck      []string `json:"first_stuck,omitempty"`
}

// Summarize condenses a report.
func Summarize(r audit.Report, at time.Time, took time.Duration) Summary {
	s := Summary{
		OK: r.OK(), At: at.UTC(), Took: took.Round(time.Millisecond).String(),
		OrdersRunning: r.OrdersRunning, Forgotten: r.ForgottenCompleted + r.ForgottenUndone,
		StartedDuringAudit: r.StartedDuringAudit, Violations: len(r.Violations), Stuck: r.Overdue(),
	}
	for _, n := range r.OrdersEnded {
		s.OrdersEnded += n
	}
	s.FirstViolations = r.Violations[:min(len(r.Violations), MaxListed)]
	for _, st := range r.Stuck {
		if st.Kind == audit.KindNeedsAttention {
			s.NeedsAttention++
		}
		if len(s.FirstStuck) < MaxListed {
			s.FirstStuck = append(s.FirstStuck, st.String())
		}
	}
	return s
}

// Headline is the summary in one line.
func (s Summary) Headline() string {
	verdict := "passed"
	if !s.OK {
		verdict = "failed"
	}
	return fmt.Sprintf("audit %s: %d violation(s), %d order(s) stuck, %d waiting for an operator; %d ended, %d running, %d judged by the stores alone",
		verdict, s.Violations, s.Stuck, s.NeedsAttention, s.OrdersEnded, s.OrdersRunning, s.Forgotten)
}

// Markdown is the summary as the Web UI shows a workflow's current details.
// It runs in the workflow, so it only formats strings.
func (s Summary) Markdown() string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** (at %s, took %s)\n", s.Headline(), s.At.Format(time.RFC3339), s.Took))
	list := func(title string, items []string, total int) {
		if total == 0 {
			return
		}
		b.WriteString("\n" + title + ":\n")
		for _, it := range items {
			b.WriteString("- " + it + "\n")
		}
		if total > len(items) {
			b.WriteString(fmt.Sprintf("- … %d more: run `worker audit`\n", total-len(items)))
		}
	}
	list("Violations", s.FirstViolations, s.Violations)
	list("Orders without progress or waiting for an operator", s.FirstStuck, len(s.FirstStuck))
	return b.String()
}
