package storedb

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestSource(t *testing.T) {
	if got, err := Source("", "/data", "inventory.db"); err != nil || got != filepath.Join("/data", "inventory.db") {
		t.Errorf("Source without DSN = %q, %v; want the SQLite file in the data directory", got, err)
	}
	if got, err := Source("postgres://db/x", "/data", "inventory.db"); err != nil || got != "postgres://db/x" {
		t.Errorf("Source with DSN = %q, %v; want the DSN", got, err)
	}
	if _, err := Source("mysql://db/x", "/data", "inventory.db"); err == nil {
		t.Error("Source with a non-PostgreSQL DSN: no error")
	}
}

// OpenAt hands the service's open the store's source, and names the
// service in the error of a DSN it cannot use, without opening anything.
func TestOpenAt(t *testing.T) {
	var opened []string
	open := func(_ context.Context, source string, opts ...Option) (string, error) {
		opened = append(opened, source)
		return "store at " + source, nil
	}
	got, err := OpenAt(context.Background(), "inventory", open, "", "/data", "inventory.db")
	if want := "store at " + filepath.Join("/data", "inventory.db"); err != nil || got != want {
		t.Errorf("OpenAt = %q, %v; want %q", got, err, want)
	}
	_, err = OpenAt(context.Background(), "inventory", open, "mysql://db/x", "/data", "inventory.db")
	if err == nil || !strings.HasPrefix(err.Error(), "inventory store: not a PostgreSQL DSN") {
		t.Errorf("OpenAt with a non-PostgreSQL DSN = %v, want an inventory store error", err)
	}
	if len(opened) != 1 {
		t.Errorf("opened %v, want only the SQLite store", opened)
	}
	failing := func(context.Context, string, ...Option) (string, error) { return "", errors.New("boom") }
	if _, err := OpenAt(context.Background(), "inventory", failing, "", "/data", "inventory.db"); err == nil || err.Error() != "boom" {
		t.Errorf("OpenAt = %v, want the open's own error", err)
	}
}
