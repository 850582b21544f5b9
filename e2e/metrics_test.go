package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestMetrics runs three orders (one completes, one is declined, one is
// cancelled in its window) through a worker that serves metrics, then
// scrapes its /metrics: the order counters say what happened, by label, the
// step durations and the Temporal SDK's own metrics are there, no metric
// names an order, and the server stops with the worker. Every log line
// about an order carries its order ID and workflow ID.
func TestMetrics(t *testing.T) {
	s := newStack(t)
	addr := "127.0.0.1:" + freePort(t)
	w := s.startWorker(t, "worker", "--metrics-addr", addr, "--log-format", "json")
	metricsURL := "http://" + addr + "/metrics"

	r := s.starter(t, "place", "--id", "m-ok", "--customer", "alice", "--item", "BOOK-GOPL:1",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "1s", "--wait", "-o", "json")
	if v := view(t, r, 0); v.Status != workflows.Completed {
		t.Fatalf("order m-ok: %+v", v.OrderState)
	}
	r = s.starter(t, "place", "--id", "m-declined", "--customer", "bob", "--item", "MUG-GOPHER:1",
		"--payment", "tok_declined", "--address", shipTo, "--wait", "-o", "json")
	if v := view(t, r, 3); v.Status != workflows.Failed {
		t.Fatalf("order m-declined: %+v", v.OrderState)
	}
	r = s.starter(t, "place", "--id", "m-cancel", "--customer", "carol", "--item", "STICKER-PACK:1",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "10m", "-o", "json")
	view(t, r, 0)
	s.waitStatus(t, "m-cancel", workflows.AwaitingFulfillment)
	r = s.starter(t, "cancel", "m-cancel", "--reason", "changed my mind", "--wait", "-o", "json")
	if v := view(t, r, 0); v.Status != workflows.Cancelled {
		t.Fatalf("order m-cancel: %+v", v.OrderState)
	}

	want := []expectedSample{
		{"ordersaga_orders_started_total", nil, 3},
		{"ordersaga_orders_completed_total", nil, 1},
		{"ordersaga_orders_failed_total", nil, 1},
		{"ordersaga_orders_failed_total", labels{"step": "charge", "reason": "PaymentDeclined"}, 1},
		{"ordersaga_orders_cancelled_total", nil, 1},
		{"ordersaga_orders_cancelled_total", labels{"cancelled_by": "update"}, 1},
		{"ordersaga_orders_needs_attention_total", nil, 0},
		{"ordersaga_compensations_run_total", labels{"compensation": "refund"}, 2},
		{"ordersaga_compensations_run_total", labels{"compensation": "release"}, 2},
		{"ordersaga_compensations_run_total", labels{"compensation": "cancel-shipment"}, 0},
		{"ordersaga_compensations_failed_total", nil, 0},
		{"ordersaga_step_duration_seconds_count", labels{"step": "reserve", "outcome": "ok"}, 3},
		{"ordersaga_step_duration_seconds_count", labels{"step": "charge", "outcome": "ok"}, 2},
		{"ordersaga_step_duration_seconds_count", labels{"step": "charge", "outcome": "failed"}, 1},
		{"ordersaga_step_duration_seconds_count", labels{"step": "ship", "outcome": "ok"}, 1},
		{"temporal_workflow_completed_total", labels{"workflow_type": "OrderWorkflow"}, 1},
		{"temporal_workflow_failed_total", labels{"workflow_type": "OrderWorkflow"}, 1},
		{"temporal_workflow_canceled_total", labels{"workflow_type": "OrderWorkflow"}, 1},
		{"temporal_activity_execution_latency_seconds_count", labels{"activity_type": "ChargePayment"}, 3},
	}
	var body string
	eventually(t, 30*time.Second, "the metrics count the three orders", func() (bool, string) {
		body = scrape(t, metricsURL)
		return mismatches(body, want) == "", mismatches(body, want)
	})
	for _, id := range []string{"m-ok", "m-declined", "m-cancel"} {
		if strings.Contains(body, id) {
			t.Errorf("a metric names order %s", id)
		}
	}

	w.stop(t, syscall.SIGTERM)
	if w.err != nil {
		t.Errorf("worker did not stop cleanly: %v", w.err)
	}
	if resp, err := http.Get(metricsURL); err == nil {
		resp.Body.Close()
		t.Error("the metrics server still answers after the worker stopped")
	}
	assertOrderLogLines(t, w.output(), "m-ok", "m-declined", "m-cancel")
}

// assertOrderLogLines checks a worker's JSON log: every line with an
// order's workflow ID has its order ID, every line with an order ID has its
// workflow ID, and each of the orders has lines.
func assertOrderLogLines(t *testing.T, log string, orderIDs ...string) {
	t.Helper()
	perOrder := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var rec struct {
			Msg        string `json:"msg"`
			OrderID    string `json:"order_id"`
			WorkflowID string `json:"WorkflowID"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON log line: %s", line)
			continue
		}
		if rec.OrderID == "" && rec.WorkflowID == "" {
			continue
		}
		if rec.WorkflowID != ordersaga.WorkflowID(rec.OrderID) {
			t.Errorf("log line %q: order_id %q, WorkflowID %q: %s", rec.Msg, rec.OrderID, rec.WorkflowID, line)
		}
		perOrder[rec.OrderID]++
	}
	for _, id := range orderIDs {
		if perOrder[id] == 0 {
			t.Errorf("no log line about order %s", id)
		}
	}
}

// labels are some of a sample's labels.
type labels map[string]string

// expectedSample is the sum of a metric's samples that carry labels.
type expectedSample struct {
	name   string
	labels labels
	value  float64
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}

// mismatches lists the expected samples that body, a Prometheus text
// exposition, does not have; "" when it has them all.
func mismatches(body string, want []expectedSample) string {
	var out []string
	for _, w := range want {
		if got := sumSamples(body, w.name, w.labels); got != w.value {
			out = append(out, fmt.Sprintf("%s%v = %g, want %g", w.name, w.labels, got, w.value))
		}
	}
	return strings.Join(out, "; ")
}

var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// sumSamples adds up the values of the samples of the metric name whose
// labels include want.
func sumSamples(body, name string, want labels) float64 {
	total := 0.0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if err != nil {
			continue
		}
		have := labels{}
		for _, m := range labelPair.FindAllStringSubmatch(line[len(name):cut], -1) {
			have[m[1]] = m[2]
		}
		if hasAll(have, want) {
			total += v
		}
	}
	return total
}

func hasAll(have, want labels) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
