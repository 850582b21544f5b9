package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestWorkerWithKeysRefusesOrdersSentInClear runs a worker with a key ring
// and places an order with a starter that has none, as a client that
// forgot its keys would. The order ends FAILED at its claim, with the
// reason that names the fix (the starter without the keys learns it from
// the refusal's type, EncryptionRequired, which is never encrypted); it
// reserved, charged and shipped nothing; the refusal is written encrypted, so its history holds nothing in clear but
// what the client sent; and its order ID stays free: once Temporal has
// forgotten the refused workflow, the same order placed with the keys
// completes. The same worker run with --require-encryption=false runs an
// order sent in clear.
func TestWorkerWithKeysRefusesOrdersSentInClear(t *testing.T) {
	s := newStack(t)
	key, err := codec.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "ordersaga-keys")
	if err := os.WriteFile(keyFile, []byte(key.Line()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyEnv := []string{connect.CodecKeysEnv + "=" + key.Line()}
	w := startProcess(t, "worker", keyEnv, workerBin, "run", "--temporal-address", s.address, "--data-dir", s.dataDir, "--stop-timeout", "2s")
	w.waitOutput(t, `plaintext_orders="refused`, workerStartTimeout)

	const id, address = "sent-in-clear", "7 Plaintext Lane, Springfield"
	place := func(orderID string, args ...string) result {
		return s.starter(t, append([]string{"place", "--id", orderID, "--customer", "c-clear", "--item", "BOOK-GOPL:1",
			"--payment", payment.TokenVisa, "--address", address, "--cancel-window", "0s", "--wait"}, args...)...)
	}
	reason := "claim failed: " + orders.ErrInputNotEncrypted.Error()

	// The starter without the keys cannot decrypt the refusal; it tells
	// it by its type, which is in clear, and says what to do.
	r := place(id)
	if r.code != 3 || !strings.Contains(r.stdout, "Order "+id+": FAILED") || !strings.Contains(r.stdout, reason) ||
		!strings.Contains(r.stderr, "order "+id+" FAILED: "+reason) {
		t.Fatalf("order sent in clear: want exit 3, FAILED, and the reason %q: %s", reason, r)
	}
	refused := view(t, s.starter(t, "status", id, "-o", "json", "--codec-key-file", keyFile), 0)
	if refused.Status != workflows.Failed || refused.FailureReason != reason || refused.TemporalStatus != "Failed" {
		t.Errorf("read with the keys, the order is %s (%s): %q; want FAILED with %q", refused.Status, refused.TemporalStatus, refused.FailureReason, reason)
	}
	if len(refused.Steps) != 1 || refused.Steps[0].Name != workflows.StepClaim || refused.Steps[0].OK || len(refused.Compensations) != 0 {
		t.Errorf("steps %+v, compensations %+v; want only the refused claim, nothing undone", refused.Steps, refused.Compensations)
	}
	assertNoStepScheduled(t, s.orders(t).Temporal, ordersaga.WorkflowID(id))
	assertRefusalSealed(t, rawHistory(t, s, ordersaga.WorkflowID(id)), key.ID(), payment.TokenVisa, address, "unencrypted")
	if c := s.stores(t).contents(t); len(c.Reservations)+len(c.Charges)+len(c.Shipments) != 0 {
		t.Errorf("the refused order left records: %+v", c)
	}
	if claim, found := claimOn(t, s, id); found {
		t.Fatalf("the register holds %+v: the refused order's ID must stay free", claim)
	}

	// With Temporal's own record of the refused workflow gone, only the
	// register could refuse the ID again: it does not.
	s.deleteWorkflow(t, id)
	if r := place(id, "--codec-key-file", keyFile); r.code != 0 || !strings.Contains(r.stdout, "COMPLETED") {
		t.Fatalf("the same order with the keys: want exit 0 and COMPLETED: %s", r)
	}
	if claim, found := claimOn(t, s, id); !found || claim.WorkflowID != ordersaga.WorkflowID(id) {
		t.Errorf("after the order with the keys, the register holds %+v (found %v), want its claim", claim, found)
	}

	w.stop(t, syscall.SIGTERM)
	w = startProcess(t, "worker-accepting", keyEnv, workerBin, "run", "--temporal-address", s.address, "--data-dir", s.dataDir,
		"--stop-timeout", "2s", "--require-encryption=false")
	w.waitOutput(t, `plaintext_orders=accepted`, workerStartTimeout)
	// The worker encrypts the order's result, which the starter without
	// the keys cannot read: it places the order, and one with the keys
	// reads how it ended.
	const accepted = "accepted-in-clear"
	if r := s.starter(t, "place", "--id", accepted, "--customer", "c-clear", "--item", "BOOK-GOPL:1", "--payment", payment.TokenVisa,
		"--address", address, "--cancel-window", "0s"); r.code != 0 {
		t.Fatalf("place an order in clear: %s", r)
	}
	s.waitStatus(t, accepted, workflows.Completed)
	if v := view(t, s.starter(t, "status", accepted, "-o", "json", "--codec-key-file", keyFile), 0); v.Status != workflows.Completed || v.TrackingNumber == "" {
		t.Errorf("order sent in clear to a worker with --require-encryption=false: %s %+v, want COMPLETED", v.Status, v.OrderState)
	}
	if claim, found := claimOn(t, s, accepted); !found || claim.WorkflowID != ordersaga.WorkflowID(accepted) {
		t.Errorf("the register holds %+v (found %v) for %s, want its claim", claim, found, accepted)
	}
}

// assertRefusalSealed checks that the refused order's history holds the
// secrets only where its client sent them (the input of the started
// event), and that the refusal, in the claim's marker and in the
// workflow's failure, is encrypted with keyID: its message as every
// failure's, its type (EncryptionRequired, which a client without the keys
// can read) in clear.
func assertRefusalSealed(t *testing.T, h *historypb.History, keyID string, secrets ...string) {
	t.Helper()
	var failures []*failurepb.Failure
	for _, e := range h.Events[1:] {
		raw, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("event %d (%s) holds %q in clear", e.GetEventId(), e.GetEventType(), secret)
			}
		}
		if f := e.GetMarkerRecordedEventAttributes().GetFailure(); f != nil {
			failures = append(failures, f)
		}
		if f := e.GetWorkflowExecutionFailedEventAttributes().GetFailure(); f != nil {
			failures = append(failures, f)
		}
	}
	if len(failures) != 2 {
		t.Fatalf("%d failures in the claim's marker and the workflow's end, want 2", len(failures))
	}
	for _, f := range failures {
		var types []string
		for ; f != nil; f = f.GetCause() {
			if f.GetMessage() != "Encoded failure" || !sealedWith(f.GetEncodedAttributes(), keyID) {
				t.Errorf("failure %q (encoded attributes %v) is not encrypted with key %s", f.GetMessage(), f.GetEncodedAttributes().GetMetadata(), keyID)
			}
			if info := f.GetApplicationFailureInfo(); info != nil {
				types = append(types, info.GetType())
			}
		}
		if types[len(types)-1] != orders.EncryptionRequiredError {
			t.Errorf("failure types %q, want the refusal's %s at the root", types, orders.EncryptionRequiredError)
		}
	}
}

func sealedWith(p *commonpb.Payload, keyID string) bool {
	want := map[string][]byte{"encoding": []byte(codec.EncodingEncrypted), codec.MetadataKeyID: []byte(keyID)}
	return reflect.DeepEqual(p.GetMetadata(), want)
}

// claimOn reads the order service's register for the claim on orderID.
func claimOn(t *testing.T, s *stack, orderID string) (orders.Claim, bool) {
	t.Helper()
	reg, err := orders.Open(context.Background(), filepath.Join(s.dataDir, orders.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	claim, found, err := reg.ClaimByOrderID(context.Background(), orderID)
	if err != nil {
		t.Fatalf("read the register's claim on %s: %v", orderID, err)
	}
	return claim, found
}
