package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestCodecKeepsSecretsOutOfHistory runs a worker (keys from the
// environment) and the starter (keys from a file) with one key ring, places
// an order that completes and one that fails at shipping with its address
// in the failure, and then reads each history the way the Temporal server
// stores it: neither the payment token nor the address appears anywhere in
// it, while the starter with the key reads the orders as usual. The codec
// server then decrypts a payload of that history for the Web UI, and stops
// cleanly on SIGTERM.
func TestCodecKeepsSecretsOutOfHistory(t *testing.T) {
	s := newStack(t)
	key, err := codec.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "ordersaga-keys")
	if err := os.WriteFile(keyFile, []byte("# e2e\n"+key.Line()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyEnv := []string{connect.CodecKeysEnv + "=" + key.Line()}
	w := startProcess(t, "worker", keyEnv, workerBin, "run", "--temporal-address", s.address, "--data-dir", s.dataDir, "--stop-timeout", "2s")
	w.waitOutput(t, "payload_encryption=\"on: new payloads use key "+key.ID()+"\"", workerStartTimeout)

	orders := []struct {
		id, address string
		wantCode    int
		wantStatus  workflows.Status
	}{
		{"sealed", "221B Baker Street, London NW1 6XE", 0, workflows.Completed},
		{"sealed-undeliverable", "12 Undeliverable Row, Atlantis 0042", 3, workflows.Failed},
	}
	var input *commonpb.Payload
	for _, o := range orders {
		r := s.starter(t, "place", "--id", o.id, "--customer", "c-sealed", "--item", "BOOK-GOPL:1", "--payment", "tok_visa",
			"--address", o.address, "--cancel-window", "1s", "--wait", "-o", "json", "--codec-key-file", keyFile)
		if v := view(t, r, o.wantCode); v.Status != o.wantStatus {
			t.Fatalf("order %s ended %s, want %s: %+v", o.id, v.Status, o.wantStatus, v.OrderState)
		}
		history := rawHistory(t, s, "order-"+o.id)
		assertSealed(t, history, key.ID(), "tok_visa", o.address)
		if input == nil {
			input = history.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0]
		}

		r = s.starter(t, "status", o.id, "-o", "json", "--codec-key-file", keyFile)
		v := view(t, r, 0)
		if v.Status != o.wantStatus || v.TotalCents != 3999 || v.Note != "" {
			t.Errorf("starter status %s with the key: %+v", o.id, v)
		}
		if o.wantStatus == workflows.Failed && !strings.Contains(v.FailureReason, "the carrier does not deliver to the order's address") {
			t.Errorf("order %s: failure reason %q, want the carrier's refusal, decrypted", o.id, v.FailureReason)
		}
		if strings.Contains(w.output(), o.address) || strings.Contains(w.output(), "tok_visa") {
			t.Errorf("the worker's log shows order %s's address or token:\n%s", o.id, w.output())
		}
	}
	decodeWithCodecServer(t, s, keyEnv, input, "tok_visa", orders[0].address)
}

// rawHistory reads a workflow's whole history with a client that has no
// codec: the bytes as the Temporal server stores and serves them.
func rawHistory(t *testing.T, s *stack, workflowID string) *historypb.History {
	t.Helper()
	it := s.orders(t).Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("read history of %s: %v", workflowID, err)
		}
		h.Events = append(h.Events, e)
	}
	if len(h.Events) == 0 {
		t.Fatalf("history of %s is empty", workflowID)
	}
	return h
}

// assertSealed checks that no secret appears anywhere in the history and
// that its input and its summary are encrypted with keyID.
func assertSealed(t *testing.T, h *historypb.History, keyID string, secrets ...string) {
	t.Helper()
	raw, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secrets {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the history holds %q in clear", secret)
		}
	}
	started := h.Events[0]
	sealed := map[string]*commonpb.Payload{
		"input":   started.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0],
		"summary": started.GetUserMetadata().GetSummary(),
	}
	for what, p := range sealed {
		enc, key := string(p.GetMetadata()[converter.MetadataEncoding]), string(p.GetMetadata()[codec.MetadataKeyID])
		if enc != codec.EncodingEncrypted || key != keyID {
			t.Errorf("the workflow's %s has encoding %q and key %q, want %q and %q", what, enc, key, codec.EncodingEncrypted, keyID)
		}
	}
}

// decodeWithCodecServer starts `worker codec-server` with the key ring,
// asks it to decrypt p as the Web UI does, checks the answer holds the
// secrets, and stops it with SIGTERM.
func decodeWithCodecServer(t *testing.T, s *stack, keyEnv []string, p *commonpb.Payload, secrets ...string) {
	t.Helper()
	listen := "127.0.0.1:" + freePort(t)
	cs := startProcess(t, "codec-server", keyEnv, workerBin, "codec-server", "--listen", listen, "--ui-origin", s.uiURL)
	cs.waitOutput(t, "codec server listening", workerStartTimeout)

	body, err := json.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+listen+"/decode", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", s.uiURL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != s.uiURL {
		t.Fatalf("codec server answered %s (CORS %q): %s", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"), answer)
	}
	var decoded commonpb.Payloads
	if err := json.Unmarshal(answer, &decoded); err != nil || len(decoded.Payloads) != 1 {
		t.Fatalf("codec server answered %s: %v", answer, err)
	}
	for _, secret := range secrets {
		if !bytes.Contains(decoded.Payloads[0].GetData(), []byte(secret)) {
			t.Errorf("the decrypted input %s does not hold %q", decoded.Payloads[0].GetData(), secret)
		}
	}

	cs.stop(t, syscall.SIGTERM)
	if cs.err != nil || !strings.Contains(cs.output(), "codec server stopped") {
		t.Errorf("codec server did not stop cleanly on SIGTERM (%v):\n%s", cs.err, cs.output())
	}
}
