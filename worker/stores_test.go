package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
	"github.com/ordersaga/ordersaga/internal/stores"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestBadStoreDSNIsRefusedBeforeAnythingStarts(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"run, inventory", []string{"run", "--inventory-dsn", "mysql://u@db/x"}, "--inventory-dsn: not a PostgreSQL DSN"},
		{"run, payment", []string{"run", "--payment-dsn", "/var/lib/payment.db"}, "--payment-dsn: not a PostgreSQL DSN"},
		{"run, shipping", []string{"--shipping-dsn", "postgres://db:notaport/x"}, "--shipping-dsn: invalid PostgreSQL DSN"},
		{"stock", []string{"stock", "list", "--inventory-dsn", "sqlite://x"}, "--inventory-dsn: not a PostgreSQL DSN"},
		{"audit", []string{"audit", "--payment-dsn", "x"}, "--payment-dsn: not a PostgreSQL DSN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"--data-dir", dir}, tt.args...)
			code, stdout, stderr := invoke(t, args...)
			wantOneLineError(t, args, code, stdout, stderr, tt.want)
			wantEmptyDir(t, dir)
		})
	}
}

func TestBadStoreDSNFromEnvironmentIsRefused(t *testing.T) {
	t.Setenv(stores.ShippingDSNEnv, "mongodb://db/x")
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "stock", "list"}
	code, stdout, stderr := invoke(t, args...)
	wantOneLineError(t, args, code, stdout, stderr, "--shipping-dsn: not a PostgreSQL DSN")
	wantEmptyDir(t, dir)
}

func TestStockOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	if code, _, stderr := invoke(t, "--data-dir", dir, "--inventory-dsn", dsn, "stock", "set", "LAMP-LIMITED", "7"); code != 0 {
		t.Fatalf("stock set: exit %d: %s", code, stderr)
	}
	t.Setenv(stores.InventoryDSNEnv, dsn)
	code, stdout, stderr := invoke(t, "--data-dir", dir, "stock", "list", "-o", "json")
	if code != 0 {
		t.Fatalf("stock list: exit %d: %s", code, stderr)
	}
	var products []inventory.Product
	if err := json.Unmarshal([]byte(stdout), &products); err != nil {
		t.Fatalf("stock list -o json: %v\n%s", err, stdout)
	}
	found := false
	for _, p := range products {
		if p.SKU == "LAMP-LIMITED" {
			found = true
			if p.OnHand != 7 || p.Received != 7 {
				t.Errorf("LAMP-LIMITED = %+v, want 7 on hand and received", p)
			}
		}
	}
	if !found {
		t.Errorf("stock list on PostgreSQL has no LAMP-LIMITED: %s", stdout)
	}
	wantEmptyDir(t, dir)
}
