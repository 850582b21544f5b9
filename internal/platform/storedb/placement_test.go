package storedb

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

var errConflict = errors.New("idempotency key reused with a different request")

func TestCheckPlacement(t *testing.T) {
	const at = "2030-03-04T12:00:05.120000000Z"
	tests := []struct {
		name, owner, requester, want string
	}{
		{name: "the owner", owner: "p1", requester: "p1"},
		{name: "before placements, asked so", owner: "", requester: ""},
		{name: "another placement", owner: "p1", requester: "p2",
			want: `idempotency key reused with a different request: order-42/charge belongs to another placement of order "42" (placement p1, recorded 2030-03-04T12:00:05Z); order IDs cannot be reused`},
		{name: "a record from before placements", owner: "", requester: "p2",
			want: `idempotency key reused with a different request: order-42/charge belongs to another placement of order "42" (recorded before placements, at 2030-03-04T12:00:05Z); order IDs cannot be reused`},
		{name: "an order from before placements", owner: "p1", requester: "",
			want: `idempotency key reused with a different request: order-42/charge belongs to another placement of order "42" (placement p1, recorded 2030-03-04T12:00:05Z); order IDs cannot be reused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPlacement(errConflict, "order-42/charge", "42", tt.owner, tt.requester, at)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want || !errors.Is(err, errConflict)):
				t.Errorf("err = %v, want %q wrapping the conflict", err, tt.want)
			}
		})
	}
}

func TestByteOrder(t *testing.T) {
	if got := (&DB{dialect: SQLite}).ByteOrder("placement", "key"); got != "placement, key" {
		t.Errorf("SQLite: %q", got)
	}
	if got := (&DB{dialect: Postgres}).ByteOrder("placement", "key"); got != `placement COLLATE "C", key COLLATE "C"` {
		t.Errorf("PostgreSQL: %q", got)
	}
}

// TestPlacementMigrationBackfillsAsKeyWorkflowID runs the placement
// migration over records from before it: each gets the placement "" and the
// workflow ID that KeyWorkflowID cuts from its key, in either dialect.
func TestPlacementMigrationBackfillsAsKeyWorkflowID(t *testing.T) {
	keys := []string{"order-42/reserve", "a/b/ship", "no-step", "/reserve", "trailing/", ""}
	create := `CREATE TABLE records (key TEXT PRIMARY KEY);`
	insert := `INSERT INTO records (key) VALUES ('order-42/reserve'), ('a/b/ship'), ('no-step'), ('/reserve'), ('trailing/'), ('');`
	lite, pg := PlacementMigration("records")
	schema := Schema{Name: "records", SQLite: []string{create + insert, lite}, Postgres: []string{create + insert, pg}}
	pgtest.Run(t, "test.db", func(t *testing.T, backend pgtest.Backend) {
		db := openTestDB(t, backend.Source(t), schema)
		for _, key := range keys {
			var placement, workflowID string
			err := db.QueryRowContext(context.Background(), `SELECT placement, workflow_id FROM records WHERE key = ?`, key).Scan(&placement, &workflowID)
			if err != nil {
				t.Fatalf("read %q: %v", key, err)
			}
			if placement != "" || workflowID != KeyWorkflowID(key) {
				t.Errorf("key %q: placement %q, workflow ID %q; want \"\", %q", key, placement, workflowID, KeyWorkflowID(key))
			}
		}
	})
}

func TestCollect(t *testing.T) {
	pgtest.Run(t, "test.db", func(t *testing.T, backend pgtest.Backend) {
		ctx := context.Background()
		db := openTestDB(t, backend.Source(t), testSchema)
		if _, err := db.ExecContext(ctx, `INSERT INTO widgets (name) VALUES ('b'), ('c')`); err != nil {
			t.Fatal(err)
		}
		scanName := func(rows *sql.Rows) (string, error) {
			var name string
			err := rows.Scan(&name)
			return name, err
		}
		names, err := Collect(ctx, db, "list widgets", `SELECT name FROM widgets WHERE name <> ? ORDER BY name`, scanName, "c")
		if err != nil || !slices.Equal(names, []string{"b", "seeded by migration 1"}) {
			t.Errorf("Collect = %q, %v", names, err)
		}
		none, err := Collect(ctx, db, "list widgets", `SELECT name FROM widgets WHERE name = ?`, scanName, "none")
		if err != nil || none != nil {
			t.Errorf("Collect of no rows = %q, %v; want nil, nil", none, err)
		}
		failing := func(*sql.Rows) (string, error) { return "", errScan }
		if got, err := Collect(ctx, db, "list widgets", `SELECT name FROM widgets`, failing); got != nil || !errors.Is(err, errScan) || !strings.HasPrefix(err.Error(), "list widgets: ") {
			t.Errorf("Collect with a failing scan = %q, %v", got, err)
		}
		if _, err := Collect(ctx, db, "list widgets", `SELECT name FROM nowhere`, scanName); err == nil || !strings.HasPrefix(err.Error(), "list widgets: ") {
			t.Errorf("Collect of a bad query: %v", err)
		}
	})
}

var errScan = errors.New("cannot scan")
