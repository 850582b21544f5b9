package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/baseline"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// service is one deployable part of the saga: what it polls and how it
// registers itself. register returns what to close once its worker stopped.
type service struct {
	name      string
	taskQueue string
	register  func(ctx context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error)
}

// serviceConfig is what the services take from the worker's flags.
type serviceConfig struct {
	dataDir string      // the SQLite stores' directory
	dsns    stores.DSNs // the stores in PostgreSQL
	order   workflows.Config
}

// services are all the services a worker can host, in start order.
var services = []service{
	{name: "order", taskQueue: ordersaga.OrdersTaskQueue, register: func(_ context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error) {
		workflows.Register(w, cfg.order)
		return nil, nil
	}},
	{name: "inventory", taskQueue: ordersaga.InventoryTaskQueue, register: func(ctx context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error) {
		return closer(inventory.Register(ctx, w, cfg.dataDir, cfg.dsns.Inventory))
	}},
	{name: "payment", taskQueue: ordersaga.PaymentTaskQueue, register: func(ctx context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error) {
		return closer(payment.Register(ctx, w, cfg.dataDir, cfg.dsns.Payment))
	}},
	{name: "shipping", taskQueue: ordersaga.ShippingTaskQueue, register: func(ctx context.Context, w worker.Registry, cfg serviceConfig) (io.Closer, error) {
		return closer(shipping.Register(ctx, w, cfg.dataDir, cfg.dsns.Shipping))
	}},
}

// baselineService hosts the baseline workflow and its activities, for
// `worker run --benchmark-baseline`. It is no service of the saga, so
// --services does not know it.
var baselineService = service{name: "baseline", taskQueue: ordersaga.BaselineTaskQueue,
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

func serviceNames() []string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.name
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
