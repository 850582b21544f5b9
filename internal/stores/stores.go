// Package stores says where the services' stores are — each in
// PostgreSQL, or in SQLite in a data directory — for the commands that
// open them: the worker's run, stock and audit, and the starter's load
// audit. Both binaries get their flags from here: the worker all of them
// (Register), starter load those of the stores it audits (RegisterAudited).
// The audit reads the inventory, payment and shipping stores, which are
// opened here (Stores, OpenReadOnly); the order service's register of
// order IDs is only located here, for the worker's run.
//
// Environment variables read here, as the flags' defaults: ORDERSAGA_DATA_DIR
// (--data-dir), ORDERSAGA_ORDERS_DSN, ORDERSAGA_INVENTORY_DSN,
// ORDERSAGA_PAYMENT_DSN and ORDERSAGA_SHIPPING_DSN (--orders-dsn,
// --inventory-dsn, --payment-dsn, --shipping-dsn), and for the worker
// ORDERSAGA_SQLITE_SYNCHRONOUS and ORDERSAGA_DB_MAX_CONNS
// (--sqlite-synchronous, --db-max-conns).
//
// A DSN flag must not carry a password: a command line is readable by every
// user of the machine (ps, /proc/PID/cmdline) and by whoever reaches the
// worker's profiler. Such a DSN belongs in the environment variable, or its
// password in PGPASSWORD or a ~/.pgpass file, which the PostgreSQL driver
// reads.
package stores

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/platform/storedb"
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
	pf.StringVar(dir, "data-dir", cli.EnvOr(DataDirEnv, DefaultDataDir), "directory of the services' SQLite stores (env "+DataDirEnv+")")
}

// DSNs choose each service's database: a postgres:// or postgresql:// DSN
// puts its store in PostgreSQL, and an empty one keeps it in SQLite in
// --data-dir. Orders is the order service's register of order IDs. Conn is
// how the stores are opened for writing.
type DSNs struct {
	Orders, Inventory, Payment, Shipping string
	Conn                                 Conn
	// flags are where Register or RegisterAudited put the DSN flags, to
	// tell a DSN given on the command line from one in the environment.
	flags *pflag.FlagSet
}

// dsnVar adds the DSN flag of store to pf, with the value of env as its
// default. The help shows no default: the DSN in env may hold a password.
func dsnVar(pf *pflag.FlagSet, dsn *string, store, env string) {
	pf.StringVar(dsn, store+"-dsn", "", store+" store in PostgreSQL (postgres://user@host:5432/db), or empty for SQLite in --data-dir (env "+env+"). "+
		"No password here, where other users can read it: put a DSN with one in "+env+", or the password in PGPASSWORD or ~/.pgpass")
	*dsn = cli.EnvOr(env, "")
}

// Register adds all four DSN flags to pf, with their environment
// variables as defaults: --orders-dsn and those of RegisterAudited, and
// the flags of Conn. The worker takes them all.
func (d *DSNs) Register(pf *pflag.FlagSet) {
	dsnVar(pf, &d.Orders, "orders", OrdersDSNEnv)
	d.RegisterAudited(pf)
	d.Conn.register(pf)
}

// RegisterAudited adds only the DSN flags of the stores the audit reads,
// --inventory-dsn, --payment-dsn and --shipping-dsn, with their
// environment variables as defaults: for a command that audits the stores
// and never opens the order register (starter load). Orders is left as it
// is, and OrdersDSNEnv is not read.
func (d *DSNs) RegisterAudited(pf *pflag.FlagSet) {
	d.flags = pf
	dsnVar(pf, &d.Inventory, "inventory", InventoryDSNEnv)
	dsnVar(pf, &d.Payment, "payment", PaymentDSNEnv)
	dsnVar(pf, &d.Shipping, "shipping", ShippingDSNEnv)
}

// Check refuses, before anything starts, a DSN that selects no database, a
// DSN flag given on the command line with a password in it, and a Conn
// setting out of range.
func (d DSNs) Check() error {
	if err := d.CheckSecrets(); err != nil {
		return err
	}
	if _, err := d.Sources(""); err != nil {
		return err
	}
	return d.Conn.check()
}

// CheckSecrets refuses a DSN flag given on the command line with a
// password in it, which every user of the machine can read there (ps,
// /proc): such a DSN belongs in its environment variable, or its password
// in PGPASSWORD or ~/.pgpass. A command checks it even for stores it will
// not open.
func (d DSNs) CheckSecrets() error {
	for _, f := range []struct{ name, env, dsn string }{
		{"orders", OrdersDSNEnv, d.Orders},
		{"inventory", InventoryDSNEnv, d.Inventory},
		{"payment", PaymentDSNEnv, d.Payment},
		{"shipping", ShippingDSNEnv, d.Shipping},
	} {
		if d.flags != nil && d.flags.Changed(f.name+"-dsn") && storedb.HasPassword(f.dsn) {
			return fmt.Errorf("--%s-dsn holds a password, which other users can read on the command line: give the DSN in %s instead, or leave the password out of it and put it in PGPASSWORD or ~/.pgpass", f.name, f.env)
		}
	}
	return nil
}

// Sources are where the services' stores are, as their Open functions
// take it: a PostgreSQL DSN or a SQLite file path.
type Sources struct {
	Orders, Inventory, Payment, Shipping string
}

// Sources resolves each service's DSN, or its SQLite file in dataDir, as
// the services' Register functions do (storedb.Source).
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
		src, err := storedb.Source(f.dsn, dataDir, f.file)
		if err != nil {
			return Sources{}, fmt.Errorf("--%s-dsn: %w", f.name, err)
		}
		*f.source = src
	}
	return s, nil
}
