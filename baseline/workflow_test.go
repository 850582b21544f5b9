package baseline

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func TestWorkflow(t *testing.T) {
	tests := []struct {
		name    string
		failAt  string // the step that fails, if any
		wantErr bool
		want    []string // steps run, in order
	}{
		{"all steps run in order", "", false, Steps},
		{"a failing step stops the rest", ChargeActivity, true, []string{ReserveActivity, ChargeActivity, ChargeActivity, ChargeActivity}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowType})
			var ran []string
			for _, step := range Steps {
				env.RegisterActivityWithOptions(func(context.Context) error {
					ran = append(ran, step)
					if step == tt.failAt {
						return errors.New("boom")
					}
					return nil
				}, activity.RegisterOptions{Name: step})
			}
			env.ExecuteWorkflow(WorkflowType)
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			if err := env.GetWorkflowError(); (err != nil) != tt.wantErr {
				t.Fatalf("workflow error = %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(ran, tt.want) {
				t.Errorf("steps run = %q, want %q", ran, tt.want)
			}
		})
	}
}

func TestRegisterUsesPublicNames(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	Register(env)
	env.ExecuteWorkflow(WorkflowType)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("baseline workflow with the registered activities: %v", err)
	}
}
