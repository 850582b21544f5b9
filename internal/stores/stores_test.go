package stores

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestSources(t *testing.T) {
	pg := "postgres://u@db:5432/x"
	tests := []struct {
		name    string
		dsns    DSNs
		want    Sources
		wantErr string
	}{
		{"all in SQLite", DSNs{}, Sources{"d/orders.db", "d/inventory.db", "d/payment.db", "d/shipping.db"}, ""},
		{"payment in PostgreSQL", DSNs{Payment: pg}, Sources{"d/orders.db", "d/inventory.db", pg, "d/shipping.db"}, ""},
		{"orders in PostgreSQL", DSNs{Orders: pg}, Sources{pg, "d/inventory.db", "d/payment.db", "d/shipping.db"}, ""},
		{"not PostgreSQL", DSNs{Shipping: "mysql://db/x"}, Sources{}, "--shipping-dsn: not a PostgreSQL DSN"},
		{"orders not PostgreSQL", DSNs{Orders: "d/orders.db"}, Sources{}, "--orders-dsn: not a PostgreSQL DSN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.dsns.Sources("d")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || tt.dsns.Check() == nil {
					t.Errorf("Sources = %v, want an error containing %q, from Check too", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Sources = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// Register and RegisterAudited take their defaults from the environment;
// RegisterAudited offers no --orders-dsn and leaves Orders alone.
func TestRegisterReadsTheEnvironment(t *testing.T) {
	t.Setenv(DataDirEnv, "/var/lib/ordersaga")
	t.Setenv(InventoryDSNEnv, "postgres://u@db/inv")
	t.Setenv(OrdersDSNEnv, "postgres://u@db/ord")
	tests := []struct {
		name       string
		register   func(*DSNs, *pflag.FlagSet)
		want       DSNs
		wantOrders bool // --orders-dsn is a flag
	}{
		{"all four", (*DSNs).Register,
			DSNs{Orders: "postgres://u@db/ord", Inventory: "postgres://u@db/inv", Shipping: "postgres://u@db/shp"}, true},
		{"the audited three", (*DSNs).RegisterAudited,
			DSNs{Inventory: "postgres://u@db/inv", Shipping: "postgres://u@db/shp"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := pflag.NewFlagSet("t", pflag.ContinueOnError)
			var dir string
			var dsns DSNs
			RegisterDataDir(flags, &dir)
			tt.register(&dsns, flags)
			if err := flags.Parse([]string{"--shipping-dsn", "postgres://u@db/shp"}); err != nil {
				t.Fatal(err)
			}
			got := Sources{dsns.Orders, dsns.Inventory, dsns.Payment, dsns.Shipping}
			want := Sources{tt.want.Orders, tt.want.Inventory, tt.want.Payment, tt.want.Shipping}
			if dir != "/var/lib/ordersaga" || got != want {
				t.Errorf("data dir %q, DSNs %+v; want /var/lib/ordersaga, %+v", dir, got, want)
			}
			if got := flags.Lookup("orders-dsn") != nil; got != tt.wantOrders {
				t.Errorf("--orders-dsn registered = %v, want %v", got, tt.wantOrders)
			}
		})
	}
}

// OpenReadOnly refuses a data directory without the stores, and creates
// nothing there; Open creates them, after which OpenReadOnly opens them
// and they refuse writes.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	_, _, err := OpenReadOnly(ctx, dir, DSNs{})
	if err == nil || !strings.Contains(err.Error(), "no store at "+filepath.Join(dir, "inventory.db")) {
		t.Errorf("OpenReadOnly of a missing directory = %v, want no store at its inventory.db", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadOnly created %s: %v", dir, err)
	}
	_, closeStores, err := Open(ctx, dir, DSNs{})
	if err != nil {
		t.Fatal(err)
	}
	closeStores()
	// The audit reads the three service stores, not the order register: a
	// data directory without orders.db is complete for it.
	if _, err := os.Stat(filepath.Join(dir, "orders.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created the order register: %v", err)
	}
	st, closeStores, err := OpenReadOnly(ctx, dir, DSNs{})
	if err != nil || st.Inventory == nil || st.Payment == nil || st.Shipping == nil {
		t.Fatalf("OpenReadOnly after Open = %+v, %v; want the three stores", st, err)
	}
	defer closeStores()
	if _, err := st.Inventory.SetStock(ctx, "BOOK-GOPL", 1); err == nil {
		t.Error("a store opened read-only took a stock change")
	}
}
