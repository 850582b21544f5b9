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
