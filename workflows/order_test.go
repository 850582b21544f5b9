package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ordersaga/ordersaga/activities/inventory"
)

func TestOrderValidate(t *testing.T) {
	tooManyLines := make([]inventory.Item, MaxLines+1)
	for i := range tooManyLines {
		tooManyLines[i] = inventory.Item{SKU: fmt.Sprintf("SKU-%d", i), Qty: 1}
	}
	tests := []struct {
		name    string
		change  func(o *Order)
		wantErr string // "" for a valid order
	}{
		{"valid order", func(*Order) {}, ""},
		{"valid order with the longest ID", func(o *Order) { o.ID = strings.Repeat("a", MaxIDLength) }, ""},
		{"valid order with dots, dashes and underscores", func(o *Order) { o.ID = "2030.01_x-7" }, ""},
		{"valid order with the largest quantity", func(o *Order) { o.Items[0].Qty = MaxQty }, ""},
		{"valid order that ships at once", func(o *Order) { o.CancelWindow = 0 }, ""},
		{"valid order with the longest window", func(o *Order) { o.CancelWindow = Duration(MaxCancelWindow) }, ""},

		{"empty ID", func(o *Order) { o.ID = "" }, "order ID is empty"},
		{"ID with a space", func(o *Order) { o.ID = "4 2" }, `order ID "4 2" has ' ' at position 2`},
		{"ID with a slash", func(o *Order) { o.ID = "42/charge" }, `order ID "42/charge" has '/'`},
		{"ID starting with a dash", func(o *Order) { o.ID = "-42" }, `order ID "-42" has '-' at position 1`},
		{"ID too long", func(o *Order) { o.ID = strings.Repeat("a", MaxIDLength+1) }, "order ID is 65 characters long: the limit is 64"},
		{"empty customer", func(o *Order) { o.CustomerID = "" }, "customer is empty"},
		{"blank customer", func(o *Order) { o.CustomerID = "  " }, "customer is empty"},
		{"customer too long", func(o *Order) { o.CustomerID = strings.Repeat("c", MaxCustomerLength+1) }, "customer ID is 129 characters long"},
		{"customer that is an email", func(o *Order) { o.CustomerID = "alice@example.com" }, `customer ID "alice@example.com" has '@' at position 6`},
		{"customer that is a name", func(o *Order) { o.CustomerID = "Alice Smith" }, "never a name or an email: it is searchable in plain text"},
		{"customer with a newline", func(o *Order) { o.CustomerID = "alice\n" }, `has '\n' at position 6`},
		{"customer padded with spaces", func(o *Order) { o.CustomerID = " alice " }, `customer ID " alice " has ' ' at position 1`},
		{"no items", func(o *Order) { o.Items = nil }, "order has no items"},
		{"too many lines", func(o *Order) { o.Items = tooManyLines }, "order has 101 lines: the limit is 100"},
		{"empty SKU", func(o *Order) { o.Items[0].SKU = "" }, "SKU is empty"},
		{"SKU with bad characters", func(o *Order) { o.Items[0].SKU = "BOOK GOPL" }, `SKU "BOOK GOPL" has ' '`},
		{"quantity 0", func(o *Order) { o.Items[0].Qty = 0 }, "quantity of BOOK-GOPL is 0: use 1 to 10000"},
		{"negative quantity", func(o *Order) { o.Items[0].Qty = -1 }, "quantity of BOOK-GOPL is -1"},
		{"quantity too large", func(o *Order) { o.Items[0].Qty = MaxQty + 1 }, "quantity of BOOK-GOPL is 10001"},
		{"duplicate SKU", func(o *Order) { o.Items[1] = inventory.Item{SKU: "BOOK-GOPL", Qty: 1} }, "SKU BOOK-GOPL is listed twice"},
		{"empty payment token", func(o *Order) { o.PaymentToken = "" }, "payment token is empty"},
		{"payment token too long", func(o *Order) { o.PaymentToken = strings.Repeat("t", MaxTextLength+1) }, "payment token is 513 characters long"},
		{"payment token with a space", func(o *Order) { o.PaymentToken = "tok visa" }, "payment token has ' ' at position 4: a card token is printable ASCII without spaces"},
		{"payment token with a zero-width space", func(o *Order) { o.PaymentToken = "tok\u200bvisa" }, `payment token has '\u200b' at position 4`},
		{"empty address", func(o *Order) { o.Address = "" }, "address is empty"},
		{"address with a NUL", func(o *Order) { o.Address = "1 Main St\x00" }, `address has '\x00' at position 10`},
		{"address with a terminal escape", func(o *Order) { o.Address = "\x1b[31m1 Main St" }, `address has '\x1b' at position 1: use printable text`},
		{"valid address on two lines", func(o *Order) { o.Address = "1 Main St\nSpringfield" }, ""},
		{"blank address", func(o *Order) { o.Address = " \t" }, "address is empty"},
		{"address too long", func(o *Order) { o.Address = strings.Repeat("x", MaxTextLength+1) }, "address is 513 characters long"},
		{"negative cancel window", func(o *Order) { o.CancelWindow = Duration(-time.Second) }, "cancel window -1s is out of range"},
		{"cancel window too long", func(o *Order) { o.CancelWindow = Duration(MaxCancelWindow + time.Second) }, "cancel window 168h0m1s is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order := testOrder()
			tt.change(&order)

			err := order.Validate()

			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestDurationReadsAndWritesGoDurationStrings(t *testing.T) {
	tests := []struct {
		json string
		want time.Duration
	}{
		{`"10s"`, 10 * time.Second},
		{`"1m30s"`, 90 * time.Second},
		{`"0s"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			b, err := json.Marshal(Duration(tt.want))
			require.NoError(t, err)
			assert.JSONEq(t, tt.json, string(b))

			var d Duration
			require.NoError(t, json.Unmarshal([]byte(tt.json), &d))
			assert.Equal(t, tt.want, time.Duration(d))
		})
	}
}

func TestOrderJSONRoundTrip(t *testing.T) {
	in := `{"id":"42","customer_id":"cust-7","items":[{"sku":"BOOK-GOPL","qty":2}],` +
		`"payment_token":"tok_visa","address":"1 Gopher Way","cancel_window":"1m30s"}`
	var o Order
	require.NoError(t, json.Unmarshal([]byte(in), &o))
	assert.Equal(t, Duration(90*time.Second), o.CancelWindow)

	out, err := json.Marshal(o)
	require.NoError(t, err)
	assert.JSONEq(t, in, string(out))

	var noWindow Order
	require.NoError(t, json.Unmarshal([]byte(`{"id":"42"}`), &noWindow))
	assert.Zero(t, noWindow.CancelWindow, "an order without a window ships at once")
}

func TestDurationRejectsWhatIsNotADurationString(t *testing.T) {
	tests := []struct {
		json    string
		wantErr string
	}{
		{`10`, `duration must be a string such as "10s" or "1m30s"`},
		{`"ten"`, `duration "ten": use a form such as "10s" or "1m30s"`},
		{`"10"`, `duration "10"`}, // no unit
		{`true`, `duration must be a string`},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			var o Order
			err := json.Unmarshal([]byte(`{"cancel_window":`+tt.json+`}`), &o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
