package continuousaudit

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
)

// DefaultEvery is how often the schedule audits unless told otherwise.
const DefaultEvery = 5 * time.Minute

// EnsureSchedule creates the audit's schedule, running every every (and
// once at once), or updates an existing one to that interval. Every worker
// that hosts the audit service calls it when it starts, so replicas agree
// and a changed --audit-every takes effect on the next start. A run still
// going when the next is due makes that one skip.
func EnsureSchedule(ctx context.Context, c client.Client, every time.Duration) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	action := &client.ScheduleWorkflowAction{
		ID:        ordersaga.AuditScheduleID,
		Workflow:  ordersaga.AuditWorkflowType,
		TaskQueue: ordersaga.AuditTaskQueue,
	}
	sc := c.ScheduleClient()
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID: ordersaga.AuditScheduleID, Spec: spec, Action: action,
		Overlap:            enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		TriggerImmediately: true,
		Note:               "ordersaga's continuous audit: the saga's invariants across the stores and Temporal (worker run --services audit)",
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create the audit schedule %s: %w", ordersaga.AuditScheduleID, err)
	}
	err = sc.GetHandle(ctx, ordersaga.AuditScheduleID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sched := in.Description.Schedule
			sched.Spec, sched.Action = &spec, action
			if sched.Policy != nil {
				sched.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
			}
			return &client.ScheduleUpdate{Schedule: &sched}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update the audit schedule %s: %w", ordersaga.AuditScheduleID, err)
	}
	return nil
}
