package inventory

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// DatabaseFile is the inventory store's SQLite file name inside the data
// directory, used when the service has no PostgreSQL DSN.
const DatabaseFile = "inventory.db"

// catalogJSON is the catalog that a new inventory store starts with: a few
// SKUs with ample stock and LAMP-LIMITED with only 3 units, so that an
// out-of-stock order is easy to produce.
//
//go:embed catalog.json
var catalogJSON []byte

// placementSQLite and placementPostgres are the schema's migration 2, the
// one every store of records by key runs on its table.
var placementSQLite, placementPostgres = storedb.PlacementMigration("reservations")

// schema is the inventory store's tables, migration by migration, in each
// dialect. The PostgreSQL lines table has an identity column named rowid, as
// SQLite's implicit one, so that one query reads a reservation's lines in
// the order they were reserved.
//
// Migration 2 (storedb.PlacementMigration) gives every reservation the
// placement that wrote it and the workflow ID of its key, indexed in byte
// order for ReservationsByPlacement.
var schema = storedb.Schema{
	Name: "inventory",
	SQLite: []string{`
CREATE TABLE products (
	sku              TEXT PRIMARY KEY,
	name             TEXT NOT NULL,
	unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
	on_hand          INTEGER NOT NULL CHECK (on_hand >= 0),
	received         INTEGER NOT NULL
);
CREATE TABLE reservations (
	key         TEXT PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	order_id    TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('reserved', 'released', 'voided')),
	total_cents INTEGER NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE INDEX reservations_order ON reservations (order_id);
CREATE TABLE reservation_lines (
	reservation_key  TEXT NOT NULL REFERENCES reservations (key),
	sku              TEXT NOT NULL,
	name             TEXT NOT NULL,
	qty              INTEGER NOT NULL CHECK (qty > 0),
	unit_price_cents INTEGER NOT NULL,
	PRIMARY KEY (reservation_key, sku)
);`,
		placementSQLite,
	},
	Postgres: []string{`
CREATE TABLE products (
	sku              TEXT PRIMARY KEY,
	name             TEXT NOT NULL,
	unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
	on_hand          INTEGER NOT NULL CHECK (on_hand >= 0),
	received         INTEGER NOT NULL
);
CREATE TABLE reservations (
	key         TEXT PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	order_id    TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('reserved', 'released', 'voided')),
	total_cents BIGINT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE INDEX reservations_order ON reservations (order_id);
CREATE TABLE reservation_lines (
	rowid            BIGINT GENERATED ALWAYS AS IDENTITY,
	reservation_key  TEXT NOT NULL REFERENCES reservations (key),
	sku              TEXT NOT NULL,
	name             TEXT NOT NULL,
	qty              INTEGER NOT NULL CHECK (qty > 0),
	unit_price_cents BIGINT NOT NULL,
	PRIMARY KEY (reservation_key, sku)
);`,
		placementPostgres,
	},
}

// Store is the inventory service's own database. Every method that changes
// it is one transaction, and every mutation is idempotent by key.
type Store struct {
	db *storedb.DB
}

// Open opens the inventory store at source — a SQLite file path or a
// PostgreSQL DSN (see storedb.Source) — creating it and seeding the catalog
// on first use.
// opts tune how (storedb.WithSynchronous, storedb.WithMaxConns).
func Open(ctx context.Context, source string, opts ...storedb.Option) (*Store, error) {
	db, err := storedb.Open(ctx, source, schema, opts...)
	if err != nil {
		return nil, fmt.Errorf("inventory store: %w", err)
	}
	s := &Store{db: db}
	if err := s.seed(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("inventory store: seed catalog: %w", err)
	}
	return s, nil
}

// OpenReadOnly opens the existing inventory store at source for reading only,
// for the audit: it creates, migrates and seeds nothing, and refuses a
// store that is not there or not at this binary's schema version.
func OpenReadOnly(ctx context.Context, source string) (*Store, error) {
	db, err := storedb.OpenReadOnly(ctx, source, schema)
	if err != nil {
		return nil, fmt.Errorf("inventory store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

type catalogEntry struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	Stock          int    `json:"stock"`
}

// seed adds the shipped catalog's SKUs that the store does not have yet,
// with their initial stock; SKUs it has keep their stock and price. It runs
// in one transaction, and a SKU already there is left alone (ON CONFLICT DO
// NOTHING), so two processes starting on a new store at once seed each SKU
// once, and a SKU added to catalog.json reaches existing stores.
func (s *Store) seed(ctx context.Context) error {
	var catalog []catalogEntry
	if err := json.Unmarshal(catalogJSON, &catalog); err != nil {
		return fmt.Errorf("parse catalog.json: %w", err)
	}
	return s.db.InTx(ctx, func(tx *storedb.Tx) error {
		for _, p := range catalog {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO products (sku, name, unit_price_cents, on_hand, received) VALUES (?, ?, ?, ?, ?)
				 ON CONFLICT (sku) DO NOTHING`,
				p.SKU, p.Name, p.UnitPriceCents, p.Stock, p.Stock); err != nil {
				return fmt.Errorf("insert %s: %w", p.SKU, err)
			}
		}
		return nil
	})
}

// Reserve takes the items out of stock on hand and prices them, all or
// nothing. Called again with the same key by the same placement, it returns
// the first reservation and changes nothing; with the same key but other
// items, it fails with ErrKeyConflict.
//
// A key that another placement recorded is refused with ErrKeyConflict,
// and so is a key recorded before placements (placement "") asked for by a
// request with a placement, or the reverse: the key names an earlier order
// that had the same order ID, and its reservation is not this order's to
// return.
func (s *Store) Reserve(ctx context.Context, req ReserveRequest) (Reservation, error) {
	if err := req.validate(); err != nil {
		return Reservation{}, fmt.Errorf("reserve %s: %w", req.Key, err)
	}
	var res Reservation
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		existing, found, err := storedb.LockedRead(ctx, tx, lockKey(req.Key), reservationByKey, req.Key)
		if err != nil {
			return err
		}
		if found {
			res = existing.Reservation
			return checkSameReservation(existing, req)
		}
		res, err = reserve(ctx, tx, req)
		return err
	}, storedb.Step(reserveStep, req.Key))
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve %s: %w", req.Key, err)
	}
	return res, nil
}

func reserve(ctx context.Context, tx *storedb.Tx, req ReserveRequest) (Reservation, error) {
	res := Reservation{ID: reservationID(req.Key), Key: req.Key, OrderID: req.OrderID, Placement: req.Placement, Status: Reserved}
	// Stock is taken SKU by SKU in SKU order, so that two reservations
	// sharing SKUs lock their rows in the same order and never deadlock.
	lines := make(map[string]Line, len(req.Items))
	for _, item := range slices.SortedFunc(slices.Values(req.Items), func(a, b Item) int { return strings.Compare(a.SKU, b.SKU) }) {
		line, err := take(ctx, tx, item)
		if err != nil {
			return Reservation{}, err
		}
		lines[item.SKU] = line
	}
	for _, item := range req.Items {
		res.Lines = append(res.Lines, lines[item.SKU])
		res.TotalCents += lines[item.SKU].AmountCents()
	}
	if err := recordReservation(ctx, tx, res); err != nil {
		return Reservation{}, err
	}
	return res, nil
}

// take takes item.Qty units of item.SKU out of stock on hand and prices
// them. The stock is decremented by one conditional UPDATE, so that
// concurrent reservations of one SKU can never take more than is on hand.
func take(ctx context.Context, tx *storedb.Tx, item Item) (Line, error) {
	line := Line{SKU: item.SKU, Qty: item.Qty}
	r, err := tx.ExecContext(ctx, `UPDATE products SET on_hand = on_hand - ? WHERE sku = ? AND on_hand >= ?`, item.Qty, item.SKU, item.Qty)
	if err != nil {
		return Line{}, fmt.Errorf("take %s: %w", item.SKU, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return Line{}, fmt.Errorf("take %s: %w", item.SKU, err)
	}
	var onHand int
	err = tx.QueryRowContext(ctx, `SELECT name, unit_price_cents, on_hand FROM products WHERE sku = ?`, item.SKU).
		Scan(&line.Name, &line.UnitPriceCents, &onHand)
	if errors.Is(err, sql.ErrNoRows) {
		return Line{}, fmt.Errorf("%w: %s", ErrUnknownSKU, item.SKU)
	}
	if err != nil {
		return Line{}, fmt.Errorf("read %s: %w", item.SKU, err)
	}
	if n == 0 {
		return Line{}, fmt.Errorf("%w: %s has %d on hand, order needs %d", ErrOutOfStock, item.SKU, onHand, item.Qty)
	}
	return line, nil
}

// recordReservation writes res and its lines, with the workflow ID of its
// key, which the audit's stream is ordered by.
func recordReservation(ctx context.Context, tx *storedb.Tx, res Reservation) error {
	now := storedb.Timestamp()
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO reservations (key, id, order_id, placement, workflow_id, status, total_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		res.Key, res.ID, res.OrderID, res.Placement, storedb.KeyWorkflowID(res.Key), res.Status, res.TotalCents, now, now); err != nil {
		return fmt.Errorf("record reservation: %w", err)
	}
	for _, l := range res.Lines {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO reservation_lines (reservation_key, sku, name, qty, unit_price_cents) VALUES (?, ?, ?, ?, ?)`,
			res.Key, l.SKU, l.Name, l.Qty, l.UnitPriceCents); err != nil {
			return fmt.Errorf("record line %s: %w", l.SKU, err)
		}
	}
	return nil
}

// checkSameReservation decides what a repeated Reserve returns: the first
// result if the same placement asked for the same items and the key still
// holds them, an error if the key is another placement's, was released (or
// voided), or was reused for something else.
func checkSameReservation(existing reservationRecord, req ReserveRequest) error {
	if err := checkPlacement(existing, req.Key, req.Placement); err != nil {
		return err
	}
	if existing.Status != Reserved {
		return fmt.Errorf("%w (status %s)", ErrKeyVoided, existing.Status)
	}
	if existing.OrderID != req.OrderID || !sameItems(existing.Lines, req.Items) {
		return fmt.Errorf("%w: %s first reserved %s for order %q", ErrKeyConflict, req.Key, describeLines(existing.Lines), existing.OrderID)
	}
	return nil
}

// checkPlacement refuses a request of any placement but the one that
// recorded the key (storedb.CheckPlacement), so that a reused order ID
// never returns, changes or undoes another placement's reservation.
func checkPlacement(rec reservationRecord, key, placement string) error {
	return storedb.CheckPlacement(ErrKeyConflict, key, rec.OrderID, rec.Placement, placement, rec.recordedAt)
}

func sameItems(lines []Line, items []Item) bool {
	if len(lines) != len(items) {
		return false
	}
	for _, item := range items {
		i := slices.IndexFunc(lines, func(l Line) bool { return l.SKU == item.SKU })
		if i < 0 || lines[i].Qty != item.Qty {
			return false
		}
	}
	return true
}

func describeLines(lines []Line) string {
	s := ""
	for i, l := range lines {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s:%d", l.SKU, l.Qty)
	}
	return "[" + s + "]"
}

// Release puts the stock reserved with key back on hand. It is safe to call
// any number of times and for a key that never reserved anything: then it
// records the key as voided for the request's placement, so that a reserve
// still in flight with that key cannot take stock after its order gave up
// on it.
//
// A key that another placement recorded is refused with ErrKeyConflict and
// left as it is: it holds an earlier order's stock (or void), and only that
// order may give it back.
func (s *Store) Release(ctx context.Context, req ReleaseRequest) (ReleaseResult, error) {
	result := ReleaseResult{Key: req.Key}
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		res, found, err := storedb.LockedRead(ctx, tx, lockKey(req.Key), reservationByKey, req.Key)
		if err != nil {
			return err
		}
		if !found {
			result.Status = Voided
			return recordReservation(ctx, tx, Reservation{ID: reservationID(req.Key), Key: req.Key, OrderID: req.OrderID, Placement: req.Placement, Status: Voided})
		}
		if err := checkPlacement(res, req.Key, req.Placement); err != nil {
			return err
		}
		if res.Status != Reserved {
			result.Status = res.Status
			return nil
		}
		result.Status = Released
		result.UnitsReturned, err = release(ctx, tx, res.Reservation)
		return err
	}, storedb.Step(releaseStep, req.Key))
	if err != nil {
		return ReleaseResult{}, fmt.Errorf("release %s: %w", req.Key, err)
	}
	return result, nil
}

// release puts the lines of res back on hand and marks it released; it
// returns how many units went back.
func release(ctx context.Context, tx *storedb.Tx, res Reservation) (int, error) {
	units := 0
	// In SKU order, as reserve takes them, so that the row locks of
	// concurrent reservations never deadlock.
	for _, l := range slices.SortedFunc(slices.Values(res.Lines), func(a, b Line) int { return strings.Compare(a.SKU, b.SKU) }) {
		if _, err := tx.ExecContext(ctx, `UPDATE products SET on_hand = on_hand + ? WHERE sku = ?`, l.Qty, l.SKU); err != nil {
			return 0, fmt.Errorf("return %s: %w", l.SKU, err)
		}
		units += l.Qty
	}
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET status = ?, updated_at = ? WHERE key = ?`, Released, storedb.Timestamp(), res.Key); err != nil {
		return 0, fmt.Errorf("mark released: %w", err)
	}
	return units, nil
}

// Reservation returns the reservation recorded under key, whichever
// placement recorded it.
func (s *Store) Reservation(ctx context.Context, key string) (Reservation, bool, error) {
	r, found, err := reservationByKey(ctx, s.db, key)
	return r.Reservation, found, err
}

// Reservations lists every reservation with its lines, oldest first, for
// the audit. It is one query, so the list is one consistent snapshot.
func (s *Store) Reservations(ctx context.Context) ([]Reservation, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT r.key, r.id, r.order_id, r.placement, r.status, r.total_cents, l.sku, l.name, l.qty, l.unit_price_cents
		FROM reservations r LEFT JOIN reservation_lines l ON l.reservation_key = r.key
		ORDER BY r.created_at, r.key, l.rowid`)
	if err != nil {
		return nil, fmt.Errorf("list reservations: %w", err)
	}
	defer rows.Close()
	var out []Reservation
	for rows.Next() {
		var r Reservation
		var sku, name sql.NullString
		var qty, price sql.NullInt64
		if err := rows.Scan(&r.Key, &r.ID, &r.OrderID, &r.Placement, &r.Status, &r.TotalCents, &sku, &name, &qty, &price); err != nil {
			return nil, fmt.Errorf("list reservations: %w", err)
		}
		// A reservation's rows come together, one per line, or one
		// without a line for a reservation that has none (a void).
		if len(out) == 0 || out[len(out)-1].Key != r.Key {
			out = append(out, r)
		}
		if sku.Valid {
			last := &out[len(out)-1]
			last.Lines = append(last.Lines, Line{SKU: sku.String, Name: name.String, Qty: int(qty.Int64), UnitPriceCents: price.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list reservations: %w", err)
	}
	return out, nil
}

// ReservationsByPlacement streams every reservation, without its lines, in
// the order of storedb.StreamByPlacement, legacy reservations (placement "")
// first. The audit merges this stream with the payment and shipping stores'
// streams, which come in the same order, to check each placement's records
// together while it holds only the current one of each store.
//
// It is one query, read row by row as the loop asks for them, on one
// connection that it holds until the loop ends; the rows are one
// consistent snapshot. An error ends the stream.
func (s *Store) ReservationsByPlacement(ctx context.Context) iter.Seq2[Reservation, error] {
	columns := `key, id, order_id, placement, status, total_cents`
	return storedb.StreamByPlacement(ctx, s.db, "list reservations by placement", "reservations", columns, func(rows *sql.Rows) (Reservation, error) {
		var r Reservation
		err := rows.Scan(&r.Key, &r.ID, &r.OrderID, &r.Placement, &r.Status, &r.TotalCents)
		return r, err
	})
}

// Products lists the catalog with stock on hand and units reserved, by SKU.
func (s *Store) Products(ctx context.Context) ([]Product, error) {
	return storedb.Collect(ctx, s.db, "list products", `
		SELECT p.sku, p.name, p.unit_price_cents, p.on_hand, p.received,
		       COALESCE((SELECT sum(l.qty) FROM reservation_lines l JOIN reservations r ON r.key = l.reservation_key
		                 WHERE l.sku = p.sku AND r.status = 'reserved'), 0)
		FROM products p ORDER BY p.sku`, func(rows *sql.Rows) (Product, error) {
		var p Product
		err := rows.Scan(&p.SKU, &p.Name, &p.UnitPriceCents, &p.OnHand, &p.Received, &p.Reserved)
		return p, err
	})
}

// SetStock sets the stock on hand of sku to qty (a stock count, a delivery),
// and counts the difference as received so the stock invariant still holds.
func (s *Store) SetStock(ctx context.Context, sku string, qty int) (Product, error) {
	if qty < 0 {
		return Product{}, fmt.Errorf("set stock of %s: quantity %d is negative", sku, qty)
	}
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE products SET received = received + (? - on_hand), on_hand = ? WHERE sku = ?`, qty, qty, sku)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s", ErrUnknownSKU, sku)
		}
		return nil
	})
	if err != nil {
		return Product{}, fmt.Errorf("set stock of %s: %w", sku, err)
	}
	products, err := s.Products(ctx)
	if err != nil {
		return Product{}, err
	}
	i := slices.IndexFunc(products, func(p Product) bool { return p.SKU == sku })
	return products[i], nil
}

// reservationRecord is a reservation with when it was recorded, which a
// request of another placement is told.
type reservationRecord struct {
	Reservation
	recordedAt string
}

func reservationByKey(ctx context.Context, tx storedb.Querier, key string) (reservationRecord, bool, error) {
	r := reservationRecord{Reservation: Reservation{Key: key}}
	err := tx.QueryRowContext(ctx, `SELECT id, order_id, placement, status, total_cents, created_at FROM reservations WHERE key = ?`, key).
		Scan(&r.ID, &r.OrderID, &r.Placement, &r.Status, &r.TotalCents, &r.recordedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return reservationRecord{}, false, nil
	}
	if err != nil {
		return reservationRecord{}, false, fmt.Errorf("read reservation %s: %w", key, err)
	}
	r.Lines, err = storedb.Collect(ctx, tx, "read lines of "+key,
		`SELECT sku, name, qty, unit_price_cents FROM reservation_lines WHERE reservation_key = ? ORDER BY rowid`,
		func(rows *sql.Rows) (Line, error) {
			var l Line
			err := rows.Scan(&l.SKU, &l.Name, &l.Qty, &l.UnitPriceCents)
			return l, err
		}, key)
	if err != nil {
		return reservationRecord{}, false, err
	}
	return r, true, nil
}

// The steps that name the store's transactions on their spans: the
// activities that run them.
const (
	reserveStep = "ReserveStock"
	releaseStep = "ReleaseStock"
)

// lockKey is the key that the inventory's transactions on the reservation
// key lock, named apart from other stores' keys in a shared database.
func lockKey(key string) string { return "inventory/reservations/" + key }

// reservationID derives a stable, public ID from the idempotency key, so a
// retried reserve reports the same ID without a lookup table.
func reservationID(key string) string { return storedb.KeyID("rsv_", key) }
