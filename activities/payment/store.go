package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// DatabaseFile is the payment store's SQLite file name inside the data
// directory, used when the service has no PostgreSQL DSN.
const DatabaseFile = "payment.db"

// placementSQLite and placementPostgres are the schema's migration 2, the
// one every store of records by key runs on its table.
var placementSQLite, placementPostgres = storedb.PlacementMigration("charges")

// schema is the payment store's tables, migration by migration, in each
// dialect.
//
// Migration 2 (storedb.PlacementMigration) gives every charge the placement
// that wrote it and the workflow ID of its key, indexed in byte order for
// ChargesByPlacement.
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
		placementSQLite,
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
		placementPostgres,
	},
}

// Store is the payment service's own database. Every method that changes it
// is one transaction, and every mutation is idempotent by key.
type Store struct {
	db *storedb.DB
	// Gateway is the card gateway that Charge and Refund ask. Set it before
	// the first of them; if it is nil then, the store makes a
	// SimulatedGateway of its own.
	Gateway     Gateway
	gatewayOnce sync.Once
}

// Open opens the payment store at source — a SQLite file path or a
// PostgreSQL DSN (see storedb.Source) — creating it on first use.
// opts tune how (storedb.WithSynchronous, storedb.WithMaxConns).
func Open(ctx context.Context, source string, opts ...storedb.Option) (*Store, error) {
	db, err := storedb.Open(ctx, source, schema, opts...)
	if err != nil {
		return nil, fmt.Errorf("payment store: %w", err)
	}
	return &Store{db: db}, nil
}

// OpenReadOnly opens the existing payment store at source for reading only,
// for the audit: it creates and migrates nothing, and refuses a
// store that is not there or not at this binary's schema version.
func OpenReadOnly(ctx context.Context, source string) (*Store, error) {
	db, err := storedb.OpenReadOnly(ctx, source, schema)
	if err != nil {
		return nil, fmt.Errorf("payment store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// gateway is the store's Gateway, a new SimulatedGateway if it has none:
// the store of each test and tool that opens it directly has a ledger of
// its own.
func (s *Store) gateway() Gateway {
	s.gatewayOnce.Do(func() {
		if s.Gateway == nil {
			s.Gateway = NewSimulatedGateway()
		}
	})
	return s.Gateway
}

// recordTimeout bounds the transaction that captures a charge and records
// it, which goes on after the activity's context ends (see Charge).
const recordTimeout = 30 * time.Second

// Charge takes the money through the gateway and records the outcome.
// Called again with the same key by the same placement it returns the first
// outcome (the charge, or ErrDeclined) without asking the gateway again;
// with the same key but another amount or order it fails with
// ErrKeyConflict, and after the key was refunded (or voided) with
// ErrKeyVoided. attempt is the activity's attempt number, passed to the
// gateway (see TokenFlaky).
//
// A key that another placement recorded is refused with ErrKeyConflict
// before the gateway is asked, and so is a key recorded before placements
// (placement "") asked for by a request with a placement, or the reverse:
// the key names an earlier order that had the same order ID, and the
// customer of this one must not be charged for a key that cannot be
// recorded.
//
// The money is taken in two phases. The gateway authorizes outside any
// transaction, so a slow gateway never holds the store's write lock. Then
// one transaction locks the key and reads it again: if a refund voided the
// key meanwhile (a cancel overtook the charge), or another call recorded
// it, the authorization is released and the charge answers as the record
// says, so money held for an order that gave up is never taken; otherwise
// the gateway captures and the charge is recorded captured. The capture is
// asked inside that transaction, short as it is, because Refund takes the
// same key's lock: a refund sees either no charge, and voids the key before
// any capture, or a captured one, which it refunds — never a capture it
// cannot see. For the same reason that transaction runs to its end, within
// recordTimeout, when the activity's context ends during it.
//
// Two calls with one key at once may both authorize: the gateway holds the
// money once for the key, the first to lock captures it, and the other is
// answered from its record. A crash leaves what a retry repairs:
// authorization and capture are idempotent by key, so the retry captures
// once and records. An authorization that is never captured (the process
// died after authorizing, and a refund voided the key before the retry) is
// released by the gateway when it expires, as card gateways release holds
// after some days. A capture whose commit failed (a crash, a lost
// connection) while a refund then voided the key is found by the retry:
// the voided key's charge voids at the gateway, which answers that it
// captured, and the charge refunds that capture.
func (s *Store) Charge(ctx context.Context, req ChargeRequest, attempt int32) (Charge, error) {
	c, err := s.charge(ctx, req, attempt)
	if err != nil {
		return Charge{}, fmt.Errorf("charge %s: %w", req.Key, err)
	}
	return c, nil
}

// charge is Charge, with errors that Charge names the key in.
func (s *Store) charge(ctx context.Context, req ChargeRequest, attempt int32) (Charge, error) {
	if err := req.validate(); err != nil {
		return Charge{}, err
	}
	existing, found, err := chargeByKey(ctx, s.db, req.Key)
	if err != nil {
		return Charge{}, err
	}
	if found {
		c, err := repeatedCharge(existing, req)
		if existing.Status == Voided && errors.Is(err, ErrKeyVoided) {
			// A cancel voided the key. An earlier attempt may have been
			// captured at the gateway and then failed to record (a
			// crash, a lost connection at commit): make sure nothing
			// stays taken.
			return Charge{}, release(ctx, s.gateway(), req.Key, req.AmountCents, err)
		}
		return c, err
	}
	gw := s.gateway()
	verdict := gw.Authorize(ctx, AuthorizeRequest{Key: req.Key, Token: req.Token, AmountCents: req.AmountCents, Attempt: attempt})
	switch {
	case errors.Is(verdict, ErrDeclined):
		return s.recordDecline(ctx, req, verdict)
	case verdict != nil:
		return Charge{}, verdict // transient: nothing recorded, retried
	}
	return s.capture(ctx, gw, req)
}

// capture finishes a charge that the gateway authorized: in one
// transaction holding the key's lock, it captures and records the charge,
// or, if the key was recorded meanwhile, answers from that record and
// releases the authorization.
func (s *Store) capture(ctx context.Context, gw Gateway, req ChargeRequest) (Charge, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	charge := Charge{ID: chargeID(req.Key), Key: req.Key, OrderID: req.OrderID, Placement: req.Placement, AmountCents: req.AmountCents, Status: Captured}
	var refused error
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		other, found, err := storedb.LockedRead(ctx, tx, lockKey(req.Key), chargeByKey, req.Key)
		switch {
		case err != nil:
			return err
		case found:
			charge, refused = repeatedCharge(other, req)
			return nil
		}
		if err := gw.Capture(ctx, req.Key, req.AmountCents); err != nil {
			return fmt.Errorf("capture at the gateway: %w", err)
		}
		return insertCharge(ctx, tx, charge)
	}, storedb.Step(chargeStep, req.Key))
	switch {
	case err != nil:
		return Charge{}, err
	case refused != nil:
		return Charge{}, release(ctx, gw, req.Key, req.AmountCents, refused)
	}
	return charge, nil
}

// release voids the authorization of a charge that the key's record
// refused, so the money held for it is never taken, and returns refused. A
// failed void does not change that answer (the gateway releases the hold
// when it expires). A payment the gateway had already captured — an earlier
// attempt captured it and could not record it before a cancel voided the
// key — is refunded; should that refund fail, the error is retryable, and
// the retry, answered by the voided record, releases again.
func release(ctx context.Context, gw Gateway, key string, amountCents int64, refused error) error {
	err := gw.Void(ctx, key)
	switch {
	case err == nil:
		return refused
	case !errors.Is(err, ErrAlreadyCaptured):
		return fmt.Errorf("%w (releasing its authorization failed, the gateway releases it when it expires: %v)", refused, err)
	}
	if err := gw.Refund(ctx, key, amountCents); err != nil {
		return fmt.Errorf("%w: the gateway captured %s before a cancel voided it, and refunding that capture failed: %v", ErrGatewayUnavailable, key, err)
	}
	return refused
}

// recordDecline records the gateway's decline as the key's outcome and
// returns it, or answers from the key's record if another call recorded
// the key first.
func (s *Store) recordDecline(ctx context.Context, req ChargeRequest, declined error) (Charge, error) {
	charge := Charge{ID: chargeID(req.Key), Key: req.Key, OrderID: req.OrderID, Placement: req.Placement, AmountCents: req.AmountCents, Status: Declined}
	recorded := false
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		other, found, err := storedb.LockedRead(ctx, tx, lockKey(req.Key), chargeByKey, req.Key)
		switch {
		case err != nil:
			return err
		case found:
			charge, err = repeatedCharge(other, req)
			return err
		}
		recorded = true
		return insertCharge(ctx, tx, charge)
	}, storedb.Step(chargeStep, req.Key))
	switch {
	case err != nil:
		return Charge{}, err
	case recorded:
		return Charge{}, declined
	}
	return charge, nil
}

// repeatedCharge is the answer to a charge whose key is already recorded:
// the first outcome if the same placement asked for the same charge and the
// key still holds it, an error if the key is another placement's, was
// refunded (or voided), or was reused for something else.
func repeatedCharge(existing chargeRecord, req ChargeRequest) (Charge, error) {
	if err := checkPlacement(existing, req.Key, req.Placement); err != nil {
		return Charge{}, err
	}
	switch {
	case existing.Status == Voided || existing.Status == Refunded:
		return Charge{}, fmt.Errorf("%w (status %s)", ErrKeyVoided, existing.Status)
	case existing.OrderID != req.OrderID || existing.AmountCents != req.AmountCents:
		return Charge{}, fmt.Errorf("%w: first charged %d cents for order %q", ErrKeyConflict, existing.AmountCents, existing.OrderID)
	case existing.Status == Declined:
		return Charge{}, fmt.Errorf("%w (recorded for this key)", ErrDeclined)
	}
	return existing.Charge, nil
}

// checkPlacement refuses a request of any placement but the one that
// recorded the key (storedb.CheckPlacement), so that a reused order ID
// never returns, changes or undoes another placement's charge.
func checkPlacement(rec chargeRecord, key, placement string) error {
	return storedb.CheckPlacement(ErrKeyConflict, key, rec.OrderID, rec.Placement, placement, rec.recordedAt)
}

// insertCharge records c, with the workflow ID of its key, which the
// audit's stream is ordered by.
func insertCharge(ctx context.Context, tx *storedb.Tx, c Charge) error {
	now := storedb.Timestamp()
	_, err := tx.ExecContext(ctx,
		`INSERT INTO charges (key, id, order_id, placement, workflow_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Key, c.ID, c.OrderID, c.Placement, storedb.KeyWorkflowID(c.Key), c.AmountCents, c.Status, now, now)
	if err != nil {
		return fmt.Errorf("record charge: %w", err)
	}
	return nil
}

// Refund gives back a captured charge: the gateway refunds it and the
// record is marked refunded. If the gateway fails the record stays
// captured and the error says so, for the caller to retry; the gateway
// refunds a key once however often it is asked. The gateway is asked
// inside the transaction that holds the key's lock, as Charge captures: it
// is a short call, and a refund then never runs beside the capture of its
// key.
//
// It is safe to call any number of times and for a key that never charged
// anything: then it records the key as voided for the request's placement,
// so that a charge still in flight with that key cannot take the
// customer's money after its order gave up on it (Charge releases its
// authorization instead of capturing).
//
// A key that another placement recorded is refused with ErrKeyConflict and
// left as it is: it holds an earlier order's money (or void), and only that
// order may give it back.
func (s *Store) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	result := RefundResult{Key: req.Key}
	gw := s.gateway()
	err := s.db.InTx(ctx, func(tx *storedb.Tx) error {
		c, found, err := storedb.LockedRead(ctx, tx, lockKey(req.Key), chargeByKey, req.Key)
		if err != nil {
			return err
		}
		if !found {
			result.Status = Voided
			return insertCharge(ctx, tx, Charge{ID: chargeID(req.Key), Key: req.Key, OrderID: req.OrderID, Placement: req.Placement, Status: Voided})
		}
		if err := checkPlacement(c, req.Key, req.Placement); err != nil {
			return err
		}
		if c.Status != Captured {
			result.Status = c.Status
			return nil
		}
		if err := gw.Refund(ctx, req.Key, c.AmountCents); err != nil {
			return fmt.Errorf("refund at the gateway: %w", err)
		}
		result.Status, result.AmountCents = Refunded, c.AmountCents
		if _, err := tx.ExecContext(ctx, `UPDATE charges SET status = ?, updated_at = ? WHERE key = ?`, Refunded, storedb.Timestamp(), req.Key); err != nil {
			return fmt.Errorf("mark refunded: %w", err)
		}
		return nil
	}, storedb.Step(refundStep, req.Key))
	if err != nil {
		return RefundResult{}, fmt.Errorf("refund %s: %w", req.Key, err)
	}
	return result, nil
}

// ChargeByKey returns the charge recorded under key, whichever placement
// recorded it.
func (s *Store) ChargeByKey(ctx context.Context, key string) (Charge, bool, error) {
	c, found, err := chargeByKey(ctx, s.db, key)
	return c.Charge, found, err
}

// Charges lists every charge, oldest first, for the audit.
func (s *Store) Charges(ctx context.Context) ([]Charge, error) {
	return storedb.Collect(ctx, s.db, "list charges", `SELECT `+chargeColumns+` FROM charges ORDER BY created_at, key`, scanCharge)
}

// ChargesByPlacement streams every charge in the order of
// storedb.StreamByPlacement, legacy charges (placement "") first. The audit
// merges this stream with the inventory and shipping stores' streams, which
// come in the same order, to check each placement's records together while
// it holds only the current one of each store.
//
// It is one query, read row by row as the loop asks for them, on one
// connection that it holds until the loop ends; the rows are one
// consistent snapshot. An error ends the stream.
func (s *Store) ChargesByPlacement(ctx context.Context) iter.Seq2[Charge, error] {
	return storedb.StreamByPlacement(ctx, s.db, "list charges by placement", "charges", chargeColumns, scanCharge)
}

// chargeColumns are the columns of a Charge, in the order scanCharge reads
// them, for the audit's lists.
const chargeColumns = `key, id, order_id, placement, amount_cents, status`

func scanCharge(rows *sql.Rows) (Charge, error) {
	var c Charge
	err := rows.Scan(&c.Key, &c.ID, &c.OrderID, &c.Placement, &c.AmountCents, &c.Status)
	return c, err
}

// chargeRecord is a charge with when it was recorded, which a request of
// another placement is told.
type chargeRecord struct {
	Charge
	recordedAt string
}

func chargeByKey(ctx context.Context, q storedb.Querier, key string) (chargeRecord, bool, error) {
	c := chargeRecord{Charge: Charge{Key: key}}
	err := q.QueryRowContext(ctx, `SELECT id, order_id, placement, amount_cents, status, created_at FROM charges WHERE key = ?`, key).
		Scan(&c.ID, &c.OrderID, &c.Placement, &c.AmountCents, &c.Status, &c.recordedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return chargeRecord{}, false, nil
	}
	if err != nil {
		return chargeRecord{}, false, fmt.Errorf("read charge %s: %w", key, err)
	}
	return c, true, nil
}

// The steps that name the store's transactions on their spans: the
// activities that run them.
const (
	chargeStep = "ChargePayment"
	refundStep = "RefundPayment"
)

// lockKey is the key that the payment store's transactions on an idempotency
// key lock, named apart from other stores' keys in a shared database.
func lockKey(key string) string { return "payment/charges/" + key }

// chargeID derives a stable, public ID from the idempotency key.
func chargeID(key string) string { return storedb.KeyID("ch_", key) }
