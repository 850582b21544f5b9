package orderclient

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/workflows"
)

// describeCounter is a Temporal client that knows no workflow and counts
// the calls that reach it; every other method is unimplemented.
type describeCounter struct {
	client.Client
	calls int
}

func (d *describeCounter) DescribeWorkflow(context.Context, string, string) (*client.WorkflowExecutionDescription, error) {
	d.calls++
	return nil, serviceerror.NewNotFound("workflow not found")
}

// A cancel reason longer than the limit on an order's texts is refused
// before Temporal is asked anything; one at the limit is sent on.
func TestCancelRefusesALongReasonBeforeReachingTemporal(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		wantErr   string
		wantCalls int
	}{
		{"empty", "", ErrNotFound.Error(), 1},
		{"at the limit", strings.Repeat("r", workflows.MaxTextLength), ErrNotFound.Error(), 1},
		{"one over the limit", strings.Repeat("r", workflows.MaxTextLength+1), "cancel reason is 513 characters long: the limit is 512; give a shorter reason", 0},
		{"huge", strings.Repeat("r", 1<<20), "cancel reason is 1048576 characters long: the limit is 512", 0},
		{"over the limit in bytes", strings.Repeat("é", workflows.MaxTextLength/2+1), "cancel reason is 514 characters long", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			temporal := &describeCounter{}
			c := &Client{Temporal: temporal, Namespace: "default"}

			_, err := c.Cancel(context.Background(), "42", tt.reason)

			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Cancel error = %.200v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") || len(err.Error()) > 200 {
				t.Errorf("Cancel error is not one short line: %.300q", err)
			}
			if temporal.calls != tt.wantCalls {
				t.Errorf("Temporal was called %d times, want %d", temporal.calls, tt.wantCalls)
			}
			if tt.wantCalls == 0 && errors.Is(err, ErrNotFound) {
				t.Errorf("a refused reason must not look up the order: %v", err)
			}
		})
	}
}
