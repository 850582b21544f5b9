package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// place prints the order's answer on its first line: the reservation with
// its priced lines, the refusal, or, when the order did not answer, why.
func TestPrintAnswered(t *testing.T) {
	placed := orderclient.View{OrderState: workflows.OrderState{OrderID: "42", WorkflowID: "order-42"}, RunID: "run-1", WebURL: "http://ui/42"}
	reserved := placed
	reserved.Reserved, reserved.ReservationID, reserved.TotalCents = true, "rsv_1", 9297
	reserved.Lines = []inventory.Line{{SKU: "BOOK-GOPL", Qty: 2, UnitPriceCents: 3999}, {SKU: "MUG-GOPHER", Qty: 1, UnitPriceCents: 1299}}
	refused := placed
	refused.Refusal = "reserve failed: out of stock: LAMP-LIMITED has 3 on hand, order needs 4"
	unanswered := placed
	unanswered.Note = "order placed, reservation not decided yet: is a worker running?"
	tests := []struct {
		name      string
		v         orderclient.View
		wantFirst string
		want      string
	}{
		{"reserved", reserved, "Order 42 reserved: 2 × BOOK-GOPL $79.98, 1 × MUG-GOPHER $12.99, total $92.97, reservation rsv_1.", "Run ID:"},
		{"refused", refused, "Order 42 refused: reserve failed: out of stock: LAMP-LIMITED has 3 on hand, order needs 4.", "Workflow ID:"},
		{"not answered", unanswered, "Placed order 42.", "Note: order placed, reservation not decided yet: is a worker running?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := printAnswered(&buf, tt.v); err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(buf.String(), "\n")
			if first != tt.wantFirst {
				t.Errorf("first line = %q, want %q", first, tt.wantFirst)
			}
			if !strings.Contains(buf.String(), tt.want) || !strings.Contains(buf.String(), "http://ui/42") {
				t.Errorf("output lacks %q or the Web UI link:\n%s", tt.want, buf.String())
			}
		})
	}
}
