package storedb

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
	"github.com/ordersaga/ordersaga/internal/platform/sqlitedb"
)

// A SQLite store commits with synchronous FULL (2) unless NORMAL (1) is
// asked for, on every connection of its pool.
func TestOpenSQLiteSynchronous(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want int
	}{
		{"default", nil, 2},
		{"full", []Option{WithSynchronous(sqlitedb.SynchronousFull)}, 2},
		{"normal", []Option{WithSynchronous(sqlitedb.SynchronousNormal)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), testSchema, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			for i := range 3 { // three connections held at once: three in the pool
				c, err := db.db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var got int
				if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("conn %d: PRAGMA synchronous = %d, want %d", i, got, tt.want)
				}
			}
		})
	}
}

// However many transactions run at once, a store holds at most its bound
// of connections to the server: PostgreSQL counts no more backends on its
// database than the bound, and keeps those. The migration runs within the bound too: a
// pool of one opens and migrates.
func TestOpenBoundsThePool(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want int
	}{
		{"default", nil, DefaultMaxConns},
		{"one", []Option{WithMaxConns(1)}, 1},
		{"three", []Option{WithMaxConns(3)}, 3},
		{"below one keeps the default", []Option{WithMaxConns(0)}, DefaultMaxConns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pgtest.Run(t, "test.db", func(t *testing.T, backend pgtest.Backend) {
				db, err := Open(context.Background(), backend.Source(t), testSchema, tt.opts...)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer db.Close()
				if got := db.db.Stats().MaxOpenConnections; got != tt.want {
					t.Errorf("pool bound %d, want %d", got, tt.want)
				}
				if db.Dialect() == Postgres {
					// More transactions at once than the bound fill
					// the pool, and no more.
					if peak := peakBackends(t, db, 2*tt.want+4); peak != tt.want {
						t.Errorf("%d backends on the store's database at most, want the bound, %d", peak, tt.want)
					}
				}
			})
		})
	}
}

// peakBackends runs n transactions at once on db, each of which counts the
// server's backends connected to db's database, and returns the most any
// of them counted.
func peakBackends(t *testing.T, db *DB, n int) int {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var wg sync.WaitGroup
	peak := 0
	for range n {
		wg.Go(func() {
			err := db.InTx(ctx, func(tx *Tx) error {
				var backends int
				// Sleep first: the server takes its snapshot of the
				// backends at the transaction's first look at them.
				if _, err := tx.ExecContext(ctx, `SELECT pg_sleep(0.05)`); err != nil {
					return err
				}
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&backends); err != nil {
					return err
				}
				mu.Lock()
				peak = max(peak, backends)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return peak
}

// A store opened read-only, as the audit opens it, holds at most
// ReadOnlyMaxConns connections.
func TestOpenReadOnlyBoundsThePool(t *testing.T) {
	pgtest.Run(t, "test.db", func(t *testing.T, backend pgtest.Backend) {
		source := backend.Source(t)
		openTestDB(t, source, testSchema).Close()
		db, err := OpenReadOnly(context.Background(), source, testSchema)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if got := db.db.Stats().MaxOpenConnections; got != ReadOnlyMaxConns {
			t.Errorf("read-only pool bound %d, want %d", got, ReadOnlyMaxConns)
		}
	})
}
