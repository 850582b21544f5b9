package payment

import (
	"os"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// TestMain stops the PostgreSQL cluster that the store tests started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openOn opens a store on a new, empty database of backend b.
func openOn(t *testing.T, b pgtest.Backend) *Store {
	t.Helper()
	return openStoreAt(t, b.Source(t))
}
