package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga"
)

const allServices = "order,inventory,payment,shipping"

func TestSelectServices(t *testing.T) {
	tests := []struct {
		names []string
		want  []string
	}{
		{names: []string{"order", "inventory", "payment", "shipping"}, want: []string{"order", "inventory", "payment", "shipping"}},
		{names: []string{"shipping", "payment", "inventory", "order"}, want: []string{"order", "inventory", "payment", "shipping"}},
		{names: []string{"shipping", "order"}, want: []string{"order", "shipping"}},
		{names: []string{"Payment", " INVENTORY ", "payment"}, want: []string{"inventory", "payment"}},
		{names: []string{"order", "order", "ORDER", " Order"}, want: []string{"order"}},
		{names: []string{"shipping"}, want: []string{"shipping"}},
	}
	for _, tt := range tests {
		picked, err := selectServices(tt.names)
		if err != nil {
			t.Errorf("selectServices(%q): %v", tt.names, err)
			continue
		}
		var got []string
		for _, s := range picked {
			got = append(got, s.name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("selectServices(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}

func TestSelectServicesTaskQueues(t *testing.T) {
	picked, err := selectServices(serviceNames())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"order":     ordersaga.OrdersTaskQueue,
		"inventory": ordersaga.InventoryTaskQueue,
		"payment":   ordersaga.PaymentTaskQueue,
		"shipping":  ordersaga.ShippingTaskQueue,
	}
	if len(picked) != len(want) {
		t.Fatalf("picked %d services, want %d", len(picked), len(want))
	}
	for _, s := range picked {
		if s.taskQueue != want[s.name] || s.register == nil {
			t.Errorf("service %s: task queue %q (want %q), register set %v", s.name, s.taskQueue, want[s.name], s.register != nil)
		}
	}
}

func TestSelectServicesRefuses(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{names: nil, want: "--services is empty"},
		{names: []string{}, want: "--services is empty"},
		{names: []string{"foo"}, want: `unknown service "foo"`},
		{names: []string{"order", "bar"}, want: `unknown service "bar"`},
		{names: []string{"order", ""}, want: `unknown service ""`},
		{names: []string{"orders"}, want: `unknown service "orders"`},
	}
	for _, tt := range tests {
		picked, err := selectServices(tt.names)
		if err == nil {
			t.Errorf("selectServices(%q) = %d services, want an error", tt.names, len(picked))
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), allServices) {
			t.Errorf("selectServices(%q): %q, want it to say %q and name %s", tt.names, err, tt.want, allServices)
		}
	}
}

// TestRunRefusesBadFlagsBeforeConnecting: a wrong --services, --log-format
// or --log-level fails at once with a one-line reason, before the worker
// dials Temporal (at an address where nothing listens, so a connection
// attempt would show in the error) or opens a store.
func TestRunRefusesBadFlagsBeforeConnecting(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "unknown service", args: []string{"--services", "foo"}, want: []string{`"foo"`, allServices}},
		{name: "empty services", args: []string{"--services", ""}, want: []string{"empty", allServices}},
		{name: "one unknown service among good ones", args: []string{"--services", "order,foo"}, want: []string{`"foo"`, allServices}},
		{name: "run: unknown service", args: []string{"run", "--services", "foo"}, want: []string{`"foo"`, allServices}},
		{name: "run: empty services", args: []string{"run", "--services="}, want: []string{"empty", allServices}},
		{name: "log format", args: []string{"--log-format", "xml"}, want: []string{"--log-format", `"xml"`, "text or json"}},
		{name: "run: log format", args: []string{"run", "--log-format", "xml"}, want: []string{"--log-format", `"xml"`}},
		{name: "log level", args: []string{"--log-level", "loud"}, want: []string{"--log-level", `"loud"`, "debug, info, warn or error"}},
		{name: "zero compensation timeout", args: []string{"run", "--compensation-timeout", "0s"}, want: []string{"--compensation-timeout is 0s", "positive duration"}},
		{name: "negative compensation timeout", args: []string{"--compensation-timeout=-5m"}, want: []string{"--compensation-timeout is -5m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// The case's flags come last, so they win over these.
			args := append([]string{"--temporal-address=127.0.0.1:1", "--data-dir=" + dir, "--log-format=text", "--log-level=info"}, tt.args...)

			code, stdout, stderr := invoke(t, args...)

			wantOneLineError(t, args, code, stdout, stderr, tt.want...)
			if strings.Contains(stderr, "127.0.0.1:1") || strings.Contains(stderr, "connect") {
				t.Errorf("worker %q tried to connect: %s", args, stderr)
			}
			wantEmptyDir(t, dir)
		})
	}
}

// TestRunConnectionErrorIsOneLine is the control for the test above: with
// good flags the worker does dial, and the failure says where.
func TestRunConnectionErrorIsOneLine(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--temporal-address=127.0.0.1:1", "--data-dir=" + dir, "--log-format=text", "--log-level=error", "--services", "order"}

	code, stdout, stderr := invoke(t, args...)

	wantOneLineError(t, args, code, stdout, stderr, "connect to Temporal at 127.0.0.1:1")
	wantEmptyDir(t, dir)
}
