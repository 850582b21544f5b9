package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/internal/platform/storedb"
	"github.com/ordersaga/ordersaga/internal/tracing"
	"github.com/ordersaga/ordersaga/internal/tracing/tracetest"
	"github.com/ordersaga/ordersaga/workflows"
)

// traceAddress is the traced orders' shipping address: no span may carry
// it, nor their payment tokens.
const traceAddress = "12 Tracing Lane, Springfield"

// tracedTx is a store transaction an activity of an order must have made,
// under its span.
type tracedTx struct {
	activity, service, key string
}

// TestTracing places, through a starter and a worker that export traces
// to an OTLP receiver in the test (the starter over http/protobuf, the
// worker over grpc), an order whose charge is retried and one whose
// charge is declined and compensated, stops the worker cleanly, and
// checks each order's ONE trace: the starter's place span as its root
// with the order ID, the workflow's span under it, the activities' spans
// under the workflow's (the retried charge's three attempts; the declined
// one's release after its charge), a store transaction span under each
// activity that wrote, naming service, step and key; no span holds a
// payment token or the address. status reports the trace's ID (-o json
// as trace_id), and every worker log line about the order carries it.
func TestTracing(t *testing.T) {
	s := newStack(t)
	r := tracetest.Start(t)
	w := startProcess(t, "worker", []string{
		tracing.EndpointEnv + "=" + r.GRPCEndpoint(), tracing.ProtocolEnv + "=" + tracing.ProtocolGRPC,
	}, workerBin, "run", "--temporal-address", s.address, "--data-dir", s.dataDir, "--stop-timeout", "2s", "--log-format", "json")
	w.waitOutput(t, "worker started", workerStartTimeout)
	starterEnv := []string{tracing.EndpointEnv + "=" + r.HTTPEndpoint(), tracing.ProtocolEnv + "=" + tracing.ProtocolHTTP}

	orders := []struct {
		id, token string
		wantCode  int
		want      workflows.Status
		txs       func(wf string) []tracedTx
	}{
		{id: "tr-flaky", token: payment.TokenFlaky, wantCode: 0, want: workflows.Completed, txs: func(wf string) []tracedTx {
			return []tracedTx{
				{"ClaimOrderID", "orders", "tr-flaky"},
				{"ReserveStock", "inventory", wf + "/" + workflows.StepReserve},
				{"ChargePayment", "payment", wf + "/" + workflows.StepCharge},
				{"CreateShipment", "shipping", wf + "/" + workflows.StepShip},
			}
		}},
		{id: "tr-declined", token: payment.TokenDeclined, wantCode: 3, want: workflows.Failed, txs: func(wf string) []tracedTx {
			return []tracedTx{
				{"ClaimOrderID", "orders", "tr-declined"},
				{"ReserveStock", "inventory", wf + "/" + workflows.StepReserve},
				{"ChargePayment", "payment", wf + "/" + workflows.StepCharge},
				{"RefundPayment", "payment", wf + "/" + workflows.StepCharge},
				{"ReleaseStock", "inventory", wf + "/" + workflows.StepReserve},
			}
		}},
	}
	for _, o := range orders {
		res := runCommandEnv(t, starterEnv, starterBin, "place", "--id", o.id, "--customer", "c-trace", "--item", "BOOK-GOPL:1",
			"--payment", o.token, "--address", traceAddress, "--cancel-window", "0", "--wait", "-o", "json",
			"--temporal-address", s.address, "--ui-url", s.uiURL)
		if v := view(t, res, o.wantCode); v.Status != o.want {
			t.Fatalf("order %s ended %s, want %s", o.id, v.Status, o.want)
		}
	}
	statusTraceIDs, statusTexts := map[string]string{}, map[string]string{}
	for _, o := range orders {
		var st struct {
			TraceID string `json:"trace_id"`
		}
		decode(t, s.starter(t, "status", o.id, "-o", "json"), &st)
		statusTraceIDs[o.id] = st.TraceID
		statusTexts[o.id] = s.starter(t, "status", o.id).stdout
	}
	w.stop(t, syscall.SIGTERM) // the worker sends its last spans as it stops
	if !strings.Contains(w.output(), "worker stopping") {
		t.Fatalf("the worker did not stop cleanly:\n%s", w.tail(30))
	}

	for _, o := range orders {
		t.Run(o.id, func(t *testing.T) {
			wf := ordersaga.WorkflowID(o.id)
			var tr orderTrace
			eventually(t, 30*time.Second, "order "+o.id+"'s trace has its workflow span", func() (bool, string) {
				var err error
				tr, err = traceOf(r.Spans(), o.id)
				if err == nil && len(tr.named("RunWorkflow:"+ordersaga.OrderWorkflowType)) == 0 {
					err = fmt.Errorf("no workflow span yet in %d spans", len(tr.spans))
				}
				return err == nil, fmt.Sprint(err)
			})
			tr.checkConnected(t, r.Spans(), wf)
			if statusTraceIDs[o.id] != tr.root.TraceID {
				t.Errorf("status -o json: trace_id %q, want the place's trace %s", statusTraceIDs[o.id], tr.root.TraceID)
			}
			if want := "Trace ID: " + tr.root.TraceID + "\n"; !strings.Contains(statusTexts[o.id], want) {
				t.Errorf("status shows no %q:\n%s", want, statusTexts[o.id])
			}

			workflow := tr.one(t, "RunWorkflow:"+ordersaga.OrderWorkflowType)
			if !tr.under(workflow, tr.root) || workflow.Service != tracing.WorkerService {
				t.Errorf("workflow span (service %q) is not under the place span", workflow.Service)
			}
			charges := tr.named("RunActivity:ChargePayment")
			for _, a := range tr.withPrefix("RunActivity:") {
				if !tr.under(a, workflow) {
					t.Errorf("%s is not under the workflow span", a.Name)
				}
			}
			switch o.token {
			case payment.TokenFlaky:
				if len(charges) != payment.FlakyFailures+1 {
					t.Fatalf("%d charge attempts traced, want %d", len(charges), payment.FlakyFailures+1)
				}
				for i, c := range charges {
					if c.ParentID != charges[0].ParentID {
						t.Errorf("charge attempt %d is under another span than the first", i+1)
					}
					if wantErr := i < payment.FlakyFailures; c.Error != wantErr {
						t.Errorf("charge attempt %d: error %v, want %v", i+1, c.Error, wantErr)
					}
				}
			case payment.TokenDeclined:
				if len(charges) != 1 || !charges[0].Error {
					t.Fatalf("%d charge attempts traced, want one, failed", len(charges))
				}
				release := tr.one(t, "RunActivity:ReleaseStock")
				if release.Start.Before(charges[0].End) {
					t.Errorf("release started at %s, before the charge failed at %s", release.Start, charges[0].End)
				}
			}
			for _, want := range o.txs(wf) {
				tr.checkTx(t, want)
			}
			checkNoSecrets(t, r.Spans(), o.token)
			checkLogTraceIDs(t, w.output(), o.id, tr.root.TraceID)
		})
	}
}

// orderTrace is the spans of one order's trace.
type orderTrace struct {
	root  tracetest.Span
	spans []tracetest.Span
	byID  map[string]tracetest.Span
}

// traceOf finds the order's trace by its root: the one starter place span
// with the order's ID.
func traceOf(all []tracetest.Span, orderID string) (orderTrace, error) {
	var roots []tracetest.Span
	for _, s := range all {
		if s.Name == "starter place" && s.Attrs[string(tracing.OrderIDKey)] == orderID {
			roots = append(roots, s)
		}
	}
	if len(roots) != 1 {
		return orderTrace{}, fmt.Errorf("%d starter place spans with order ID %s, want 1", len(roots), orderID)
	}
	tr := orderTrace{root: roots[0], byID: map[string]tracetest.Span{}}
	for _, s := range all {
		if s.TraceID == tr.root.TraceID {
			tr.spans = append(tr.spans, s)
			tr.byID[s.SpanID] = s
		}
	}
	slices.SortFunc(tr.spans, func(a, b tracetest.Span) int { return a.Start.Compare(b.Start) })
	return tr, nil
}

// checkConnected checks that the trace is one tree under its root, and
// that every span about the order's workflow (but a query's) is in it.
func (tr orderTrace) checkConnected(t *testing.T, all []tracetest.Span, workflowID string) {
	t.Helper()
	if tr.root.ParentID != "" || tr.root.Service != tracing.StarterService {
		t.Errorf("place span: parent %q, service %q; want a root span of %s", tr.root.ParentID, tr.root.Service, tracing.StarterService)
	}
	for _, s := range tr.spans {
		if _, ok := tr.byID[s.ParentID]; !ok && s.SpanID != tr.root.SpanID {
			t.Errorf("span %s has a parent %q outside the trace", s.Name, s.ParentID)
		}
	}
	for _, s := range all {
		// A query from a client that does not trace is a trace of its own.
		query := strings.HasPrefix(s.Name, "QueryWorkflow:") || strings.HasPrefix(s.Name, "HandleQuery:")
		if s.Attrs["temporalWorkflowID"] == workflowID && s.TraceID != tr.root.TraceID && !query {
			t.Errorf("span %s of %s is in another trace", s.Name, workflowID)
		}
	}
}

func (tr orderTrace) named(name string) []tracetest.Span {
	var out []tracetest.Span
	for _, s := range tr.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func (tr orderTrace) withPrefix(prefix string) []tracetest.Span {
	var out []tracetest.Span
	for _, s := range tr.spans {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// one is the trace's only span named name.
func (tr orderTrace) one(t *testing.T, name string) tracetest.Span {
	t.Helper()
	found := tr.named(name)
	if len(found) != 1 {
		t.Fatalf("%d spans %s in the trace, want 1; the trace: %s", len(found), name, tr)
	}
	return found[0]
}

// under reports whether ancestor is s's parent, or its parent's, and so on.
func (tr orderTrace) under(s, ancestor tracetest.Span) bool {
	for seen := 0; s.ParentID != "" && seen < len(tr.spans); seen++ {
		if s.ParentID == ancestor.SpanID {
			return true
		}
		var ok bool
		if s, ok = tr.byID[s.ParentID]; !ok {
			return false
		}
	}
	return false
}

// checkTx checks that the last run of want's activity has a store
// transaction span under it that names service, step and key.
func (tr orderTrace) checkTx(t *testing.T, want tracedTx) {
	t.Helper()
	runs := tr.named("RunActivity:" + want.activity)
	if len(runs) == 0 {
		t.Errorf("no %s activity span in the trace: %s", want.activity, tr)
		return
	}
	run := runs[len(runs)-1]
	wantAttrs := map[string]string{
		string(storedb.ServiceAttr): want.service, string(storedb.StepAttr): want.activity,
		string(storedb.IdempotencyKeyAttr): want.key, string(storedb.DialectAttr): "sqlite",
	}
	for _, s := range tr.spans {
		if s.ParentID != run.SpanID || s.Name != storedb.TxSpanPrefix+want.service {
			continue
		}
		for k, v := range wantAttrs {
			if s.Attrs[k] != v {
				t.Errorf("%s under %s: %s = %q, want %q", s.Name, run.Name, k, s.Attrs[k], v)
			}
		}
		return
	}
	t.Errorf("no %s%s span under %s: %s", storedb.TxSpanPrefix, want.service, run.Name, tr)
}

func (tr orderTrace) String() string {
	var b strings.Builder
	for _, s := range tr.spans {
		fmt.Fprintf(&b, "\n  %s %s (parent %s)", s.SpanID, s.Name, s.ParentID)
	}
	return b.String()
}

// checkNoSecrets checks that no span received, of any trace, carries the
// payment token or the shipping address.
func checkNoSecrets(t *testing.T, all []tracetest.Span, token string) {
	t.Helper()
	for _, s := range all {
		for _, text := range s.Texts() {
			if strings.Contains(text, token) || strings.Contains(text, traceAddress) {
				t.Errorf("span %s carries %q", s.Name, text)
			}
		}
	}
}

// checkLogTraceIDs checks that every worker log line about the order
// carries the order's trace ID: the saga's, and the SDK's own, even those
// it logs outside any span ("Activity error.").
func checkLogTraceIDs(t *testing.T, log, orderID, traceID string) {
	t.Helper()
	withID := 0
	var without []string
	for _, line := range strings.Split(log, "\n") {
		var fields map[string]any
		if json.Unmarshal([]byte(line), &fields) != nil || fields["order_id"] != orderID {
			continue
		}
		switch got, _ := fields["trace_id"].(string); got {
		case traceID:
			withID++
		case "":
			without = append(without, line)
		default:
			t.Errorf("log line about order %s has trace_id %s, want %s: %s", orderID, got, traceID, line)
		}
	}
	if withID == 0 || len(without) > 0 {
		t.Errorf("%d log lines about order %s carry its trace_id %s, %d none:\n%s",
			withID, orderID, traceID, len(without), strings.Join(without, "\n"))
	}
}
