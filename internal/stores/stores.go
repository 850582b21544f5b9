// Package stores says where the services' stores are — each in
// PostgreSQL, or in SQLite in a data directory — for the commands that
// open them: the worker's run, stock and audit, and the starter's load
// audit. Both binaries get their flags from here: the worker all of them
// (Register), starter load those of the stores it audits (RegisterAudited).
// The audit reads the inventory, payment and shipping stores (Open); the
// order service's register of order IDs is only located here, for the
// worker's run.
//
// Environment variables read here, as the flags' defaults: ORDERSAGA_DATA_DIR
// (--data-dir), ORDERSAGA_ORDERS_DSN, ORDERSAGA_INVENTORY_DSN,
// ORDERSAGA_PAYMENT_DSN and ORDERSAGA_SHIPPING_DSN (--orders-dsn,
// --inventory-dsn, --payment-dsn, --shipping-dsn).
package stores

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/storedb"
)

// DataDirEnv holds --data-dir's default, the SQLite stores' directory.
const DataDirEnv = "ORDERSAGA_DATA_DIR"

// DefaultDataDir is --data-dir's default when DataDirEnv is not set.
const DefaultDataDir = ".data"

// Environment variables that hold the services' PostgreSQL DSNs, read as
// the defaults of --orders-dsn, --inventory-dsn, --payment-dsn and
// --shipping-dsn.
const (
	OrdersDSNEnv    = "ORDERSAGA_ORDERS_DSN"
	InventoryDSNEnv = "ORDERSAGA_INVENTORY_DSN"
	PaymentDSNEnv   = "ORDERSAGA_PAYMENT_DSN"
	ShippingDSNEnv  = "ORDERSAGA_SHIPPING_DSN"
)

// RegisterDataDir adds --data-dir to pf, with DataDirEnv, else
// DefaultDataDir, as its default.
func RegisterDataDir(pf *pflag.FlagSet, dir *string) {
	pf.StringVar(dir, "data-dir", envOr(DataDirEnv, DefaultDataDir), "directory of the services' SQLite stores (env "+DataDirEnv+")")
}

// DSNs choose each service's database: a postgres:// or postgresql:// DSN
// puts its store in PostgreSQL, and an empty one keeps it in SQLite in
// --data-dir. Orders is the order service's register of order IDs.
type DSNs struct {
	Orders, Inventory, Payment, Shipping string
}

// Register adds all four DSN flags to pf, with their environment
// variables as defaults: --orders-dsn and those of RegisterAudited. The
// worker takes them all.
func (d *DSNs) Register(pf *pflag.FlagSet) {
	pf.StringVar(&d.Orders, "orders-dsn", envOr(OrdersDSNEnv, ""),
		"orders store in PostgreSQL (postgres://…); empty: SQLite in --data-dir (env "+OrdersDSNEnv+")")
	d.RegisterAudited(pf)
}

// RegisterAudited adds only the DSN flags of the stores the audit reads,
// --inventory-dsn, --payment-dsn and --shipping-dsn, with their
// environment variables as defaults: for a command that audits the stores
// and never opens the order register (starter load). Orders is left as it
// is, and OrdersDSNEnv is not read.
func (d *DSNs) RegisterAudited(pf *pflag.FlagSet) {
	pf.StringVar(&d.Inventory, "inventory-dsn", envOr(InventoryDSNEnv, ""),
		"inventory store in PostgreSQL (postgres://user:pass@host:5432/db); empty: SQLite in --data-dir (env "+InventoryDSNEnv+")")
	pf.StringVar(&d.Payment, "payment-dsn", envOr(PaymentDSNEnv, ""),
		"payment store in PostgreSQL (postgres://…); empty: SQLite in --data-dir (env "+PaymentDSNEnv+")")
	pf.StringVar(&d.Shipping, "shipping-dsn", envOr(ShippingDSNEnv, ""),
		"shipping store in PostgreSQL (postgres://…); empty: SQLite in --data-dir (env "+ShippingDSNEnv+")")
}

// Check refuses a DSN that selects no database, before anything starts.
func (d DSNs) Check() error {
	_, err := d.Sources("")
	return err
}

// Sources are where the services' stores are, as their Open functions
// take it: a PostgreSQL DSN or a SQLite file path.
type Sources struct {
	Orders, Inventory, Payment, Shipping string
}

// Sources resolves each service's DSN, or its SQLite file in dataDir.
func (d DSNs) Sources(dataDir string) (Sources, error) {
	var s Sources
	for _, f := range []struct {
		name, dsn, file string
		source          *string
	}{
		{"orders", d.Orders, orders.DatabaseFile, &s.Orders},
		{"inventory", d.Inventory, inventory.DatabaseFile, &s.Inventory},
		{"payment", d.Payment, payment.DatabaseFile, &s.Payment},
		{"shipping", d.Shipping, shipping.DatabaseFile, &s.Shipping},
	} {
		src, err := storedb.Source(f.dsn, filepath.Join(dataDir, f.file))
		if err != nil {
			return Sources{}, fmt.Errorf("--%s-dsn: %w", f.name, err)
		}
		*f.source = src
	}
	return s, nil
}

// Open opens the three stores that the audit reads (inventory, payment,
// shipping; not the order register) where dsns and dataDir put them,
// creating a SQLite store that is not there yet. Call the returned func to
// close them.
func Open(ctx context.Context, dataDir string, dsns DSNs) (audit.Stores, func(), error) {
	src, err := dsns.Sources(dataDir)
	if err != nil {
		return audit.Stores{}, nil, err
	}
	return open(ctx, src)
}

// OpenReadOnly opens the three stores for a reader that has no business
// changing them, the audit: each must exist at this binary's schema
// version, and is opened read-only. A mistyped --data-dir or a DSN of the
// wrong database is an error, never a new empty store that passes.
func OpenReadOnly(ctx context.Context, dataDir string, dsns DSNs) (audit.Stores, func(), error) {
	src, err := dsns.Sources(dataDir)
	if err != nil {
		return audit.Stores{}, nil, err
	}
	return openThree(ctx, src, inventory.OpenReadOnly, payment.OpenReadOnly, shipping.OpenReadOnly)
}

// Audit runs one audit of the stores where dataDir and dsns put them,
// opened read-only, against temporal, for the scheduled audit. `worker
// audit` and `starter load` do the same two steps themselves (OpenReadOnly,
// then audit.Run), to tell a store that will not open from Temporal's
// errors.
func Audit(ctx context.Context, dataDir string, dsns DSNs, temporal audit.Temporal, opts audit.Options) (audit.Report, error) {
	st, closeStores, err := OpenReadOnly(ctx, dataDir, dsns)
	if err != nil {
		return audit.Report{}, err
	}
	defer closeStores()
	return audit.Run(ctx, st, temporal, opts)
}

func open(ctx context.Context, src Sources) (audit.Stores, func(), error) {
	return openThree(ctx, src, inventory.Open, payment.Open, shipping.Open)
}

// openThree opens the three stores with the given functions; on an error
// it closes those already open.
func openThree(ctx context.Context, src Sources,
	openInventory func(context.Context, string) (*inventory.Store, error),
	openPayment func(context.Context, string) (*payment.Store, error),
	openShipping func(context.Context, string) (*shipping.Store, error),
) (audit.Stores, func(), error) {
	var s audit.Stores
	var opened []io.Closer // only the stores that did open: no nil *Store in an interface
	closeAll := func() {
		for _, c := range opened {
			c.Close()
		}
	}
	fail := func(err error) (audit.Stores, func(), error) {
		closeAll()
		return audit.Stores{}, nil, err
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

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
