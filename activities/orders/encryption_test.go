package orders

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/ordersaga/ordersaga/internal/platform/connect"
)

// TestClaimOrderIDRequiresEncryption: a worker that requires encryption
// refuses, before it claims the ID, an order whose input arrived
// unencrypted, with a non-retryable EncryptionRequired error that names
// the fix; it claims an encrypted one as usual. A worker that does not
// require it claims both.
func TestClaimOrderIDRequiresEncryption(t *testing.T) {
	tests := []struct {
		name              string
		requireEncryption bool
		inputEncrypted    bool
		wantRefused       bool
	}{
		{"required, sent in clear", true, false, true},
		{"required, encrypted", true, true, false},
		{"not required, sent in clear", false, false, false},
		{"not required, encrypted", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t)
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			a := &Activities{Store: s, RequireEncryption: tt.requireEncryption}
			env.RegisterActivity(a)
			req := claimRequest("42", "p1")
			req.InputEncrypted = tt.inputEncrypted

			val, err := env.ExecuteLocalActivity(a.ClaimOrderID, req)
			if tt.wantRefused {
				appErr := applicationError(t, err)
				if !appErr.NonRetryable() || appErr.Type() != EncryptionRequiredError || appErr.Message() != ErrInputNotEncrypted.Error() {
					t.Errorf("error type %q, non-retryable %v, message %q; want non-retryable %q: %q",
						appErr.Type(), appErr.NonRetryable(), appErr.Message(), EncryptionRequiredError, ErrInputNotEncrypted)
				}
				if c, found := storedClaim(t, s, "42"); found {
					t.Errorf("the register holds %+v: a refused order must leave its ID unclaimed", c)
				}
				assertRows(t, s, 0)
				return
			}
			if err != nil {
				t.Fatalf("ClaimOrderID: %v", err)
			}
			var c Claim
			if err := val.Get(&c); err != nil {
				t.Fatal(err)
			}
			if stored, found := storedClaim(t, s, "42"); !found || stored.Placement != "p1" || c.Placement != "p1" {
				t.Errorf("claim %+v, stored %+v (found %v); want p1's", c, stored, found)
			}
			assertRows(t, s, 1)
		})
	}
}

// TestRefusalOfUnencryptedOrderNamesTheFix: the reason names the
// variables that give a client the workers' key ring.
func TestRefusalOfUnencryptedOrderNamesTheFix(t *testing.T) {
	msg := ErrInputNotEncrypted.Error()
	for _, want := range []string{"arrived unencrypted", "requires encryption", connect.CodecKeyFileEnv, connect.CodecKeysEnv} {
		if !strings.Contains(msg, want) {
			t.Errorf("reason %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("reason %q is not one line", msg)
	}
}
