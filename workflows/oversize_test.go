package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/activities/inventory"
)

// maxOutcomeSize bounds what a failed order may hand back: its failure as
// Temporal stores it (message, cause and the state in its details) and its
// state. Anything near the size of an oversized input means it was echoed.
const maxOutcomeSize = 4 << 10

// A client that bypasses the starter can start the workflow with an order
// of any size. Each oversized part must fail the order at once, with a
// reason that says which limit was broken, without calling a service and
// without copying the oversized input into the failure or the state.
func TestOversizedOrderFailsAtOnceWithoutEchoingIt(t *testing.T) {
	const mib = 1 << 20
	manyLines := make([]inventory.Item, 5000)
	for i := range manyLines {
		manyLines[i] = inventory.Item{SKU: fmt.Sprintf("SKU-%05d", i), Qty: 1}
	}
	tests := []struct {
		name   string
		change func(o *Order)
		want   string
	}{
		{"thousands of lines", func(o *Order) { o.Items = manyLines }, "order has 5000 lines: the limit is 100; split the items over several orders"},
		{"1 MiB address", func(o *Order) { o.Address = strings.Repeat("x", mib) }, "address is 1048576 characters long: the limit is 512"},
		{"1 MiB payment token", func(o *Order) { o.PaymentToken = strings.Repeat("t", mib) }, "payment token is 1048576 characters long: the limit is 512"},
		{"huge customer ID", func(o *Order) { o.CustomerID = strings.Repeat("c", mib) }, "customer ID is 1048576 characters long: the limit is 128"},
		{"huge order ID", func(o *Order) { o.ID = strings.Repeat("4", mib) }, "order ID is 1048576 characters long: the limit is 64"},
		{"huge SKU", func(o *Order) { o.Items[0].SKU = strings.Repeat("S", mib) }, "SKU is 1048576 characters long: the limit is 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			order := testOrder()
			tt.change(&order)

			state := h.runFailed(order)

			assert.Equal(t, "invalid order: "+tt.want, state.FailureReason)
			assert.Empty(t, h.attempts(), "no service is called")
			assert.Empty(t, h.timersScheduled(), "no timer is started")
			assert.Equal(t, h.start, state.EndedAt, "it fails at once, in the workflow's first task")
			assert.Equal(t, []Status{Pending, Failed}, transitions(state))

			var appErr *temporal.ApplicationError
			require.ErrorAs(t, h.env.GetWorkflowError(), &appErr)
			assert.Less(t, failureSize(t, appErr), maxOutcomeSize, "the failure, details included, as Temporal stores it")
			encoded, err := json.Marshal(state)
			require.NoError(t, err)
			assert.Less(t, len(encoded), maxOutcomeSize, "the final state")
			for _, c := range h.customersUpserted() {
				assert.LessOrEqual(t, len(c), MaxCustomerLength, "the CustomerId search attribute")
			}
		})
	}
}

// failureSize is the size of err as the workflow's failure is sent to
// Temporal: the failure message, its cause, and its details' payloads.
func failureSize(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	f := temporal.GetDefaultFailureConverter().ErrorToFailure(err)
	p, cerr := converter.GetDefaultDataConverter().ToPayload(f)
	require.NoError(t, cerr)
	return len(p.GetData())
}

// failureSize must see what it measures: a failure that carries a large
// detail is large.
func TestFailureSizeCountsTheDetails(t *testing.T) {
	small := temporal.NewNonRetryableApplicationError("x", OrderFailedError, nil, OrderState{OrderID: "42"})
	large := temporal.NewNonRetryableApplicationError("x", OrderFailedError, errors.New("cause"), OrderState{OrderID: strings.Repeat("4", 10000)})
	assert.Less(t, failureSize(t, small), maxOutcomeSize)
	assert.Greater(t, failureSize(t, large), 10000)
}
