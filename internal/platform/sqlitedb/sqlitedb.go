// Package sqlitedb opens the services' SQLite databases the same way for every
// service: one file per service, readable by the service's user alone;
// write-ahead logging so readers (the audit, the admin commands) never block
// the worker; commits that are on the disk when they return, so that an
// activity never reports a change that a power loss takes back; and
// transactions that take the write lock when they begin, so that two
// concurrent calls with the same idempotency key serialise instead of both
// reading "not there yet" and both writing.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// BusyTimeoutMillis is how long a transaction waits for another process's
// write lock before failing with SQLITE_BUSY. Activities retry after that, so
// it only has to cover ordinary contention.
const BusyTimeoutMillis = 10000

// Open opens (creating it and its directory if needed) the SQLite database at
// path and applies the migrations that it has not seen yet. The directory
// is created DirMode and the file FileMode: a store holds customers'
// orders, addresses and payments, for the service's user alone.
func Open(ctx context.Context, path string, migrations []string, opts Options) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), DirMode); err != nil {
		return nil, fmt.Errorf("create directory for %s: %w", path, err)
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+opts.Synchronous.pragma()+")")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	// The path is escaped because SQLite reads a "file:" name as a URI: a
	// '?' or '#' in a directory name would otherwise cut the path short (and
	// open another file), and a '%' would be decoded.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Bounded before the migration, which runs on this same pool.
	LimitPool(db, opts.MaxConns)
	if err := migrate(ctx, db, migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return db, nil
}

// InTx runs fn in one transaction and commits it if fn returns nil. Every
// change a service makes to its store goes through here, so a crash between
// two statements can never leave half a reservation or half a refund.
func InTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// A panicking fn must not leave the transaction open: it would keep its
	// connection and the database's write lock, and every later write would
	// wait for it until its busy timeout.
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		// fn's error comes back as it is, so that callers and
		// apperr.Classify see its chain unchanged; a failed rollback is
		// added to it.
		if rbErr := rollback(tx); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// firstOpenRetry is how often readVersion tries again while another
// connection switches a new file to WAL.
const firstOpenRetry = 20 * time.Millisecond

// readVersion reads the schema version. It is the first statement on the
// pool's first connection, which also sets the connection's pragmas; while
// another process switches a new file to WAL, that switch fails at once with
// SQLITE_BUSY (SQLite does not wait for it through the busy timeout), so
// several workers opening one new file at once try again, up to the busy
// timeout.
func readVersion(ctx context.Context, db *sql.DB) (int, error) {
	deadline := time.Now().Add(BusyTimeoutMillis * time.Millisecond)
	for {
		var version int
		err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return version, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(firstOpenRetry): // poll interval of a deadline-bounded wait
		}
	}
}

// migrate applies migrations[i] for every i at or above the database's
// user_version, each in its own transaction together with the version bump,
// so that several processes opening the same file at once apply each
// migration exactly once.
func migrate(ctx context.Context, db *sql.DB, migrations []string) error {
	version, err := readVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this binary knows (%d): run a newer worker", version, len(migrations))
	}
	for i, stmt := range migrations {
		err := InTx(ctx, db, func(tx *sql.Tx) error {
			var version int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			if version > i {
				return nil
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
