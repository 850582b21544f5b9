package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/baseline"
	"github.com/ordersaga/ordersaga/continuousaudit"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// service is one deployable part of the saga: what it polls and how it
// registers itself. register returns what to close once its worker stopped.
// An optional service runs only when --services names it.
type service struct {
	name      string
	taskQueue string
	optional  bool
	register  func(ctx context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error)
	// started, if set, runs once the service's worker polls its task
	// queue: what would otherwise put a task on a queue nobody polls yet.
	started func(ctx context.Context, cfg serviceConfig) error
}

// serviceConfig is what the services take from the worker's flags.
type serviceConfig struct {
	dataDir string      // the SQLite stores' directory
	dsns    stores.DSNs // the stores in PostgreSQL, and how to open them
	order   workflows.Config
	audit   auditConfig
	// temporal is the worker's client, for the audit's reads of Temporal.
	temporal  client.Client
	namespace string
	// requireEncryption: the order service refuses orders sent in clear.
	requireEncryption bool
}

// auditConfig is the audit service's part of the flags.
type auditConfig struct {
	every, stuckAfter time.Duration
}

// services are all the services a worker can host, in start order.
var services = []service{
	{name: "order", taskQueue: ordersaga.OrdersTaskQueue, register: registerOrderService},
	{name: "inventory", taskQueue: ordersaga.InventoryTaskQueue, register: func(ctx context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error) {
		return closer(inventory.Register(ctx, w, cfg.dataDir, cfg.dsns.Inventory, cfg.dsns.Conn.Options()...))
	}},
	{name: "payment", taskQueue: ordersaga.PaymentTaskQueue, register: func(ctx context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error) {
		return closer(payment.Register(ctx, w, cfg.dataDir, cfg.dsns.Payment, cfg.dsns.Conn.Options()...))
	}},
	{name: "shipping", taskQueue: ordersaga.ShippingTaskQueue, register: func(ctx context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error) {
		return closer(shipping.Register(ctx, w, cfg.dataDir, cfg.dsns.Shipping, cfg.dsns.Conn.Options()...))
	}},
	{name: "audit", taskQueue: ordersaga.AuditTaskQueue, optional: true, register: registerAuditService, started: ensureAuditSchedule},
}

// registerAuditService registers the audit workflow and its activity,
// which audits the stores (opened read-only at each run, so the service
// may start before the stores exist) against Temporal. It belongs where
// all three stores are reachable.
func registerAuditService(_ context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error) {
	temporal := audit.TemporalClient{Client: cfg.temporal, Namespace: cfg.namespace}
	continuousaudit.Register(w, func(ctx context.Context) (audit.Report, error) {
		return audit.RunAt(ctx, cfg.dataDir, cfg.dsns, temporal, audit.Options{StuckAfter: cfg.audit.stuckAfter})
	})
	return nil, nil
}

// ensureAuditSchedule makes sure the audit's schedule exists at the
// configured interval. A new schedule runs at once, so it is made only
// once the audit's worker polls: its first run never waits on a queue
// without a poller, which the Temporal server counts (no_poller_tasks) and
// the ServiceNoPoller alert would report on every fresh start.
func ensureAuditSchedule(ctx context.Context, cfg serviceConfig) error {
	return continuousaudit.EnsureSchedule(ctx, cfg.temporal, cfg.audit.every)
}

// registerOrderService registers the order workflow and, beside it, the
// register of order IDs whose activity the workflow runs as a local
// activity, in this same worker, before it touches anything else.
func registerOrderService(ctx context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error) {
	store, err := orders.Register(ctx, w, cfg.dataDir, cfg.dsns.Orders, cfg.requireEncryption, cfg.dsns.Conn.Options()...)
	if err != nil {
		return nil, err
	}
	workflows.Register(w, cfg.order)
	return store, nil
}

// baselineService hosts the baseline workflow and its activities, for
// `worker run --benchmark-baseline`. It is no service of the saga, so
// --services does not know it.
var baselineService = service{name: "baseline", taskQueue: baseline.TaskQueue,
	register: func(_ context.Context, w worker.Registry, _ serviceConfig) (io.Closer, error) {
		baseline.Register(w)
		return nil, nil
	}}

// closer returns a store as an io.Closer, and nil (not a nil *Store in an
// interface) when opening it failed.
func closer[S io.Closer](store S, err error) (io.Closer, error) {
	if err != nil {
		return nil, err
	}
	return store, nil
}

// serviceNames are the names of every service, in start order.
func serviceNames() []string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.name
	}
	return names
}

// defaultServices are the services a worker hosts unless --services says
// otherwise: the saga's four, not the optional audit.
func defaultServices() []string {
	var names []string
	for _, s := range services {
		if !s.optional {
			names = append(names, s.name)
		}
	}
	return names
}

// selectServices resolves --services to the services to host, in start
// order, refusing unknown names and an empty selection.
func selectServices(names []string) ([]service, error) {
	var picked []service
	for _, n := range names {
		n = strings.TrimSpace(strings.ToLower(n))
		i := slices.IndexFunc(services, func(s service) bool { return s.name == n })
		if i < 0 {
			return nil, fmt.Errorf("--services: unknown service %q; choose from %s", n, strings.Join(serviceNames(), ","))
		}
		if !slices.ContainsFunc(picked, func(s service) bool { return s.name == n }) {
			picked = append(picked, services[i])
		}
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("--services is empty; choose from %s", strings.Join(serviceNames(), ","))
	}
	slices.SortFunc(picked, func(a, b service) int {
		return slices.Index(serviceNames(), a.name) - slices.Index(serviceNames(), b.name)
	})
	return picked, nil
}
