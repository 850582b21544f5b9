package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
	"github.com/ordersaga/ordersaga/workflows"
)

// Key IDs of the rotation.
const (
	oldKey   = "k-old"
	newKey   = "k-new"
	naiveKey = "k-naive"
)

// TestKeyRotationLosesNoOrder rotates the payload key of a running system,
// two worker processes (the order service; the three step services) and
// the starter, with the two-roll procedure of `worker codec-key add` and
// `promote` on the key file every process reads, and places orders at
// every moment of it, the dangerous ones included: the starter with the
// new key before the workers and after them, and, once the new key
// encrypts, one worker encrypting with it while the other still runs the
// ring in which it is decrypt-only. Orders are kept in flight across the
// restarts (waiting for a service worker that is down, or in their cancel
// window). Every order completes, with one capture each, and the history
// of an order placed before the rotation still reads with the final ring.
// It first shows the loss the procedure avoids: a starter encrypting with
// a key the running order worker lacks fails the order.
func TestKeyRotationLosesNoOrder(t *testing.T) {
	r := newRotation(t)
	r.codecKey(t, "add", "--id", oldKey)
	ring0 := r.snapshot(t, "ring0")
	orders := r.startWorker(t, "order-worker-0", "order", oldKey)
	services := r.startWorker(t, "service-worker-0", "inventory,payment,shipping", oldKey)

	// Phase 0: one key everywhere.
	r.place(t, "p0", r.keyFile, "0s", true)
	r.naivePlaceFails(t, ring0)

	// Phase 1: the new key, decrypt-only, reaches the file; the starter
	// reads it at once, the workers when they restart.
	if out := r.codecKey(t, "add", "--id", newKey); !strings.Contains(out, "promote "+newKey) {
		t.Errorf("add does not say what comes next:\n%s", out)
	}
	r.place(t, "p1-starter-first", r.keyFile, "0s", true)
	services.stop(t, syscall.SIGTERM)
	r.place(t, "p1-in-flight", ring0, "0s", false) // waits for a service worker
	r.waitPending(t, "p1-in-flight", "ReserveStock")
	orders.stop(t, syscall.SIGTERM)
	orders = r.startWorker(t, "order-worker-1", "order", oldKey)
	services = r.startWorker(t, "service-worker-1", "inventory,payment,shipping", oldKey)
	r.place(t, "p1-workers-first", ring0, "0s", true)
	ring1 := r.snapshot(t, "ring1")

	// Phase 2: the new key encrypts; the starter uses it at once, while
	// both workers run the phase-1 ring.
	r.codecKey(t, "promote", newKey)
	r.place(t, "p2-starter-first", r.keyFile, "0s", true)
	r.place(t, "p2-in-window", r.keyFile, "5s", false)
	r.s.waitStatus(t, "p2-in-window", workflows.AwaitingFulfillment)
	orders.stop(t, syscall.SIGTERM)
	orders = r.startWorker(t, "order-worker-2", "order", newKey)
	// The order worker encrypts the steps' inputs with the new key; the
	// service worker, on the phase-1 ring, answers with the old one.
	r.place(t, "p2-order-worker-first", ring1, "0s", true)
	r.place(t, "p2-mixed", r.keyFile, "0s", true)
	services.stop(t, syscall.SIGTERM)
	r.place(t, "p2-in-flight", r.keyFile, "0s", false)
	r.waitPending(t, "p2-in-flight", "ReserveStock")
	r.startWorker(t, "service-worker-2", "inventory,payment,shipping", newKey)
	r.place(t, "p2-done", r.keyFile, "0s", true)

	r.wantAllCompleted(t)
	r.wantKeys(t, "p0", oldKey, oldKey, oldKey)
	r.wantKeys(t, "p2-starter-first", newKey, oldKey, oldKey)
	r.wantKeys(t, "p2-order-worker-first", oldKey, newKey, oldKey)
	r.wantKeys(t, "p2-done", newKey, newKey, newKey)

	// An order placed before the rotation still reads with the final ring.
	v := view(t, r.s.starter(t, "status", "p0", "-o", "json", "--codec-key-file", r.keyFile), 0)
	if v.Status != workflows.Completed || v.TotalCents != 3999 || v.Note != "" {
		t.Errorf("starter status p0 with the final ring: %+v", v)
	}
}

// rotation is a stack whose processes read a key file that the test
// rotates, and the orders placed on it.
type rotation struct {
	s       *stack
	dir     string
	keyFile string // the file every process reads
	placed  []string
}

func newRotation(t *testing.T) *rotation {
	dir := t.TempDir()
	return &rotation{s: newStack(t), dir: dir, keyFile: filepath.Join(dir, "keys")}
}

// codecKey runs `worker codec-key` on the key file and returns its output.
func (r *rotation) codecKey(t *testing.T, args ...string) string {
	t.Helper()
	res := runCommand(t, workerBin, append(append([]string{"codec-key"}, args...), "--codec-key-file", r.keyFile)...)
	if res.code != 0 {
		t.Fatalf("worker codec-key %v: %s", args, res)
	}
	return res.stdout
}

// snapshot copies the key file as it is now: the ring of a process that
// read it now and has not restarted since.
func (r *rotation) snapshot(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(r.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(r.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startWorker starts `worker run --services services` with the key file
// as it is now, and checks the key it encrypts with. The order worker
// reads the file; the service worker gets the same ring on one line in
// ORDERSAGA_CODEC_KEYS, as a secret store sets it, marks included.
func (r *rotation) startWorker(t *testing.T, name, services, wantKey string) *process {
	t.Helper()
	args := []string{"run", "--temporal-address", r.s.address, "--data-dir", r.s.dataDir, "--stop-timeout", "2s", "--services", services}
	env := []string{connect.CodecKeyFileEnv + "=", connect.CodecKeysEnv + "="}
	if services == "order" {
		args = append(args, "--codec-key-file", r.keyFile)
	} else {
		env = []string{connect.CodecKeyFileEnv + "=", connect.CodecKeysEnv + "=" + r.oneLine(t)}
	}
	p := startProcess(t, name, env, workerBin, args...)
	p.waitOutput(t, "worker started", workerStartTimeout)
	if want := `payload_encryption="on: new payloads use key ` + wantKey + `"`; !strings.Contains(p.output(), want) {
		t.Fatalf("%s does not log %s:\n%s", name, want, p.output())
	}
	return p
}

// oneLine is the key file's ring on one line, entries separated by commas.
func (r *rotation) oneLine(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			entries = append(entries, line)
		}
	}
	return strings.Join(entries, ",")
}

// place places an order with the starter reading ring; with wait, it
// waits for the order to complete.
func (r *rotation) place(t *testing.T, id, ring, window string, wait bool) {
	t.Helper()
	args := []string{"place", "--id", id, "--customer", "c-" + id, "--item", "BOOK-GOPL:1", "--payment", payment.TokenVisa,
		"--address", shipTo, "--cancel-window", window, "-o", "json", "--codec-key-file", ring}
	if wait {
		args = append(args, "--wait")
	}
	v := view(t, r.s.starter(t, args...), 0)
	if wait && v.Status != workflows.Completed {
		t.Fatalf("order %s ended %s: %+v", id, v.Status, v.OrderState)
	}
	r.placed = append(r.placed, id)
}

// naivePlaceFails rotates as "append a key and restart" does, from the
// starter's side first: a starter whose ring has a new key that encrypts
// places an order that the order worker, without that key, cannot read,
// and the order fails before any step.
func (r *rotation) naivePlaceFails(t *testing.T, ring0 string) {
	t.Helper()
	k, err := codec.NewKey(naiveKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(ring0)
	if err != nil {
		t.Fatal(err)
	}
	naive := filepath.Join(r.dir, "naive")
	if err := os.WriteFile(naive, append(b, k.Line()+"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	res := r.s.starter(t, "place", "--id", "naive", "--customer", "c-naive", "--item", "BOOK-GOPL:1", "--payment", payment.TokenVisa,
		"--address", shipTo, "--cancel-window", "0s", "--wait", "-o", "json", "--codec-key-file", naive)
	if res.code != 3 {
		t.Fatalf("the order encrypted with a key the order worker lacks: want exit 3 (not completed): %s", res)
	}
	run := r.orders(t, naive).Temporal.GetWorkflow(context.Background(), "order-naive", "")
	err = run.Get(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), `key "`+naiveKey+`", which is not in the key ring`) {
		t.Errorf("order naive: err = %v, want a failure to decrypt with %s", err, naiveKey)
	}
	d, derr := r.s.orders(t).Temporal.DescribeWorkflowExecution(context.Background(), "order-naive", "")
	if derr != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Errorf("order naive: %v, %v; want its workflow FAILED", d.GetWorkflowExecutionInfo().GetStatus(), derr)
	}
}

// orders is an order client that reads payloads with ring.
func (r *rotation) orders(t *testing.T, ring string) *orderclient.Client {
	t.Helper()
	opts, err := (&connect.Flags{Address: r.s.address, CodecKeyFile: ring}).Options(nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = quietLogger{}
	c, err := client.Dial(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &orderclient.Client{Temporal: c, Namespace: "default", UIURL: r.s.uiURL}
}

// waitPending waits until the order's activity is scheduled: the order
// worker ran the order up to that step and the order waits in Temporal.
func (r *rotation) waitPending(t *testing.T, orderID, activity string) {
	t.Helper()
	eventually(t, orderTimeout, activity+" of "+orderID+" scheduled", func() (bool, string) {
		d, err := r.s.orders(t).Temporal.DescribeWorkflowExecution(context.Background(), "order-"+orderID, "")
		if err != nil {
			return false, err.Error()
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == activity {
				return true, ""
			}
		}
		return false, fmt.Sprint("pending: ", d.GetPendingActivities())
	})
}

// wantAllCompleted waits for every order placed to end, reading them with
// the final ring: each completed, and the payment store holds one capture
// of its total for each, and none for the order that failed.
func (r *rotation) wantAllCompleted(t *testing.T) {
	t.Helper()
	oc := r.orders(t, r.keyFile)
	st := r.s.stores(t)
	for _, id := range r.placed {
		ctx, cancel := context.WithTimeout(context.Background(), orderTimeout)
		v, err := oc.Wait(ctx, id)
		cancel()
		if err != nil || v.Status != workflows.Completed {
			t.Errorf("order %s: %s (%v), want COMPLETED: %+v", id, v.Status, err, v.OrderState)
			continue
		}
		c, found, err := st.payment.ChargeByKey(context.Background(), "order-"+id+"/charge")
		if err != nil || !found || c.Status != payment.Captured || c.AmountCents != v.TotalCents {
			t.Errorf("order %s: charge %+v (found %v, %v), want one capture of %d cents", id, c, found, err, v.TotalCents)
		}
	}
	charges, err := st.payment.Charges(context.Background())
	if err != nil || len(charges) != len(r.placed) {
		t.Errorf("%d charges (%v) for %d completed orders: %+v", len(charges), err, len(r.placed), charges)
	}
}

// wantKeys checks, in the order's history as Temporal stores it, which
// key encrypted the order (the starter's), its ReserveStock input (the
// order worker's) and that step's result (the service worker's).
func (r *rotation) wantKeys(t *testing.T, orderID, order, stepInput, stepResult string) {
	t.Helper()
	h := rawHistory(t, r.s, "order-"+orderID)
	assertSealed(t, h, order, payment.TokenVisa, shipTo)
	input, result := reserveKeys(h)
	if input != stepInput || result != stepResult {
		t.Errorf("order %s: ReserveStock's input encrypted with %q, its result with %q; want %q, %q", orderID, input, result, stepInput, stepResult)
	}
}

// reserveKeys returns the IDs of the keys that encrypted the ReserveStock
// step's input and its result in h.
func reserveKeys(h *historypb.History) (input, result string) {
	var scheduled int64
	for _, e := range h.Events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a.GetActivityType().GetName() == "ReserveStock" {
			scheduled = e.GetEventId()
			input = string(a.GetInput().GetPayloads()[0].GetMetadata()[codec.MetadataKeyID])
		}
		if a := e.GetActivityTaskCompletedEventAttributes(); a != nil && a.GetScheduledEventId() == scheduled {
			result = string(a.GetResult().GetPayloads()[0].GetMetadata()[codec.MetadataKeyID])
		}
	}
	return input, result
}
