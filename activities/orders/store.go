package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// DatabaseFile is the order register's SQLite file name inside the data
// directory, used when the service has no PostgreSQL DSN.
const DatabaseFile = "orders.db"

// schema is the register's table, migration by migration, in each dialect.
// The primary key is what makes an order ID usable once: a row, once
// written, is never changed or deleted.
var schema = storedb.Schema{
	Name:     "orders",
	SQLite:   []string{orderIDsTable},
	Postgres: []string{orderIDsTable},
}

// orderIDsTable is migration 1, the same in both dialects: every column is
// TEXT.
const orderIDsTable = `
CREATE TABLE order_ids (
	order_id    TEXT PRIMARY KEY,
	workflow_id TEXT NOT NULL,
	placement   TEXT NOT NULL,
	claimed_at  TEXT NOT NULL
);`

// Store is the order service's own database: the register of order IDs.
// A claim is one transaction, idempotent by placement.
type Store struct {
	db *storedb.DB
}

// Open opens the register at source — a SQLite file path or a PostgreSQL
// DSN (see storedb.Source) — creating it on first use.
// opts tune how (storedb.WithSynchronous, storedb.WithMaxConns).
func Open(ctx context.Context, source string, opts ...storedb.Option) (*Store, error) {
	db, err := storedb.Open(ctx, source, schema, opts...)
	if err != nil {
		return nil, fmt.Errorf("orders store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Claim records that req.Placement holds req.OrderID, and returns the
// claim. The first placement to claim an order ID holds it for ever: called
// again for that placement (a retry, a replay, a reset run) Claim returns
// the first claim unchanged, and for any other placement — even one of a
// workflow with the same ID, deleted and started again — it fails with
// ErrOrderIDUsed and changes nothing. Of several claims of one order ID at
// once, by any number of replicas, exactly one wins.
func (s *Store) Claim(ctx context.Context, req ClaimRequest) (Claim, error) {
	if err := req.validate(); err != nil {
		return Claim{}, fmt.Errorf("claim order ID %q: %w", req.OrderID, err)
	}
	var claim Claim
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		first, found, err := storedb.LockedRead(ctx, tx, lockKey(req.OrderID), claimByOrderID, req.OrderID)
		if err != nil || found {
			claim = first
			return err
		}
		claim = Claim{OrderID: req.OrderID, WorkflowID: req.WorkflowID, Placement: req.Placement, ClaimedAt: now()}
		return insertClaim(ctx, tx, claim)
	}, storedb.Step(claimStep, req.OrderID))
	if err != nil {
		return Claim{}, fmt.Errorf("claim order ID %q: %w", req.OrderID, err)
	}
	if claim.Placement != req.Placement {
		return Claim{}, &usedError{first: claim}
	}
	return claim, nil
}

func insertClaim(ctx context.Context, tx *storedb.Tx, c Claim) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO order_ids (order_id, workflow_id, placement, claimed_at) VALUES (?, ?, ?, ?)`,
		c.OrderID, c.WorkflowID, c.Placement, storedb.FormatTime(c.ClaimedAt))
	if err != nil {
		return fmt.Errorf("record claim: %w", err)
	}
	return nil
}

// ClaimByOrderID returns the claim on orderID, or found false if nobody
// has claimed it, for tests and tools.
func (s *Store) ClaimByOrderID(ctx context.Context, orderID string) (Claim, bool, error) {
	return claimByOrderID(ctx, s.db, orderID)
}

func claimByOrderID(ctx context.Context, q storedb.Querier, orderID string) (Claim, bool, error) {
	c := Claim{OrderID: orderID}
	var claimedAt string
	err := q.QueryRowContext(ctx, `SELECT workflow_id, placement, claimed_at FROM order_ids WHERE order_id = ?`, orderID).
		Scan(&c.WorkflowID, &c.Placement, &claimedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Claim{}, false, nil
	}
	if err != nil {
		return Claim{}, false, fmt.Errorf("read claim on order ID %q: %w", orderID, err)
	}
	if c.ClaimedAt, err = storedb.ParseTime(claimedAt); err != nil {
		return Claim{}, false, fmt.Errorf("read claim on order ID %q: claimed_at: %w", orderID, err)
	}
	return c, true, nil
}

// usedError refuses a claim on an order ID that another placement holds.
// It is ErrOrderIDUsed, with what a person needs to pick another ID: when
// the ID was used and by which workflow.
type usedError struct {
	first Claim
}

func (e *usedError) Error() string {
	return fmt.Sprintf("order ID %q already used: claimed %s by workflow %s (placement %s); order IDs cannot be reused, pick another",
		e.first.OrderID, e.first.ClaimedAt.Format(time.RFC3339), e.first.WorkflowID, e.first.Placement)
}

func (e *usedError) Is(target error) bool { return target == ErrOrderIDUsed }

// claimStep names the claim's transaction on its span: the activity that
// runs it.
const claimStep = "ClaimOrderID"

// lockKey is the key that the register's transactions on an order ID lock,
// named apart from other stores' keys in a shared database.
func lockKey(orderID string) string { return "orders/order_ids/" + orderID }

// now is the current time as the register keeps it: in UTC, without the
// monotonic clock reading, so that a claim just made equals the same claim
// read back.
func now() time.Time { return time.Now().UTC().Round(0) }
