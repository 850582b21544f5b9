package payment

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
// rows into it as the code before placements did — "order-42/charge"
// captured for 5000 cents, and voids of "a/b/charge" and of a key without a
// step — and then opens it with this code, which migrates it.
func openLegacyStore(t *testing.T, source string) *Store {
	t.Helper()
	ctx := context.Background()
	old, err := storedb.Open(ctx, source, storedb.Schema{Name: schema.Name, SQLite: schema.SQLite[:1], Postgres: schema.Postgres[:1]})
	if err != nil {
		t.Fatalf("open with migration 1: %v", err)
	}
	at := storedb.FormatTime(legacyRecordedAt)
	for _, c := range []Charge{
		{Key: "order-42/charge", OrderID: "42", AmountCents: 5000, Status: Captured},
		{Key: "a/b/charge", OrderID: "a/b", Status: Voided},
		{Key: "no-step", OrderID: "x", Status: Voided},
		{Key: "x/y/other", OrderID: "x", Status: Voided},
	} {
		if _, err := old.ExecContext(ctx,
			`INSERT INTO charges (key, id, order_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.Key, chargeID(c.Key), c.OrderID, c.AmountCents, c.Status, at, at); err != nil {
			t.Fatalf("insert %s: %v", c.Key, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	return openStoreAt(t, source)
}

func TestMigrationGivesOldChargesNoPlacementAndTheirWorkflowID(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openLegacyStore(t, backend.Source(t))
		rows, err := s.db.QueryContext(context.Background(), `SELECT key, placement, workflow_id FROM charges`)
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
			"order-42/charge": {"", "order-42"},
			"a/b/charge":      {"", "a/b"},
			"no-step":         {"", "no-step"},
			"x/y/other":       {"", "x/y"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("(placement, workflow ID) by key = %v, want %v", got, want)
		}
		assertPlacementIndex(t, s)
	})
}

// assertPlacementIndex checks that the index that ChargesByPlacement reads
// in order is there, in byte order in PostgreSQL.
func assertPlacementIndex(t *testing.T, s *Store) {
	t.Helper()
	query, want := `SELECT sql FROM sqlite_master WHERE name = ?`, `(placement, workflow_id, key)`
	if s.db.Dialect() == storedb.Postgres {
		query, want = `SELECT indexdef FROM pg_indexes WHERE indexname = ?`, `(placement COLLATE "C", workflow_id COLLATE "C", key COLLATE "C")`
	}
	var def string
	if err := s.db.QueryRowContext(context.Background(), query, "charges_placement").Scan(&def); err != nil {
		t.Fatalf("read index charges_placement: %v", err)
	}
	if !strings.Contains(def, want) {
		t.Errorf("index charges_placement = %s, want it on %s", def, want)
	}
}

func TestMigratedChargeServesLegacyRequestsOnly(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openLegacyStore(t, backend.Source(t))
		ctx := context.Background()
		const key = "order-42/charge"
		charge := ChargeRequest{Key: key, OrderID: "42", AmountCents: 5000, Token: TokenVisa}
		first, _ := storedCharge(t, s, key)

		placed := charge
		placed.Placement, placed.Token = "p1", TokenFlaky // the gateway is not asked
		_, chargeErr := s.Charge(ctx, placed, 1)
		_, refundErr := s.Refund(ctx, RefundRequest{Key: key, OrderID: "42", Placement: "p1"})
		for _, err := range []error{chargeErr, refundErr} {
			if !errors.Is(err, ErrKeyConflict) || !strings.Contains(err.Error(), `of order "42" (recorded before placements, at 2025-03-01T12:00:05Z)`) {
				t.Errorf("placed request: err = %v, want ErrKeyConflict telling the record is from before placements", err)
			}
		}
		if stored, _ := storedCharge(t, s, key); stored != first {
			t.Errorf("stored charge = %+v, want the legacy one %+v", stored, first)
		}

		if again := mustCharge(t, s, charge, 2); again != first || again.Placement != "" {
			t.Errorf("legacy Charge = %+v, want the legacy charge %+v", again, first)
		}
		if res := mustRefund(t, s, key); res.Status != Refunded || res.AmountCents != 5000 {
			t.Errorf("legacy Refund = %+v, want refunded 5000", res)
		}
		assertLedger(t, s, ledger{rows: 4, byStatus: map[string]int{Refunded: 1, Voided: 3}})
	})
}
