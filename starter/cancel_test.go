package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

func TestCancelOutcome(t *testing.T) {
	if err := cancelOutcome(cancelledView()); err != nil {
		t.Errorf("CANCELLED: %v, want nil", err)
	}

	err := cancelOutcome(completedView())
	var outcome *outcomeError
	if !errors.As(err, &outcome) || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "shipment shp_1 was already created") {
		t.Errorf("COMPLETED: %v, want an outcome error saying the cancel was refused and why", err)
	}

	failed := cancelledView()
	failed.Status, failed.FailureReason = workflows.Failed, "reserve failed: out of stock"
	if err := cancelOutcome(failed); !errors.As(err, &outcome) || !strings.Contains(err.Error(), "FAILED") {
		t.Errorf("FAILED: %v, want an outcome error", err)
	}
}

func TestOutcomeExitCode(t *testing.T) {
	if got := exitCode(&outcomeError{msg: "x"}); got != exitOutcome {
		t.Errorf("exit code of an outcome error = %d, want %d", got, exitOutcome)
	}
	if got := exitCode(fmt.Errorf("wrapped: %w", &outcomeError{msg: "x"})); got != exitOutcome {
		t.Errorf("exit code of a wrapped outcome error = %d, want %d", got, exitOutcome)
	}
	if got := exitCode(errors.New("x")); got != exitError {
		t.Errorf("exit code of an error = %d, want %d", got, exitError)
	}
}

func TestPrintCancelRequested(t *testing.T) {
	v := completedView()
	v.Status, v.TemporalStatus = workflows.Shipping, "Running"
	var b bytes.Buffer
	if err := printCancelRequested(&b, v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Cancel of order 42 requested; it was SHIPPING.", "shipment shp_1 already exists", "starter watch 42"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestNotFoundHint(t *testing.T) {
	err := notFoundHint(fmt.Errorf("%w: 42", orderclient.ErrNotFound))
	if !errors.Is(err, orderclient.ErrNotFound) || !strings.Contains(err.Error(), "starter list") {
		t.Errorf("notFoundHint = %v", err)
	}
	other := errors.New("boom")
	if notFoundHint(other) != other {
		t.Error("notFoundHint changed an unrelated error")
	}
}

// A cancel reason longer than the limit on an order's texts is refused
// before the starter connects; one at the limit gets as far as connecting.
func TestCancelReasonLength(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		refused bool
	}{
		{"at the limit", strings.Repeat("r", workflows.MaxTextLength), false},
		{"one over the limit", strings.Repeat("r", workflows.MaxTextLength+1), true},
		{"huge", strings.Repeat("r", 1<<20), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runStarter(t, "cancel", "--temporal-address", deadAddress, "42", "--reason", tt.reason)
			if !tt.refused {
				if code != exitError || !strings.Contains(stderr, "connect to Temporal at "+deadAddress) {
					t.Errorf("exit code %d, stderr %q; want a connection error to %s", code, stderr, deadAddress)
				}
				return
			}
			assertOneLineError(t, code, stdout, stderr,
				fmt.Sprintf("--reason: cancel reason is %d characters long: the limit is %d; give a shorter reason", len(tt.reason), workflows.MaxTextLength))
		})
	}
}

func TestPrintCancelAccepted(t *testing.T) {
	tests := []struct {
		name   string
		answer orderclient.Cancellation
		want   string
	}{
		{
			name: "undoing two steps",
			answer: orderclient.Cancellation{OrderID: "42", CancelResult: workflows.CancelResult{
				Accepted: true, Status: workflows.Compensating, Undoing: []string{workflows.CompensateRefund, workflows.CompensateRelease}}},
			want: "Cancel of order 42 accepted: COMPENSATING (undoing refund, then release).\n",
		},
		{
			name:   "nothing to undo",
			answer: orderclient.Cancellation{OrderID: "42", CancelResult: workflows.CancelResult{Accepted: true, Status: workflows.Cancelled}},
			want:   "Cancel of order 42 accepted: CANCELLED (nothing to undo).\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printCancelAccepted(&b, tt.answer); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(b.String(), tt.want) || !strings.Contains(b.String(), "starter watch 42") {
				t.Errorf("text = %q, want it to start with %q and say how to follow the order", b.String(), tt.want)
			}
		})
	}
}
