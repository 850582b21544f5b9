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
		{"all in SQLite", DSNs{}, Sources{"d/inventory.db", "d/payment.db", "d/shipping.db"}, ""},
		{"payment in PostgreSQL", DSNs{Payment: pg}, Sources{"d/inventory.db", pg, "d/shipping.db"}, ""},
		{"not PostgreSQL", DSNs{Shipping: "mysql://db/x"}, Sources{}, "--shipping-dsn: not a PostgreSQL DSN"},
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

func TestRegisterReadsTheEnvironment(t *testing.T) {
	t.Setenv(DataDirEnv, "/var/lib/ordersaga")
	t.Setenv(InventoryDSNEnv, "postgres://u@db/inv")
	flags := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var dir string
	var dsns DSNs
	RegisterDataDir(flags, &dir)
	dsns.Register(flags)
	if err := flags.Parse([]string{"--shipping-dsn", "postgres://u@db/shp"}); err != nil {
		t.Fatal(err)
	}
	want := DSNs{Inventory: "postgres://u@db/inv", Shipping: "postgres://u@db/shp"}
	if dir != "/var/lib/ordersaga" || dsns != want {
		t.Errorf("data dir %q, DSNs %+v; want /var/lib/ordersaga, %+v", dir, dsns, want)
	}
}

// OpenExisting refuses a data directory without the stores, and creates
// nothing there; Open creates them, after which OpenExisting opens them.
func TestOpenExisting(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if _, _, err := OpenExisting(ctx, dir, DSNs{}); err == nil || err.Error() != "no store at "+filepath.Join(dir, "inventory.db") {
		t.Errorf("OpenExisting of a missing directory = %v, want no store at its inventory.db", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenExisting created %s: %v", dir, err)
	}
	_, closeStores, err := Open(ctx, dir, DSNs{})
	if err != nil {
		t.Fatal(err)
	}
	closeStores()
	st, closeStores, err := OpenExisting(ctx, dir, DSNs{})
	if err != nil || st.Inventory == nil || st.Payment == nil || st.Shipping == nil {
		t.Fatalf("OpenExisting after Open = %+v, %v; want the three stores", st, err)
	}
	closeStores()
}
