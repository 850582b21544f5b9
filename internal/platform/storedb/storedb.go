// Package storedb gives the services' stores one code path over two
// databases: SQLite, a file per service in the data directory, and
// PostgreSQL, shared by every replica of a service. A store writes its
// queries once, with "?" placeholders, and its schema once per dialect; the
// differences between the two — placeholders, how migrations are recorded
// and serialised, how concurrent writers of one idempotency key are kept
// apart — live here.
package storedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/ordersaga/ordersaga/internal/platform/sqlitedb"
)

// Dialect is the kind of database a store runs on.
type Dialect int

// The dialects a store can run on.
const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Schema is a store's migrations, in order, in each dialect. Name keys the
// store's migrations in PostgreSQL, so that several stores can share one
// database.
type Schema struct {
	Name     string
	SQLite   []string
	Postgres []string
}

// IsPostgres reports whether dsn selects PostgreSQL: a postgres:// or
// postgresql:// URL.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// CheckDSN refuses a DSN that selects no database this package can open.
// The empty DSN is valid: it means SQLite in the data directory. The DSN is
// not repeated in the error, as it may hold a password.
func CheckDSN(dsn string) error {
	if dsn == "" {
		return nil
	}
	if !IsPostgres(dsn) {
		return errors.New("not a PostgreSQL DSN: give a postgres:// or postgresql:// URL, or nothing for SQLite in --data-dir")
	}
	if _, err := pgx.ParseConfig(dsn); err != nil {
		return fmt.Errorf("invalid PostgreSQL DSN: %s", parseProblem(err))
	}
	return nil
}

// parseProblem is what is wrong with a DSN that pgx cannot parse, without
// the DSN, which pgx's message repeats with its password masked.
func parseProblem(err error) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	if _, problem, ok := strings.Cut(pe.Error(), "`: "); ok {
		return problem
	}
	return "cannot parse it"
}

// HasPassword reports whether dsn, a PostgreSQL URL, carries a secret: a
// password in its user information (user:password@host) or a password or
// sslpassword parameter. It errs on the side of yes: in a malformed URL, a
// ':' anywhere before the last '@' counts.
func HasPassword(dsn string) bool {
	_, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return false
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 && strings.Contains(rest[:at], ":") {
		return true
	}
	_, query, _ := strings.Cut(rest, "?")
	params, _ := url.ParseQuery(query)
	return params.Has("password") || params.Has("sslpassword")
}

// DB is a store's database. Its query methods take "?" placeholders in
// either dialect.
type DB struct {
	db      *sql.DB
	dialect Dialect
	// name is the schema's name, the service whose store this is: it
	// names the transactions' spans.
	name string
}

// Open opens the database that source names — a PostgreSQL DSN, or else the
// path of a SQLite file, created if needed — and applies the migrations of
// schema that it has not seen yet. A database whose schema is newer than
// schema is refused. The pool is bounded (DefaultMaxConns, WithMaxConns)
// before the migration runs on it, and SQLite commits with
// sqlitedb.SynchronousFull unless WithSynchronous says otherwise.
func Open(ctx context.Context, source string, schema Schema, opts ...Option) (*DB, error) {
	o := newOptions(opts)
	if !IsPostgres(source) {
		db, err := sqlitedb.Open(ctx, source, schema.SQLite, sqlitedb.Options{Synchronous: o.synchronous, MaxConns: o.maxConns})
		if err != nil {
			return nil, err
		}
		return &DB{db: db, dialect: SQLite, name: schema.Name}, nil
	}
	db, err := openPostgres(ctx, source, schema, o.maxConns)
	if err != nil {
		return nil, err
	}
	return &DB{db: db, dialect: Postgres, name: schema.Name}, nil
}

// Dialect is the kind of database d is.
func (d *DB) Dialect() Dialect { return d.dialect }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// ExecContext runs a statement that returns no rows.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.db.ExecContext(ctx, rebind(d.dialect, query), args...)
}

// QueryContext runs a query that returns rows.
func (d *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.db.QueryContext(ctx, rebind(d.dialect, query), args...)
}

// QueryRowContext runs a query that returns at most one row.
func (d *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.db.QueryRowContext(ctx, rebind(d.dialect, query), args...)
}

// InTx runs fn in one transaction and commits it if fn returns nil; fn's
// error comes back unwrapped. In SQLite the transaction holds the database's
// write lock from its start, so writers never interleave. In PostgreSQL it
// runs at READ COMMITTED: fn serialises writers of one idempotency key with
// Tx.LockKey, and changes shared counters with single conditional UPDATEs.
//
// In a trace (an activity's context with tracing on) the transaction has
// its span, "store.tx <service>", with the service, the dialect, and the
// step and the idempotency key (see Step); outside one it has none.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error, opts ...TxOption) error {
	ctx, span := d.startTx(ctx, opts)
	// sqlitedb.InTx only begins, commits and rolls back through
	// database/sql, so it serves both dialects.
	err := sqlitedb.InTx(ctx, d.db, func(tx *sql.Tx) error {
		return fn(&Tx{tx: tx, dialect: d.dialect})
	})
	endTx(span, err)
	return err
}

// Tx is a transaction that InTx runs. Its query methods take "?"
// placeholders in either dialect.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// ExecContext runs a statement that returns no rows.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, rebind(t.dialect, query), args...)
}

// QueryContext runs a query that returns rows.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, rebind(t.dialect, query), args...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, rebind(t.dialect, query), args...)
}

// Querier is what both DB and Tx offer for reading, so that a store reads
// a record with one function whether or not a transaction holds it.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// LockKey makes every other transaction that locks the same key wait until
// this one ends, so that a read-check-write on an idempotency key is done
// once at a time: of several calls with one key at once, exactly one finds
// it absent and writes. Call it before reading the key. In PostgreSQL it is
// a transaction-scoped advisory lock on a hash of key (a collision only
// serialises two keys that did not need it); in SQLite the transaction
// already holds the write lock, so it does nothing.
func (t *Tx) LockKey(ctx context.Context, key string) error {
	if t.dialect != Postgres {
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
		return fmt.Errorf("lock key %s: %w", key, err)
	}
	return nil
}

// LockedRead locks lock for the rest of tx (LockKey), so that no other call
// reads or writes the record of key meanwhile, then reads that record with
// read, which reports whether there is one: the first step of every change
// to a record by idempotency key.
func LockedRead[R any](ctx context.Context, tx *Tx, lock string, read func(context.Context, Querier, string) (R, bool, error), key string) (R, bool, error) {
	if err := tx.LockKey(ctx, lock); err != nil {
		var none R
		return none, false, err
	}
	return read(ctx, tx, key)
}

// rebind turns the "?" placeholders of query into PostgreSQL's "$1", "$2",
// … The stores' queries have no "?" inside string literals.
func rebind(d Dialect, query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
