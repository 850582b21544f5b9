package payment

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga/internal/storedb"
)

// DatabaseFile is the payment store's SQLite file name inside the data
// directory, used when the service has no PostgreSQL DSN.
const DatabaseFile = "payment.db"

// schema is the payment store's tables, migration by migration, in each
// dialect.
var schema = storedb.Schema{
	Name: "payment",
	SQLite: []string{`
CREATE TABLE charges (
	key          TEXT PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	order_id     TEXT NOT NULL,
	amount_cents INTEGER NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('captured', 'declined', 'refunded', 'voided')),
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL
);
CREATE INDEX charges_order ON charges (order_id);`,
	},
	Postgres: []string{`
CREATE TABLE charges (
	key          TEXT PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	order_id     TEXT NOT NULL,
	amount_cents BIGINT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('captured', 'declined', 'refunded', 'voided')),
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL
);
CREATE INDEX charges_order ON charges (order_id);`,
	},
}

// Store is the payment service's own database. Every method that changes it
// is one transaction, and every mutation is idempotent by key.
type Store struct {
	db *storedb.DB
}

// Open opens the payment store at source — a SQLite file path or a
// PostgreSQL DSN (see storedb.Source) — creating it on first use.
func Open(ctx context.Context, source string) (*Store, error) {
	db, err := storedb.Open(ctx, source, schema)
	if err != nil {
		return nil, fmt.Errorf("payment store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Charge takes the money: it asks the gateway to approve the charge and
// records the outcome. Called again with the same key it returns the first
// outcome (the charge, or ErrDeclined) without asking the gateway again; with
// the same key but another amount or order it fails with ErrKeyConflict, and
// after the key was refunded (or voided) with ErrKeyVoided. attempt is the
// activity's attempt number, passed to the gateway (see TokenFlaky).
//
// The gateway is asked outside any transaction, so a slow gateway never
// holds the store's write lock. Two calls with one key at once may both ask
// it; the first to record wins, and the other returns that record, as a real
// gateway given the same idempotency key would capture once.
func (s *Store) Charge(ctx context.Context, req ChargeRequest, attempt int32) (Charge, error) {
	if err := req.validate(); err != nil {
		return Charge{}, fmt.Errorf("charge %s: %w", req.Key, err)
	}
	existing, found, err := chargeByKey(ctx, s.db, req.Key)
	if err != nil {
		return Charge{}, fmt.Errorf("charge %s: %w", req.Key, err)
	}
	if found {
		return repeatedCharge(existing, req)
	}
	verdict := authorize(ctx, req.Key, req.Token, attempt)
	if verdict != nil && !errors.Is(verdict, ErrDeclined) {
		return Charge{}, fmt.Errorf("charge %s: %w", req.Key, verdict) // transient: nothing recorded, retried
	}
	charge := Charge{ID: chargeID(req.Key), Key: req.Key, OrderID: req.OrderID, AmountCents: req.AmountCents, Status: Captured}
	if verdict != nil {
		charge.Status = Declined
	}
	recorded := false
	err = s.db.InTx(ctx, func(tx *storedb.Tx) error {
		if err := tx.LockKey(ctx, lockKey(req.Key)); err != nil {
			return err
		}
		other, found, err := chargeByKey(ctx, tx, req.Key)
		if err != nil || found {
			existing = other
			return err
		}
		recorded = true
		return insertCharge(ctx, tx, charge)
	})
	switch {
	case err != nil:
		return Charge{}, fmt.Errorf("charge %s: %w", req.Key, err)
	case !recorded:
		return repeatedCharge(existing, req)
	case verdict != nil:
		return Charge{}, fmt.Errorf("charge %s: %w", req.Key, verdict)
	}
	return charge, nil
}

// repeatedCharge is the answer to a charge whose key is already recorded.
func repeatedCharge(existing Charge, req ChargeRequest) (Charge, error) {
	switch {
	case existing.Status == Voided || existing.Status == Refunded:
		return Charge{}, fmt.Errorf("charge %s: %w (status %s)", req.Key, ErrKeyVoided, existing.Status)
	case existing.OrderID != req.OrderID || existing.AmountCents != req.AmountCents:
		return Charge{}, fmt.Errorf("charge %s: %w: first charged %d cents for order %q", req.Key, ErrKeyConflict, existing.AmountCents, existing.OrderID)
	case existing.Status == Declined:
		return Charge{}, fmt.Errorf("charge %s: %w (recorded for this key)", req.Key, ErrDeclined)
	}
	return existing, nil
}

func insertCharge(ctx context.Context, tx *storedb.Tx, c Charge) error {
	now := timestamp()
	_, err := tx.ExecContext(ctx,
		`INSERT INTO charges (key, id, order_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.Key, c.ID, c.OrderID, c.AmountCents, c.Status, now, now)
	if err != nil {
		return fmt.Errorf("record charge: %w", err)
	}
	return nil
}

// Refund gives back a captured charge. It is safe to call any number of
// times and for a key that never charged anything: then it records the key
// as voided, so that a charge still in flight with that key cannot take the
// customer's money after its order gave up on it.
func (s *Store) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	result := RefundResult{Key: req.Key}
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		if err := tx.LockKey(ctx, lockKey(req.Key)); err != nil {
			return err
		}
		c, found, err := chargeByKey(ctx, tx, req.Key)
		if err != nil {
			return err
		}
		switch {
		case !found:
			result.Status = Voided
			return insertCharge(ctx, tx, Charge{ID: chargeID(req.Key), Key: req.Key, OrderID: req.OrderID, Status: Voided})
		case c.Status != Captured:
			result.Status = c.Status
			return nil
		}
		result.Status, result.AmountCents = Refunded, c.AmountCents
		_, err = tx.ExecContext(ctx, `UPDATE charges SET status = ?, updated_at = ? WHERE key = ?`, Refunded, timestamp(), req.Key)
		return err
	})
	if err != nil {
		return RefundResult{}, fmt.Errorf("refund %s: %w", req.Key, err)
	}
	return result, nil
}

// ChargeByKey returns the charge recorded under key.
func (s *Store) ChargeByKey(ctx context.Context, key string) (Charge, bool, error) {
	return chargeByKey(ctx, s.db, key)
}

// Charges lists every charge, oldest first, for the audit.
func (s *Store) Charges(ctx context.Context) ([]Charge, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, id, order_id, amount_cents, status FROM charges ORDER BY created_at, key`)
	if err != nil {
		return nil, fmt.Errorf("list charges: %w", err)
	}
	defer rows.Close()
	var out []Charge
	for rows.Next() {
		var c Charge
		if err := rows.Scan(&c.Key, &c.ID, &c.OrderID, &c.AmountCents, &c.Status); err != nil {
			return nil, fmt.Errorf("list charges: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func chargeByKey(ctx context.Context, q querier, key string) (Charge, bool, error) {
	c := Charge{Key: key}
	err := q.QueryRowContext(ctx, `SELECT id, order_id, amount_cents, status FROM charges WHERE key = ?`, key).
		Scan(&c.ID, &c.OrderID, &c.AmountCents, &c.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return Charge{}, false, nil
	}
	if err != nil {
		return Charge{}, false, fmt.Errorf("read charge %s: %w", key, err)
	}
	return c, true, nil
}

// lockKey is the key that the payment store's transactions on an idempotency
// key lock, named apart from other stores' keys in a shared database.
func lockKey(key string) string { return "payment/charges/" + key }

// chargeID derives a stable, public ID from the idempotency key.
func chargeID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "ch_" + hex.EncodeToString(sum[:8])
}

// timeLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so that
// created_at sorts as text in time order. (time.RFC3339Nano drops trailing
// zeros: "…05.1Z" would sort after "…05.12Z".)
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func timestamp() string { return formatTime(time.Now()) }

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
