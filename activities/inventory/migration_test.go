package inventory

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
// rows into it as the code before placements did — "order-42/reserve"
// holding 2 of the 3 LAMP-LIMITED, and voids of "a/b/reserve" and of a key
// without a step — and then opens it with this code, which migrates it.
func openLegacyStore(t *testing.T, source string) *Store {
	t.Helper()
	ctx := context.Background()
	old, err := storedb.Open(ctx, source, storedb.Schema{Name: schema.Name, SQLite: schema.SQLite[:1], Postgres: schema.Postgres[:1]})
	if err != nil {
		t.Fatalf("open with migration 1: %v", err)
	}
	at := storedb.FormatTime(legacyRecordedAt)
	inserts := [][]any{
		{`INSERT INTO products (sku, name, unit_price_cents, on_hand, received) VALUES (?, ?, ?, ?, ?)`,
			"LAMP-LIMITED", "Limited edition desk lamp", 8999, 1, 3},
		{`INSERT INTO reservations (key, id, order_id, status, total_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			"order-42/reserve", reservationID("order-42/reserve"), "42", Reserved, 2 * 8999, at, at},
		{`INSERT INTO reservation_lines (reservation_key, sku, name, qty, unit_price_cents) VALUES (?, ?, ?, ?, ?)`,
			"order-42/reserve", "LAMP-LIMITED", "Limited edition desk lamp", 2, 8999},
		{`INSERT INTO reservations (key, id, order_id, status, total_cents, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)`,
			"a/b/reserve", reservationID("a/b/reserve"), "a/b", Voided, at, at},
		{`INSERT INTO reservations (key, id, order_id, status, total_cents, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)`,
			"no-step", reservationID("no-step"), "x", Voided, at, at},
		{`INSERT INTO reservations (key, id, order_id, status, total_cents, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)`,
			"x/y/other", reservationID("x/y/other"), "x", Voided, at, at},
	}
	for _, ins := range inserts {
		if _, err := old.ExecContext(ctx, ins[0].(string), ins[1:]...); err != nil {
			t.Fatalf("%s: %v", ins[0], err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	return openStoreAt(t, source)
}

func TestMigrationGivesOldReservationsNoPlacementAndTheirWorkflowID(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openLegacyStore(t, backend.Source(t))
		rows, err := s.db.QueryContext(context.Background(), `SELECT key, placement, workflow_id FROM reservations`)
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
			"order-42/reserve": {"", "order-42"},
			"a/b/reserve":      {"", "a/b"},
			"no-step":          {"", "no-step"},
			"x/y/other":        {"", "x/y"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("(placement, workflow ID) by key = %v, want %v", got, want)
		}
		assertPlacementIndex(t, s)
	})
}

// assertPlacementIndex checks that the index that ReservationsByPlacement
// reads in order is there, in byte order in PostgreSQL.
func assertPlacementIndex(t *testing.T, s *Store) {
	t.Helper()
	query, want := `SELECT sql FROM sqlite_master WHERE name = ?`, `(placement, workflow_id, key)`
	if s.db.Dialect() == storedb.Postgres {
		query, want = `SELECT indexdef FROM pg_indexes WHERE indexname = ?`, `(placement COLLATE "C", workflow_id COLLATE "C", key COLLATE "C")`
	}
	var def string
	if err := s.db.QueryRowContext(context.Background(), query, "reservations_placement").Scan(&def); err != nil {
		t.Fatalf("read index reservations_placement: %v", err)
	}
	if !strings.Contains(def, want) {
		t.Errorf("index reservations_placement = %s, want it on %s", def, want)
	}
}

func TestMigratedReservationServesLegacyRequestsOnly(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openLegacyStore(t, backend.Source(t))
		ctx := context.Background()
		const key = "order-42/reserve"
		reserve := ReserveRequest{Key: key, OrderID: "42", Items: []Item{{SKU: "LAMP-LIMITED", Qty: 2}}}
		first, _ := storedReservation(t, s, key)
		before := products(t, s)

		placed := reserve
		placed.Placement = "p1"
		_, reserveErr := s.Reserve(ctx, placed)
		_, releaseErr := s.Release(ctx, ReleaseRequest{Key: key, OrderID: "42", Placement: "p1"})
		for _, err := range []error{reserveErr, releaseErr} {
			if !errors.Is(err, ErrKeyConflict) || !strings.Contains(err.Error(), `of order "42" (recorded before placements, at 2025-03-01T12:00:05Z)`) {
				t.Errorf("placed request: err = %v, want ErrKeyConflict telling the record is from before placements", err)
			}
		}
		assertStockUnchanged(t, s, before)
		if stored, _ := storedReservation(t, s, key); !reflect.DeepEqual(stored, first) {
			t.Errorf("stored reservation = %+v, want the legacy one %+v", stored, first)
		}

		if again := mustReserve(t, s, reserve); !reflect.DeepEqual(again, first) || again.Placement != "" {
			t.Errorf("legacy Reserve = %+v, want the legacy reservation %+v", again, first)
		}
		if res := mustRelease(t, s, key, "42"); res.Status != Released || res.UnitsReturned != 2 {
			t.Errorf("legacy Release = %+v, want released, 2 units", res)
		}
		if n := onHand(t, s, "LAMP-LIMITED"); n != 3 {
			t.Errorf("LAMP-LIMITED on hand = %d, want 3", n)
		}
	})
}
