// Package stores says where the three services' stores are — each in
// PostgreSQL, or in SQLite in a data directory — for the commands that
// open them: the worker's run, stock and audit, and the starter's load
// audit. Both binaries get the same flags from here.
//
// Environment variables read here, as the flags' defaults: ORDERSAGA_DATA_DIR
// (--data-dir), ORDERSAGA_INVENTORY_DSN, ORDERSAGA_PAYMENT_DSN and
// ORDERSAGA_SHIPPING_DSN (--inventory-dsn, --payment-dsn, --shipping-dsn).
package stores

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/activities/inventory"
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
// the defaults of --inventory-dsn, --payment-dsn and --shipping-dsn.
const (
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
// --data-dir.
type DSNs struct {
	Inventory, Payment, Shipping string
}

// Register adds --inventory-dsn, --payment-dsn and --shipping-dsn to pf,
// with their environment variables as defaults.
func (d *DSNs) Register(pf *pflag.FlagSet) {
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
	Inventory, Payment, Shipping string
}

// Sources resolves each service's DSN, or its SQLite file in dataDir.
func (d DSNs) Sources(dataDir string) (Sources, error) {
	var s Sources
	for _, f := range []struct {
		name, dsn, file string
		source          *string
	}{
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

// Open opens the three stores where dsns and dataDir put them, creating a
// SQLite store that is not there yet. Call the returned func to close
// them.
func Open(ctx context.Context, dataDir string, dsns DSNs) (audit.Stores, func(), error) {
	src, err := dsns.Sources(dataDir)
	if err != nil {
		return audit.Stores{}, nil, err
	}
	return open(ctx, src)
}

// OpenExisting is Open for a reader that has no business creating stores:
// a SQLite store whose file is missing is an error, not a new empty store.
func OpenExisting(ctx context.Context, dataDir string, dsns DSNs) (audit.Stores, func(), error) {
	src, err := dsns.Sources(dataDir)
	if err != nil {
		return audit.Stores{}, nil, err
	}
	for _, path := range []string{src.Inventory, src.Payment, src.Shipping} {
		if storedb.IsPostgres(path) {
			continue
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return audit.Stores{}, nil, fmt.Errorf("no store at %s", path)
		}
	}
	return open(ctx, src)
}

func open(ctx context.Context, src Sources) (audit.Stores, func(), error) {
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
	if s.Inventory, err = inventory.Open(ctx, src.Inventory); err != nil {
		return fail(err)
	}
	opened = append(opened, s.Inventory)
	if s.Payment, err = payment.Open(ctx, src.Payment); err != nil {
		return fail(err)
	}
	opened = append(opened, s.Payment)
	if s.Shipping, err = shipping.Open(ctx, src.Shipping); err != nil {
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
