package storedb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/ordersaga/ordersaga/internal/platform/sqlitedb"
)

// ReadOnlyMaxConns bounds the pool of a store opened read-only. The audit
// reads a store through one query at a time, so one audit holds at most
// this many connections per store.
const ReadOnlyMaxConns = 2

// OpenReadOnly opens the store that source names for reading only: it
// creates, migrates and changes nothing, and refuses a store that is not
// there or whose schema is not the one this binary writes. The audit opens
// stores this way, so that a mistyped --data-dir or a DSN of the wrong
// database is an error, not an empty store that passes. Its pool holds at
// most ReadOnlyMaxConns connections.
func OpenReadOnly(ctx context.Context, source string, schema Schema) (*DB, error) {
	if !IsPostgres(source) {
		db, err := sqlitedb.OpenReadOnly(ctx, source, len(schema.SQLite))
		if err != nil {
			return nil, err
		}
		sqlitedb.LimitPool(db, ReadOnlyMaxConns)
		return &DB{db: db, dialect: SQLite}, nil
	}
	db, err := openPostgresReadOnly(ctx, source, schema)
	if err != nil {
		return nil, err
	}
	return &DB{db: db, dialect: Postgres}, nil
}

// openPostgresReadOnly connects with every transaction read-only and
// checks that the store's migrations are all there.
func openPostgresReadOnly(ctx context.Context, dsn string, schema Schema) (*sql.DB, error) {
	if err := CheckDSN(dsn); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL DSN: %w", err)
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	db := stdlib.OpenDB(*cfg)
	sqlitedb.LimitPool(db, ReadOnlyMaxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := checkPostgresVersion(ctx, db, schema); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkPostgresVersion refuses a database without the store's schema at
// the version this binary writes.
func checkPostgresVersion(ctx context.Context, db *sql.DB, schema Schema) error {
	var hasTable bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&hasTable); err != nil {
		return fmt.Errorf("read %s schema version: %w", schema.Name, err)
	}
	version := 0
	if hasTable {
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations WHERE store = $1`, schema.Name).Scan(&version); err != nil {
			return fmt.Errorf("read %s schema version: %w", schema.Name, err)
		}
	}
	want := len(schema.Postgres)
	switch {
	case version == 0:
		return fmt.Errorf("no %s store in that database: is its DSN the %s store's? (a worker creates the store when it first starts)", schema.Name, schema.Name)
	case version < want:
		return fmt.Errorf("the %s store has schema version %d, this binary reads version %d: start this version's worker once to migrate it", schema.Name, version, want)
	case version > want:
		return fmt.Errorf("the %s store has schema version %d, newer than this binary knows (%d): use a newer binary", schema.Name, version, want)
	}
	return nil
}
