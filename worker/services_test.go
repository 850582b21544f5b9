package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
	"github.com/ordersaga/ordersaga/workflows"
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
		"audit":     ordersaga.AuditTaskQueue,
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

// A worker hosts the saga's four services unless told otherwise; the
// audit runs only where --services names it, where the stores are.
func TestDefaultServicesLeaveOutTheAudit(t *testing.T) {
	if got := strings.Join(defaultServices(), ","); got != allServices {
		t.Errorf("default services %s, want %s", got, allServices)
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

// recordingRegistry records what a service registers on its worker. The
// embedded Registry is nil: a registration it does not record panics.
type recordingRegistry struct {
	worker.Registry
	workflows  []string
	activities []any
}

func (r *recordingRegistry) RegisterWorkflow(any) { r.workflows = append(r.workflows, "") }

func (r *recordingRegistry) RegisterWorkflowWithOptions(_ any, o workflow.RegisterOptions) {
	r.workflows = append(r.workflows, o.Name)
}

func (r *recordingRegistry) RegisterActivity(a any) { r.activities = append(r.activities, a) }

// The order service hosts the order workflow and, in the same worker, the
// register of order IDs that the workflow claims its ID in: in SQLite in
// the data directory, or in PostgreSQL with --orders-dsn (and then nothing
// in the data directory).
func TestOrderServiceHostsTheRegister(t *testing.T) {
	pgtest.Run(t, orders.DatabaseFile, func(t *testing.T, b pgtest.Backend) {
		ctx := context.Background()
		picked, err := selectServices([]string{"order"})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		source := filepath.Join(dir, orders.DatabaseFile)
		cfg := serviceConfig{dataDir: dir, order: workflows.Config{CompensationTimeout: workflows.DefaultCompensationTimeout}}
		if b.Name == "postgres" {
			source = b.Source(t)
			cfg.dsns.Orders = source
		}
		var reg recordingRegistry

		closer, err := picked[0].register(ctx, &reg, cfg)
		if err != nil {
			t.Fatalf("register the order service: %v", err)
		}
		if !slices.Equal(reg.workflows, []string{ordersaga.OrderWorkflowType}) {
			t.Errorf("workflows registered: %q, want [%s]", reg.workflows, ordersaga.OrderWorkflowType)
		}
		if len(reg.activities) != 1 {
			t.Fatalf("%d activity registrations, want the register's one", len(reg.activities))
		}
		a, ok := reg.activities[0].(*orders.Activities)
		if !ok || a.Store == nil || closer != io.Closer(a.Store) {
			t.Fatalf("registered %T, closer %T: want *orders.Activities over the store the service closes", reg.activities[0], closer)
		}
		req := orders.ClaimRequest{OrderID: "42", WorkflowID: "order-42", Placement: "p1"}
		if _, err := a.Store.Claim(ctx, req); err != nil {
			t.Fatalf("claim through the registered activities: %v", err)
		}
		if err := closer.Close(); err != nil {
			t.Errorf("close the register: %v", err)
		}

		// The claim is where the flags put the register.
		store, err := orders.Open(ctx, source)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		if c, found, err := store.ClaimByOrderID(ctx, "42"); err != nil || !found || c.Placement != "p1" {
			t.Errorf("claim on 42 at %s = %+v, %v, %v; want p1's", b.Name, c, found, err)
		}
		if b.Name == "postgres" {
			wantEmptyDir(t, dir)
		}
	})
}

// A register that will not open stops the order service before its
// workflow is registered.
func TestOrderServiceFailsWithoutItsRegister(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	picked, err := selectServices([]string{"order"})
	if err != nil {
		t.Fatal(err)
	}
	var reg recordingRegistry
	closer, err := picked[0].register(context.Background(), &reg, serviceConfig{dataDir: file})
	if err == nil || closer != nil || !strings.Contains(err.Error(), "orders store") {
		t.Errorf("register with a data directory that is a file = %v, %v; want a nil closer and an orders store error", closer, err)
	}
	if len(reg.workflows)+len(reg.activities) != 0 {
		t.Errorf("registered %q and %d activities, want nothing", reg.workflows, len(reg.activities))
	}
}

func TestOrderServiceBadDSNIsRefusedBeforeConnecting(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--temporal-address=127.0.0.1:1", "--data-dir", dir, "run", "--services", "order", "--orders-dsn", "mysql://u@db/orders"}
	code, stdout, stderr := invoke(t, args...)
	wantOneLineError(t, args, code, stdout, stderr, "--orders-dsn: not a PostgreSQL DSN")
	if strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("worker %q tried to connect: %s", args, stderr)
	}
	wantEmptyDir(t, dir)
}
