package shipping

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// legacyRecordedAt is when the rows that openLegacyStore writes were
// recorded.
var legacyRecordedAt = time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)

// openLegacyStore creates a store at source with migration 1 only, writes
// rows into it as the code before placements did — "order-42/ship" booked
// to testAddress, and voids of "a/b/ship" and of a key without a step —
// and then opens it with this code, which migrates it.
func openLegacyStore(t *testing.T, source string) *Store {
	t.Helper()
	ctx := context.Background()
	old, err := storedb.Open(ctx, source, storedb.Schema{Name: schema.Name, SQLite: schema.SQLite[:1], Postgres: schema.Postgres[:1]})
	if err != nil {
		t.Fatalf("open with migration 1: %v", err)
	}
	at := storedb.FormatTime(legacyRecordedAt)
	rows := []struct {
		sh             Shipment
		address, items string
	}{
		{Shipment{Key: "order-42/ship", OrderID: "42", TrackingNumber: trackingNumber("order-42/ship"), Status: Created}, testAddress, describeItems(defaultParcel)},
		{Shipment{Key: "a/b/ship", OrderID: "a/b", Status: Voided}, "", ""},
		{Shipment{Key: "no-step", OrderID: "x", Status: Voided}, "", ""},
		{Shipment{Key: "x/y/other", OrderID: "x", Status: Voided}, "", ""},
	}
	for _, r := range rows {
		if _, err := old.ExecContext(ctx,
			`INSERT INTO shipments (key, id, order_id, tracking_number, address, items, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.sh.Key, shipmentID(r.sh.Key), r.sh.OrderID, r.sh.TrackingNumber, r.address, r.items, r.sh.Status, at, at); err != nil {
			t.Fatalf("insert %s: %v", r.sh.Key, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	return openStoreAt(t, source)
}

func TestMigrationGivesOldShipmentsNoPlacementAndTheirWorkflowID(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openLegacyStore(t, backend.Source(t))
		rows, err := s.db.QueryContext(context.Background(), `SELECT key, placement, workflow_id FROM shipments`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string][2]string{}
		for rows.Next() {
			var key, placement, workflowID string
			if err := rows.Scan(&key, &placement, &workflowID); err != nil {
				t.Fatal(err)
			}
			got[key] = [2]string{placement, workflowID}
			if workflowID != storedb.KeyWorkflowID(key) {
				t.Errorf("%s: backfilled workflow ID %q, KeyWorkflowID gives %q", key, workflowID, storedb.KeyWorkflowID(key))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := map[string][2]string{
			"order-42/ship": {"", "order-42"},
			"a/b/ship":      {"", "a/b"},
			"no-step":       {"", "no-step"},
			"x/y/other":     {"", "x/y"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("(placement, workflow ID) by key = %v, want %v", got, want)
		}
		assertPlacementIndex(t, s)
	})
}

// assertPlacementIndex checks that the index that ShipmentsByPlacement
// reads in order is there, in byte order in PostgreSQL.
func assertPlacementIndex(t *testing.T, s *Store) {
	t.Helper()
	query, want := `SELECT sql FROM sqlite_master WHERE name = ?`, `(placement, workflow_id, key)`
	if s.db.Dialect() == storedb.Postgres {
		query, want = `SELECT indexdef FROM pg_indexes WHERE indexname = ?`, `(placement COLLATE "C", workflow_id COLLATE "C", key COLLATE "C")`
	}
	var def string
	if err := s.db.QueryRowContext(context.Background(), query, "shipments_placement").Scan(&def); err != nil {
		t.Fatalf("read index shipments_placement: %v", err)
	}
	if !strings.Contains(def, want) {
		t.Errorf("index shipments_placement = %s, want it on %s", def, want)
	}
}

func TestMigratedShipmentServesLegacyRequestsOnly(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openLegacyStore(t, backend.Source(t))
		ctx := context.Background()
		const key = "order-42/ship"
		ship := ShipRequest{Key: key, OrderID: "42", Address: testAddress, Items: defaultParcel}
		first, _ := storedShipmentOf(t, s, key)

		placed := ship
		placed.Placement = "p1"
		_, shipErr := s.Ship(ctx, placed)
		_, cancelErr := s.Cancel(ctx, CancelRequest{Key: key, OrderID: "42", Placement: "p1"})
		for _, err := range []error{shipErr, cancelErr} {
			if !errors.Is(err, ErrKeyConflict) || !strings.Contains(err.Error(), `of order "42" (recorded before placements, at 2025-03-01T12:00:05Z)`) {
				t.Errorf("placed request: err = %v, want ErrKeyConflict telling the record is from before placements", err)
			}
		}
		if stored, _ := storedShipmentOf(t, s, key); stored != first {
			t.Errorf("stored shipment = %+v, want the legacy one %+v", stored, first)
		}

		if again := mustShip(t, s, ship); again != first || again.Placement != "" {
			t.Errorf("legacy Ship = %+v, want the legacy shipment %+v", again, first)
		}
		if res, err := s.Cancel(ctx, CancelRequest{Key: key, OrderID: "42"}); err != nil || res.Status != Cancelled {
			t.Errorf("legacy Cancel = %+v, %v; want cancelled", res, err)
		}
		assertStatuses(t, s, map[string]int{Cancelled: 1, Voided: 3})
	})
}
