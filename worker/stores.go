package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/storedb"
)

// Environment variables that hold the services' PostgreSQL DSNs, read as
// the defaults of --inventory-dsn, --payment-dsn and --shipping-dsn.
const (
	InventoryDSNEnv = "ORDERSAGA_INVENTORY_DSN"
	PaymentDSNEnv   = "ORDERSAGA_PAYMENT_DSN"
	ShippingDSNEnv  = "ORDERSAGA_SHIPPING_DSN"
)

// storeDSNs choose each service's database: a postgres:// or postgresql://
// DSN puts its store in PostgreSQL, and an empty one keeps it in SQLite in
// --data-dir. run, stock and audit all read them.
type storeDSNs struct {
	inventory, payment, shipping string
}

func (d *storeDSNs) register(pf *pflag.FlagSet) {
	pf.StringVar(&d.inventory, "inventory-dsn", envOr(InventoryDSNEnv, ""),
		"inventory store in PostgreSQL (postgres://user:pass@host:5432/db); empty: SQLite in --data-dir (env "+InventoryDSNEnv+")")
	pf.StringVar(&d.payment, "payment-dsn", envOr(PaymentDSNEnv, ""),
		"payment store in PostgreSQL (postgres://…); empty: SQLite in --data-dir (env "+PaymentDSNEnv+")")
	pf.StringVar(&d.shipping, "shipping-dsn", envOr(ShippingDSNEnv, ""),
		"shipping store in PostgreSQL (postgres://…); empty: SQLite in --data-dir (env "+ShippingDSNEnv+")")
}

// check refuses a DSN that selects no database, before anything starts.
func (d storeDSNs) check() error {
	_, err := d.sources("")
	return err
}

// storeSources are where the services' stores are, as their Open
// functions take it: a PostgreSQL DSN or a SQLite file path.
type storeSources struct {
	inventory, payment, shipping string
}

// sources resolves each service's DSN, or its SQLite file in dataDir.
func (d storeDSNs) sources(dataDir string) (storeSources, error) {
	var s storeSources
	for _, f := range []struct {
		name, dsn, file string
		source          *string
	}{
		{"inventory", d.inventory, inventory.DatabaseFile, &s.inventory},
		{"payment", d.payment, payment.DatabaseFile, &s.payment},
		{"shipping", d.shipping, shipping.DatabaseFile, &s.shipping},
	} {
		src, err := storedb.Source(f.dsn, filepath.Join(dataDir, f.file))
		if err != nil {
			return storeSources{}, fmt.Errorf("--%s-dsn: %w", f.name, err)
		}
		*f.source = src
	}
	return s, nil
}

// openInventoryStore opens the inventory store that the flags choose.
func (g *globals) openInventoryStore(ctx context.Context) (*inventory.Store, error) {
	src, err := g.dsns.sources(g.dataDir)
	if err != nil {
		return nil, err
	}
	return inventory.Open(ctx, src.inventory)
}
