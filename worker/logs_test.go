package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	sdklog "go.temporal.io/sdk/log"
)

// TestLogLinesAboutAnOrderCarryItsID: in both log formats, a line about an
// order carries order_id and WorkflowID, once each, whether the saga wrote
// it (with order_id) or the Temporal SDK did (with the workflow ID only);
// a line about no order gets neither.
func TestLogLinesAboutAnOrderCarryItsID(t *testing.T) {
	lines := []struct {
		name      string
		log       func(sdklog.Logger)
		wantOrder string
	}{
		{"the SDK's activity error", func(l sdklog.Logger) {
			sdklog.With(l, "WorkflowID", "order-42", "ActivityType", "ChargePayment").Error("Activity error.", "Error", "declined")
		}, "42"},
		{"an activity's own line", func(l sdklog.Logger) {
			sdklog.With(l, "WorkflowID", "order-42").Info("stock reserved", "order_id", "42")
		}, "42"},
		{"the workflow's own line", func(l sdklog.Logger) {
			sdklog.With(sdklog.With(l, "WorkflowID", "order-42"), "order_id", "42").Info("order status")
		}, "42"},
		{"the SDK's workflow line", func(l sdklog.Logger) {
			l.Warn("Workflow panic", "WorkflowID", "order-7", "RunID", "r")
		}, "7"},
		{"not an order's workflow", func(l sdklog.Logger) { l.Info("x", "WorkflowID", "other-1") }, ""},
		{"no workflow", func(l sdklog.Logger) { l.Info("worker started") }, ""},
	}
	for _, format := range []string{"text", "json"} {
		for _, tt := range lines {
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				var out bytes.Buffer
				g := &globals{logFormat: format, logLevel: "info", stderr: &out}
				logger, err := g.logger()
				if err != nil {
					t.Fatal(err)
				}
				tt.log(sdklog.NewStructuredLogger(logger))

				line := strings.TrimSpace(out.String())
				want := 0
				if tt.wantOrder != "" {
					want = 1
				}
				if n := strings.Count(line, "order_id"); n != want {
					t.Fatalf("order_id appears %d times, want %d: %s", n, want, line)
				}
				if got := orderIDOf(t, format, line); got != tt.wantOrder {
					t.Errorf("order_id is %q, want %q: %s", got, tt.wantOrder, line)
				}
			})
		}
	}
}

func orderIDOf(t *testing.T, format, line string) string {
	t.Helper()
	if format == "json" {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		id, _ := m["order_id"].(string)
		return id
	}
	for _, f := range strings.Fields(line) {
		if id, ok := strings.CutPrefix(f, "order_id="); ok {
			return id
		}
	}
	return ""
}
