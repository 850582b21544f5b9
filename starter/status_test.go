package main

import (
	"bytes"
	"strings"
	"testing"
)

// status shows the order's trace ID after the rest of the order, and no
// line for it when the order has none.
func TestPrintStatusTraceID(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tt := range []struct {
		name, traceID, wantTail string
	}{
		{name: "traced", traceID: id, wantTail: "\nTrace ID: " + id + "\n"},
		{name: "not traced", wantTail: "history?a=1&b=2\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printStatus(&b, statusView{View: completedView(), TraceID: tt.traceID}); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			if !strings.HasPrefix(got, "Order 42: COMPLETED\n") || !strings.HasSuffix(got, tt.wantTail) {
				t.Errorf("status:\n%s\nwant the order, ending with %q", got, tt.wantTail)
			}
			if strings.Count(got, "Trace ID") != strings.Count(tt.wantTail, "Trace ID") {
				t.Errorf("status:\n%s\nwant the trace ID once when traced, else never", got)
			}
		})
	}
}
