package continuousaudit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/workflows"
)

var at = time.Date(2030, time.March, 4, 12, 0, 0, 0, time.UTC)

func failingReport() audit.Report {
	r := audit.Report{
		OrdersEnded:        map[workflows.Status]int{workflows.Completed: 3, workflows.Failed: 1},
		OrdersRunning:      2,
		ForgottenCompleted: 5,
		ForgottenUndone:    1,
		StuckAfter:         "30m0s",
		Stuck: []audit.Stuck{
			{OrderID: "7", Kind: audit.KindNeedsAttention, For: "2h0m0s", Detail: "a compensation could not be done", Action: "starter resume 7", Overdue: true},
			{OrderID: "8", Kind: audit.KindTaskFailing, For: "1m0s", Detail: "its workflow task has failed 2 times", Action: "roll back"},
		},
	}
	for i := range MaxListed + 3 {
		r.Violations = append(r.Violations, "violation "+string(rune('a'+i)))
	}
	return r
}

func TestSummarize(t *testing.T) {
	s := Summarize(failingReport(), at, 1500*time.Millisecond)

	assert.False(t, s.OK)
	assert.Equal(t, 4, s.OrdersEnded)
	assert.Equal(t, 6, s.Forgotten)
	assert.Equal(t, MaxListed+3, s.Violations)
	assert.Len(t, s.FirstViolations, MaxListed, "a summary lists at most MaxListed violations")
	assert.Equal(t, 1, s.Stuck, "stuck counts the orders over the threshold")
	assert.Equal(t, 1, s.NeedsAttention)
	assert.Len(t, s.FirstStuck, 2)
	assert.Equal(t, "1.5s", s.Took)
	assert.Equal(t, "audit failed: 23 violation(s), 1 order(s) stuck, 1 waiting for an operator; 4 ended, 2 running, 6 judged by the stores alone", s.Headline())
	md := s.Markdown()
	for _, want := range []string{"**audit failed", "Violations:\n- violation a", "… 3 more: run `worker audit`", "- order 7: needs_attention for 2h0m0s (over the threshold)"} {
		assert.Contains(t, md, want)
	}
}

// newEnv runs AuditWorkflow with its activity answering run's summary.
func newEnv(t *testing.T, run func(context.Context) (Summary, error)) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(AuditWorkflow)
	env.RegisterActivity(&Activities{})
	env.OnActivity(activities.RunAudit, mock.Anything).Return(run)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: ordersaga.AuditScheduleID})
	return env
}

func TestAuditWorkflowPassesWithTheSummary(t *testing.T) {
	clean := Summarize(audit.Report{OrdersEnded: map[workflows.Status]int{workflows.Completed: 2}, Violations: []string{}, StuckAfter: "30m0s"}, at, time.Second)
	env := newEnv(t, func(context.Context) (Summary, error) { return clean, nil })

	env.ExecuteWorkflow(AuditWorkflow)

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var got Summary
	require.NoError(t, env.GetWorkflowResult(&got))
	assert.True(t, got.OK)
	assert.Equal(t, 2, got.OrdersEnded)
}

// A run that finds anything fails, so that it shows in the Web UI among
// the schedule's runs, with the summary in the failure's details.
func TestAuditWorkflowFailsOnFindings(t *testing.T) {
	found := Summarize(failingReport(), at, time.Second)
	env := newEnv(t, func(context.Context) (Summary, error) { return found, nil })

	env.ExecuteWorkflow(AuditWorkflow)

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	assert.Equal(t, AuditFailedError, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.True(t, strings.HasPrefix(appErr.Message(), "audit failed: 23 violation(s)"), appErr.Message())
	var details Summary
	require.NoError(t, appErr.Details(&details))
	assert.Equal(t, found.Violations, details.Violations)
}

// An audit that cannot read the stores is tried again, then the run fails
// with the reason.
func TestAuditWorkflowFailsWhenTheAuditCannotRun(t *testing.T) {
	calls := 0
	env := newEnv(t, func(context.Context) (Summary, error) {
		calls++
		return Summary{}, errors.New("inventory store: no store at .data/inventory.db")
	})

	env.ExecuteWorkflow(AuditWorkflow)

	require.Error(t, env.GetWorkflowError())
	assert.Contains(t, env.GetWorkflowError().Error(), "no store at")
	assert.Equal(t, int(auditOptions.RetryPolicy.MaximumAttempts), calls)
}

// RunAudit reports the findings as gauges in the worker's metrics.
func TestRunAuditSetsTheGauges(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	gauges := &gaugeRecorder{values: map[string]float64{}}
	suite.SetMetricsHandler(gauges)
	env := suite.NewTestActivityEnvironment()
	a := &Activities{Audit: func(context.Context) (audit.Report, error) { return failingReport(), nil }}
	env.RegisterActivity(a)

	val, err := env.ExecuteActivity(a.RunAudit)

	require.NoError(t, err)
	var s Summary
	require.NoError(t, val.Get(&s))
	assert.Equal(t, float64(MaxListed+3), gauges.values[MetricViolations])
	assert.Equal(t, float64(1), gauges.values[MetricStuckOrders])
	assert.Equal(t, float64(1), gauges.values[MetricNeedsAttention])
	assert.NotZero(t, gauges.values[MetricLastRun])
}

// gaugeRecorder keeps the last value of every gauge.
type gaugeRecorder struct {
	client.MetricsHandler
	values map[string]float64
}

func (g *gaugeRecorder) WithTags(map[string]string) client.MetricsHandler { return g }
func (g *gaugeRecorder) Counter(string) client.MetricsCounter {
	return client.MetricsNopHandler.Counter("")
}
func (g *gaugeRecorder) Timer(string) client.MetricsTimer { return client.MetricsNopHandler.Timer("") }
func (g *gaugeRecorder) Gauge(name string) client.MetricsGauge {
	return gaugeFunc(func(v float64) { g.values[name] = v })
}

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }
