package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRunRefusesBadMetricsAddr: a --metrics-addr that is not host:port, or
// where the worker cannot listen, fails at once with a one-line reason,
// before the worker dials Temporal or opens a store.
func TestRunRefusesBadMetricsAddr(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	tests := []struct {
		name string
		addr string
		want []string
	}{
		{name: "no port", addr: "9090", want: []string{`--metrics-addr "9090"`, "host:port"}},
		{name: "empty port", addr: "127.0.0.1:", want: []string{`--metrics-addr "127.0.0.1:"`, "host:port"}},
		{name: "port out of range", addr: ":65536", want: []string{`--metrics-addr ":65536"`, "host:port"}},
		{name: "named port", addr: ":http", want: []string{`--metrics-addr ":http"`, "host:port"}},
		{name: "port in use", addr: busy.Addr().String(), want: []string{"--metrics-addr", "address already in use"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"run", "--temporal-address=127.0.0.1:1", "--data-dir=" + dir, "--log-level=error", "--metrics-addr=" + tt.addr}

			code, stdout, stderr := invoke(t, args...)

			wantOneLineError(t, args, code, stdout, stderr, tt.want...)
			if strings.Contains(stderr, "connect") {
				t.Errorf("worker %q tried to connect: %s", args, stderr)
			}
			wantEmptyDir(t, dir)
		})
	}
}

// TestRunReadsMetricsAddrFromEnv: ORDERSAGA_METRICS_ADDR sets the flag, and
// is checked the same way.
func TestRunReadsMetricsAddrFromEnv(t *testing.T) {
	t.Setenv(MetricsAddrEnv, "nonsense")
	args := []string{"--temporal-address=127.0.0.1:1", "--data-dir=" + t.TempDir(), "--log-level=error"}

	code, stdout, stderr := invoke(t, args...)

	wantOneLineError(t, args, code, stdout, stderr, `--metrics-addr "nonsense"`)
}

// TestPprofOnlyWhenAsked: without --pprof the metrics server has no
// profiler, and --pprof without --metrics-addr is refused.
func TestPprofOnlyWhenAsked(t *testing.T) {
	mux := metricsMux(prometheus.NewRegistry(), false)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --pprof: status %d, want 404", rec.Code)
	}
	args := []string{"run", "--pprof"}
	code, stdout, stderr := invoke(t, args...)
	wantOneLineError(t, args, code, stdout, stderr, "--pprof serves the profiler on the metrics server: give --metrics-addr too")
}

// TestMetricsServer: what the handler records is served in Prometheus's
// format on /metrics, /healthz answers, and stop closes the server.
func TestMetricsServer(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := startMetrics("127.0.0.1:0", true, logger)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			m.stop(logger)
		}
	})
	h := m.metricsHandler().WithTags(map[string]string{"step": "charge"})
	h.Counter("ordersaga_test_events").Inc(2)
	h.Timer("ordersaga_test_duration").Record(1500 * time.Millisecond)
	base := "http://" + m.addr.String()

	body := get(t, base+"/metrics")
	for _, want := range []string{
		`ordersaga_test_events_total{`,
		`step="charge"`,
		`ordersaga_test_duration_seconds_bucket{`,
		`le="2.5"`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics does not have %q:\n%s", want, body)
		}
	}
	if got := get(t, base+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz answered %q", got)
	}
	if got := get(t, base+"/debug/pprof/"); !strings.Contains(got, "goroutine") {
		t.Errorf("/debug/pprof/ with --pprof answered %q", got)
	}

	m.stop(logger)
	stopped = true
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the metrics server still answers after stop")
	}
}

// TestPprofHidesCommandLine: with --pprof, nothing on the metrics server
// shows the worker's command line, which may hold a DSN's password: not
// /debug/pprof/cmdline, whichever way it is asked for, nor any other page.
func TestPprofHidesCommandLine(t *testing.T) {
	const password, apiKey = "hunter2-dsn-password", "sk-fake-api-key"
	args := os.Args
	os.Args = append(slices.Clone(args), "--orders-dsn=postgres://orders:"+password+"@db.internal/orders", "--api-key", apiKey)
	t.Cleanup(func() { os.Args = args })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := startMetrics("127.0.0.1:0", true, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.stop(logger) })
	base := "http://" + m.addr.String()
	tests := []struct {
		path       string
		wantStatus int
	}{
		{"/debug/pprof/cmdline", http.StatusNotFound},
		{"/debug/pprof/cmdline?debug=1", http.StatusNotFound},
		{"/debug/pprof//cmdline", http.StatusNotFound},
		{"/debug/pprof/", http.StatusOK},
		{"/debug/pprof/goroutine?debug=2", http.StatusOK},
		{"/debug/pprof/symbol", http.StatusOK},
		{"/debug/vars", http.StatusNotFound},
		{"/metrics", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(base + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			for _, secret := range []string{password, apiKey} {
				if strings.Contains(string(body), secret) {
					t.Errorf("the answer shows %q from the command line:\n%s", secret, body)
				}
			}
		})
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}
