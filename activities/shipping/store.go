package shipping

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// DatabaseFile is the shipping store's SQLite file name inside the data
// directory, used when the service has no PostgreSQL DSN.
const DatabaseFile = "shipping.db"

// placementSQLite and placementPostgres are the schema's migration 2, the
// one every store of records by key runs on its table.
var placementSQLite, placementPostgres = storedb.PlacementMigration("shipments")

// schema is the shipping store's tables, migration by migration, in each
// dialect.
//
// Migration 2 (storedb.PlacementMigration) gives every shipment the placement
// that wrote it and the workflow ID of its key, indexed in byte order for
// ShipmentsByPlacement.
var schema = storedb.Schema{
	Name:     "shipping",
	SQLite:   []string{shipmentsTable, placementSQLite},
	Postgres: []string{shipmentsTable, placementPostgres},
}

// shipmentsTable is migration 1, the same in both dialects: every column
// is TEXT.
const shipmentsTable = `
CREATE TABLE shipments (
	key             TEXT PRIMARY KEY,
	id              TEXT NOT NULL UNIQUE,
	order_id        TEXT NOT NULL,
	tracking_number TEXT NOT NULL,
	address         TEXT NOT NULL,
	items           TEXT NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('created', 'cancelled', 'voided')),
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
);
CREATE INDEX shipments_order ON shipments (order_id);`

// Store is the shipping service's own database. Every method that changes
// it is one transaction, and every mutation is idempotent by key.
type Store struct {
	db *storedb.DB
}

// Open opens the shipping store at source — a SQLite file path or a
// PostgreSQL DSN (see storedb.Source) — creating it on first use.
// opts tune how (storedb.WithSynchronous, storedb.WithMaxConns).
func Open(ctx context.Context, source string, opts ...storedb.Option) (*Store, error) {
	db, err := storedb.Open(ctx, source, schema, opts...)
	if err != nil {
		return nil, fmt.Errorf("shipping store: %w", err)
	}
	return &Store{db: db}, nil
}

// OpenReadOnly opens the existing shipping store at source for reading only,
// for the audit: it creates and migrates nothing, and refuses a
// store that is not there or not at this binary's schema version.
func OpenReadOnly(ctx context.Context, source string) (*Store, error) {
	db, err := storedb.OpenReadOnly(ctx, source, schema)
	if err != nil {
		return nil, fmt.Errorf("shipping store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ship books the shipment and returns it with its tracking number. Called
// again with the same key by the same placement it returns the first
// booking; with the same key but another address or other items it fails
// with ErrKeyConflict.
//
// A key that another placement recorded is refused with ErrKeyConflict,
// and so is a key recorded before placements (placement "") asked for by a
// request with a placement, or the reverse: the key names an earlier order
// that had the same order ID, and its booking is not this order's to
// return.
func (s *Store) Ship(ctx context.Context, req ShipRequest) (Shipment, error) {
	if err := req.validate(); err != nil {
		return Shipment{}, fmt.Errorf("ship %s: %w", req.Key, err)
	}
	var sh Shipment
	items := describeItems(req.Items)
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		existing, found, err := storedb.LockedRead(ctx, tx, lockKey(req.Key), shipmentByKey, req.Key)
		if err != nil {
			return err
		}
		if found {
			sh = existing.Shipment
			return checkSameShipment(existing, req, items)
		}
		sh = Shipment{ID: shipmentID(req.Key), Key: req.Key, OrderID: req.OrderID, Placement: req.Placement, TrackingNumber: trackingNumber(req.Key), Status: Created}
		return insertShipment(ctx, tx, sh, req.Address, items)
	}, storedb.Step(shipStep, req.Key))
	if err != nil {
		return Shipment{}, fmt.Errorf("ship %s: %w", req.Key, err)
	}
	return sh, nil
}

// checkSameShipment decides what a repeated Ship returns: the first booking
// if the same placement asked for the same parcel and it is still booked, an
// error if the key is another placement's, was cancelled (or voided), or was
// reused for something else.
func checkSameShipment(existing storedShipment, req ShipRequest, items string) error {
	if err := checkPlacement(existing, req.Key, req.Placement); err != nil {
		return err
	}
	if existing.Status != Created {
		return fmt.Errorf("%w (status %s)", ErrKeyVoided, existing.Status)
	}
	if existing.OrderID != req.OrderID || existing.address != req.Address || existing.items != items {
		return fmt.Errorf("%w: %s first shipped %s for order %q", ErrKeyConflict, req.Key, existing.items, existing.OrderID)
	}
	return nil
}

// checkPlacement refuses a request of any placement but the one that
// recorded the key (storedb.CheckPlacement), so that a reused order ID
// never returns, changes or undoes another placement's shipment.
func checkPlacement(rec storedShipment, key, placement string) error {
	return storedb.CheckPlacement(ErrKeyConflict, key, rec.OrderID, rec.Placement, placement, rec.recordedAt)
}

// insertShipment records sh, with the workflow ID of its key, which the
// audit's stream is ordered by.
func insertShipment(ctx context.Context, tx *storedb.Tx, sh Shipment, address, items string) error {
	now := storedb.Timestamp()
	_, err := tx.ExecContext(ctx,
		`INSERT INTO shipments (key, id, order_id, placement, workflow_id, tracking_number, address, items, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sh.Key, sh.ID, sh.OrderID, sh.Placement, storedb.KeyWorkflowID(sh.Key), sh.TrackingNumber, address, items, sh.Status, now, now)
	if err != nil {
		return fmt.Errorf("record shipment: %w", err)
	}
	return nil
}

// Cancel cancels a booked shipment. It is safe to call any number of times
// and for a key that never booked anything: then it records the key as
// voided for the request's placement, so that a booking still in flight
// with that key cannot ship a parcel after its order gave up on it.
//
// A key that another placement recorded is refused with ErrKeyConflict and
// left as it is: it holds an earlier order's booking (or void), and only
// that order may cancel it.
func (s *Store) Cancel(ctx context.Context, req CancelRequest) (CancelResult, error) {
	result := CancelResult{Key: req.Key}
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		sh, found, err := storedb.LockedRead(ctx, tx, lockKey(req.Key), shipmentByKey, req.Key)
		if err != nil {
			return err
		}
		if !found {
			result.Status = Voided
			return insertShipment(ctx, tx, Shipment{ID: shipmentID(req.Key), Key: req.Key, OrderID: req.OrderID, Placement: req.Placement, Status: Voided}, "", "")
		}
		if err := checkPlacement(sh, req.Key, req.Placement); err != nil {
			return err
		}
		if sh.Status != Created {
			result.Status = sh.Status
			return nil
		}
		result.Status = Cancelled
		if _, err := tx.ExecContext(ctx, `UPDATE shipments SET status = ?, updated_at = ? WHERE key = ?`, Cancelled, storedb.Timestamp(), req.Key); err != nil {
			return fmt.Errorf("mark cancelled: %w", err)
		}
		return nil
	}, storedb.Step(cancelStep, req.Key))
	if err != nil {
		return CancelResult{}, fmt.Errorf("cancel shipment %s: %w", req.Key, err)
	}
	return result, nil
}

// ShipmentByKey returns the shipment recorded under key, whichever
// placement recorded it.
func (s *Store) ShipmentByKey(ctx context.Context, key string) (Shipment, bool, error) {
	sh, found, err := shipmentByKey(ctx, s.db, key)
	return sh.Shipment, found, err
}

// Shipments lists every shipment, oldest first, for the audit.
func (s *Store) Shipments(ctx context.Context) ([]Shipment, error) {
	return storedb.Collect(ctx, s.db, "list shipments", `SELECT `+shipmentColumns+` FROM shipments ORDER BY created_at, key`, scanShipment)
}

// ShipmentsByPlacement streams every shipment in the order of
// storedb.StreamByPlacement, legacy shipments (placement "") first. The
// audit merges this stream with the inventory and payment stores' streams,
// which come in the same order, to check each placement's records together
// while it holds only the current one of each store.
//
// It is one query, read row by row as the loop asks for them, on one
// connection that it holds until the loop ends; the rows are one
// consistent snapshot. An error ends the stream.
func (s *Store) ShipmentsByPlacement(ctx context.Context) iter.Seq2[Shipment, error] {
	return storedb.StreamByPlacement(ctx, s.db, "list shipments by placement", "shipments", shipmentColumns, scanShipment)
}

// shipmentColumns are the columns of a Shipment, in the order scanShipment
// reads them, for the audit's lists.
const shipmentColumns = `key, id, order_id, placement, tracking_number, status`

func scanShipment(rows *sql.Rows) (Shipment, error) {
	var sh Shipment
	err := rows.Scan(&sh.Key, &sh.ID, &sh.OrderID, &sh.Placement, &sh.TrackingNumber, &sh.Status)
	return sh, err
}

// storedShipment is a shipment with the request it was booked for, to
// recognise a repeated request, and when it was recorded, which a request
// of another placement is told.
type storedShipment struct {
	Shipment
	address, items string
	recordedAt     string
}

func shipmentByKey(ctx context.Context, q storedb.Querier, key string) (storedShipment, bool, error) {
	sh := storedShipment{Shipment: Shipment{Key: key}}
	err := q.QueryRowContext(ctx, `SELECT id, order_id, placement, tracking_number, status, address, items, created_at FROM shipments WHERE key = ?`, key).
		Scan(&sh.ID, &sh.OrderID, &sh.Placement, &sh.TrackingNumber, &sh.Status, &sh.address, &sh.items, &sh.recordedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return storedShipment{}, false, nil
	}
	if err != nil {
		return storedShipment{}, false, fmt.Errorf("read shipment %s: %w", key, err)
	}
	return sh, true, nil
}

// describeItems is the parcel's content in a canonical form (sorted by SKU),
// stored with the shipment and compared on a repeated request.
func describeItems(items []Parcel) string {
	parts := make([]string, 0, len(items))
	for _, it := range items {
		parts = append(parts, fmt.Sprintf("%s:%d", it.SKU, it.Qty))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// The steps that name the store's transactions on their spans: the
// activities that run them.
const (
	shipStep   = "CreateShipment"
	cancelStep = "CancelShipment"
)

// lockKey is the key that the shipping store's transactions on an idempotency
// key lock, named apart from other stores' keys in a shared database.
func lockKey(key string) string { return "shipping/shipments/" + key }

// shipmentID derives a stable, public ID from the idempotency key.
func shipmentID(key string) string { return storedb.KeyID("shp_", key) }

// trackingNumber derives the carrier's tracking number from the key, so a
// retried booking reports the same number.
func trackingNumber(key string) string {
	sum := sha256.Sum256([]byte("tracking:" + key))
	return "TRK" + strings.ToUpper(hex.EncodeToString(sum[:6]))
}
