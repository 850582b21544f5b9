package workflows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
)

// withClaimRequiringEncryption makes h's claim the order service's real
// one, over a register of its own, requiring encryption.
func withClaimRequiringEncryption(t *testing.T, h *testEnv) *orders.Store {
	t.Helper()
	store, err := orders.Open(t.Context(), filepath.Join(t.TempDir(), orders.DatabaseFile))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	h.claim = (&orders.Activities{Store: store, RequireEncryption: true}).ClaimOrderID
	return store
}

// An order whose input arrived unencrypted, at a worker that requires
// encryption, ends FAILED at its claim with the reason that names the fix:
// no service is called, nothing is undone, and its order ID stays free.
func TestOrderSentInClearIsRefusedWhenEncryptionIsRequired(t *testing.T) {
	h := newTestEnv(t)
	store := withClaimRequiringEncryption(t, h)

	state, err := h.run(testOrder())

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, OrderFailedError, appErr.Type())
	require.Equal(t, Failed, state.Status)
	assert.Equal(t, "claim failed: "+orders.ErrInputNotEncrypted.Error(), state.FailureReason)
	assert.Equal(t, state.FailureReason, appErr.Message())
	assert.Equal(t, []string{"claim 42 not ok"}, stepsDone(state))
	assert.Empty(t, state.Compensations)
	assert.Equal(t, []Status{Pending, Failed}, transitions(state))
	assert.Equal(t, 1, h.metrics.count(MetricOrdersFailed, map[string]string{LabelStep: StepClaim, LabelReason: orders.EncryptionRequiredError}))

	assert.Empty(t, h.attempts(), "no service called")
	claims := requestsOf[orders.ClaimRequest](h)
	require.Len(t, claims, 1, "the refusal is not retried")
	assert.False(t, claims[0].InputEncrypted)
	_, claimed, err := store.ClaimByOrderID(t.Context(), testOrderID)
	require.NoError(t, err)
	assert.False(t, claimed, "the refused order's ID is left unclaimed")
}

// An order that arrived encrypted, decoded by the worker's own data
// converter, tells its claim so, and runs to the end at a worker that
// requires encryption.
func TestEncryptedOrderRunsWhenEncryptionIsRequired(t *testing.T) {
	h := newTestEnv(t)
	store := withClaimRequiringEncryption(t, h)
	h.env.SetDataConverter(workerDataConverter(t))

	h.runCompleted(testOrder())

	claims := requestsOf[orders.ClaimRequest](h)
	require.Len(t, claims, 1)
	assert.True(t, claims[0].InputEncrypted, "the claim says the input arrived encrypted")
	c, claimed, err := store.ClaimByOrderID(t.Context(), testOrderID)
	require.NoError(t, err)
	assert.True(t, claimed && c.Placement == testPlacement, "claim %+v, found %v", c, claimed)
}

// The mark never travels: an order marked encrypted encodes as one that is
// not, and no client can set it in what it sends.
func TestOrderMarkIsNeverSerialised(t *testing.T) {
	marked := testOrder()
	var recorder codec.EncryptionRecorder = &marked
	recorder.RecordEncrypted(true)
	require.True(t, marked.inputEncrypted)

	got, err := json.Marshal(marked)
	require.NoError(t, err)
	want, err := json.Marshal(testOrder())
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))

	var sent Order
	require.NoError(t, json.Unmarshal([]byte(`{"id":"42","inputEncrypted":true,"input_encrypted":true,"InputEncrypted":true}`), &sent))
	assert.False(t, sent.inputEncrypted, "a client claimed the mark")
}

// workerDataConverter is the data converter of a worker with a key ring.
func workerDataConverter(t *testing.T) converter.DataConverter {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "ORDERSAGA_CODEC_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	key, err := codec.NewKey("k1")
	require.NoError(t, err)
	t.Setenv(connect.CodecKeysEnv, key.Line())
	var flags connect.Flags
	opts, err := flags.Options(nil)
	require.NoError(t, err)
	require.NotNil(t, opts.DataConverter)
	return opts.DataConverter
}
