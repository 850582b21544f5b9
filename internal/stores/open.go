package stores

import (
	"context"
	"io"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
)

// Stores are the three stores that the audit reads: the inventory,
// payment and shipping services' (not the order register).
type Stores struct {
	Inventory *inventory.Store
	Payment   *payment.Store
	Shipping  *shipping.Store
}

// Open opens the three stores that the audit reads (inventory, payment,
// shipping; not the order register) where dsns and dataDir put them, as
// dsns.Conn says, creating a SQLite store that is not there yet. Call the
// returned func to close them.
func Open(ctx context.Context, dataDir string, dsns DSNs) (Stores, func(), error) {
	src, err := dsns.Sources(dataDir)
	if err != nil {
		return Stores{}, nil, err
	}
	opts := dsns.Conn.Options()
	return openThree(ctx, src,
		func(ctx context.Context, s string) (*inventory.Store, error) { return inventory.Open(ctx, s, opts...) },
		func(ctx context.Context, s string) (*payment.Store, error) { return payment.Open(ctx, s, opts...) },
		func(ctx context.Context, s string) (*shipping.Store, error) { return shipping.Open(ctx, s, opts...) })
}

// OpenReadOnly opens the three stores for a reader that has no business
// changing them, the audit: each must exist at this binary's schema
// version, and is opened read-only. A mistyped --data-dir or a DSN of the
// wrong database is an error, never a new empty store that passes.
func OpenReadOnly(ctx context.Context, dataDir string, dsns DSNs) (Stores, func(), error) {
	src, err := dsns.Sources(dataDir)
	if err != nil {
		return Stores{}, nil, err
	}
	return openThree(ctx, src, inventory.OpenReadOnly, payment.OpenReadOnly, shipping.OpenReadOnly)
}

// openThree opens the three stores with the given functions; on an error
// it closes those already open.
func openThree(ctx context.Context, src Sources,
	openInventory func(context.Context, string) (*inventory.Store, error),
	openPayment func(context.Context, string) (*payment.Store, error),
	openShipping func(context.Context, string) (*shipping.Store, error),
) (Stores, func(), error) {
	var s Stores
	var opened []io.Closer // only the stores that did open: no nil *Store in an interface
	closeAll := func() {
		for _, c := range opened {
			c.Close()
		}
	}
	fail := func(err error) (Stores, func(), error) {
		closeAll()
		return Stores{}, nil, err
	}
	var err error
	if s.Inventory, err = openInventory(ctx, src.Inventory); err != nil {
		return fail(err)
	}
	opened = append(opened, s.Inventory)
	if s.Payment, err = openPayment(ctx, src.Payment); err != nil {
		return fail(err)
	}
	opened = append(opened, s.Payment)
	if s.Shipping, err = openShipping(ctx, src.Shipping); err != nil {
		return fail(err)
	}
	opened = append(opened, s.Shipping)
	return s, closeAll, nil
}
