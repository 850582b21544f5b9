package storedb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ordersaga/ordersaga/internal/platform/sqlitedb"
)

// migrationLockKey names the advisory lock that a store holds while it
// migrates, so that replicas starting at once apply each migration once.
const migrationLockKey = "ordersaga schema migrations"

// openPostgres connects to the database at dsn, with a pool of at most
// maxConns connections, and migrates it. The connection is tried at once,
// so an unreachable server is reported when the worker starts, not at its
// first order. The migration holds one connection of the pool, so a
// replica starting on a busy server needs none beyond its bound.
func openPostgres(ctx context.Context, dsn string, schema Schema, maxConns int) (*sql.DB, error) {
	if err := CheckDSN(dsn); err != nil {
		return nil, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	sqlitedb.LimitPool(db, maxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := migratePostgres(ctx, db, schema.Name, schema.Postgres); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s store: %w", schema.Name, err)
	}
	return db, nil
}

// migratePostgres applies the migrations that the store named name has not
// recorded in schema_migrations yet, all in one transaction that holds an
// advisory lock: a replica starting while another migrates waits for it,
// then finds the migrations recorded and applies none.
func migratePostgres(ctx context.Context, db *sql.DB, name string, migrations []string) error {
	return sqlitedb.InTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, migrationLockKey); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			store      TEXT NOT NULL,
			version    INTEGER NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
			PRIMARY KEY (store, version))`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var version int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations WHERE store = $1`, name).Scan(&version); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if version > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this binary knows (%d): run a newer worker", version, len(migrations))
		}
		for i := version; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (store, version) VALUES ($1, $2)`, name, i+1); err != nil {
				return fmt.Errorf("record migration %d: %w", i+1, err)
			}
		}
		return nil
	})
}
