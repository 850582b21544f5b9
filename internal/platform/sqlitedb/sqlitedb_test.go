package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds waits that would hang forever if a transaction leaked.
const testTimeout = 10 * time.Second

// testMigrations create a table and put one row in it, so that a migration
// applied twice shows up as a second row (or as a failing CREATE TABLE).
var testMigrations = []string{
	`CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
	 INSERT INTO widgets (name) VALUES ('seeded by migration 1');`,
	`CREATE TABLE gadgets (id INTEGER PRIMARY KEY, widget_id INTEGER NOT NULL REFERENCES widgets (id));`,
}

func openTestDB(t *testing.T, path string, migrations []string) *sql.DB {
	t.Helper()
	db, err := Open(context.Background(), path, migrations, Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatalf("read user_version: %v", err)
	}
	return v
}

func countRows(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func tableExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	return countRows(t, db, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name) == 1
}

func TestOpenAppliesMigrationsAndRecordsVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "test.db")
	db := openTestDB(t, path, testMigrations)

	if got := userVersion(t, db); got != len(testMigrations) {
		t.Errorf("user_version = %d, want %d", got, len(testMigrations))
	}
	for _, table := range []string{"widgets", "gadgets"} {
		if !tableExists(t, db, table) {
			t.Errorf("table %s was not created", table)
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM widgets`); n != 1 {
		t.Errorf("widgets has %d rows, want 1", n)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file: %v", err)
	}
}

func TestReopenDoesNotReapplyMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	first, err := Open(context.Background(), path, testMigrations, Options{})
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	first.Close()

	db := openTestDB(t, path, testMigrations)
	if got := userVersion(t, db); got != len(testMigrations) {
		t.Errorf("user_version after reopen = %d, want %d", got, len(testMigrations))
	}
	if n := countRows(t, db, `SELECT count(*) FROM widgets`); n != 1 {
		t.Errorf("widgets has %d rows after reopen, want 1 (migration 1 ran again)", n)
	}
}

func TestReopenAppliesOnlyNewMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	first, err := Open(context.Background(), path, testMigrations[:1], Options{})
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	if got := userVersion(t, first); got != 1 {
		t.Fatalf("user_version after first Open = %d, want 1", got)
	}
	first.Close()

	db := openTestDB(t, path, testMigrations)
	if got := userVersion(t, db); got != 2 {
		t.Errorf("user_version = %d, want 2", got)
	}
	if !tableExists(t, db, "gadgets") {
		t.Error("migration 2 was not applied")
	}
	if n := countRows(t, db, `SELECT count(*) FROM widgets`); n != 1 {
		t.Errorf("widgets has %d rows, want 1", n)
	}
}

func TestFailingMigrationLeavesNoTraceAndVersionUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	broken := []string{
		testMigrations[0],
		`CREATE TABLE half_done (x INTEGER); THIS IS NOT SQL;`,
	}
	if db, err := Open(context.Background(), path, broken, Options{}); err == nil {
		db.Close()
		t.Fatal("Open with a broken migration succeeded")
	}

	db := openTestDB(t, path, testMigrations[:1])
	if got := userVersion(t, db); got != 1 {
		t.Errorf("user_version = %d, want 1 (only the good migration)", got)
	}
	if tableExists(t, db, "half_done") {
		t.Error("the failing migration's first statement was committed")
	}
}

func TestConcurrentOpenOfNewFileAppliesSchemaOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	const openers = 8

	start := make(chan struct{})
	errs := make([]error, openers)
	var wg sync.WaitGroup
	for i := range openers {
		wg.Go(func() {
			<-start
			db, err := Open(context.Background(), path, testMigrations, Options{})
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		}
	}

	db := openTestDB(t, path, testMigrations)
	if got := userVersion(t, db); got != len(testMigrations) {
		t.Errorf("user_version = %d, want %d", got, len(testMigrations))
	}
	if n := countRows(t, db, `SELECT count(*) FROM widgets`); n != 1 {
		t.Errorf("widgets has %d rows, want 1 (migration applied more than once)", n)
	}
}

func TestOpenConfiguresEveryConnection(t *testing.T) {
	db := openTestDB(t, filepath.Join(t.TempDir(), "test.db"), testMigrations)
	ctx := context.Background()

	// Hold two connections at once so that the pool has to open a second
	// one: the settings must hold on every connection, not only the first.
	conns := make([]*sql.Conn, 2)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		var journal string
		var foreignKeys, busyTimeout int
		if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&journal); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&foreignKeys); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busyTimeout); err != nil {
			t.Fatal(err)
		}
		if journal != "wal" || foreignKeys != 1 || busyTimeout != BusyTimeoutMillis {
			t.Errorf("conn %d: journal_mode=%s foreign_keys=%d busy_timeout=%d, want wal, 1, %d",
				i, journal, foreignKeys, busyTimeout, BusyTimeoutMillis)
		}
	}

	// foreign_keys on: a gadget must point at an existing widget.
	if _, err := db.Exec(`INSERT INTO gadgets (widget_id) VALUES (999)`); err == nil {
		t.Error("insert violating a foreign key succeeded")
	}
}

// A data directory may have any name the file system allows; characters that
// mean something in a URI must not make Open use another file.
func TestOpenPathWithURICharacters(t *testing.T) {
	for _, dir := range []string{"with space", "hash#mark", "per%25cent", "what?"} {
		t.Run(dir, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), dir, "test.db")
			db := openTestDB(t, path, testMigrations)
			if n := countRows(t, db, `SELECT count(*) FROM widgets`); n != 1 {
				t.Fatalf("widgets has %d rows, want 1", n)
			}
			var file string
			if err := db.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
				t.Fatal(err)
			}
			if file != path {
				t.Errorf("database file is %q, want %q", file, path)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("database file: %v", err)
			}
		})
	}
}

func TestOpenRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	db := openTestDB(t, filepath.Join("data", "test.db"), testMigrations)
	if n := countRows(t, db, `SELECT count(*) FROM widgets`); n != 1 {
		t.Fatalf("widgets has %d rows, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "test.db")); err != nil {
		t.Errorf("database file: %v", err)
	}
}

func TestInTxCommitsWhenFnSucceeds(t *testing.T) {
	db := openTestDB(t, filepath.Join(t.TempDir(), "test.db"), testMigrations)
	err := InTx(context.Background(), db, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO widgets (name) VALUES ('committed')`)
		return err
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM widgets WHERE name = 'committed'`); n != 1 {
		t.Errorf("committed row count = %d, want 1", n)
	}
}

func TestInTxRollsBackWhenFnFails(t *testing.T) {
	db := openTestDB(t, filepath.Join(t.TempDir(), "test.db"), testMigrations)
	errBoom := errors.New("boom")

	err := InTx(context.Background(), db, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO widgets (name) VALUES ('rolled back')`); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("InTx error = %v, want fn's error %v unchanged", err, errBoom)
	}
	if n := countRows(t, db, `SELECT count(*) FROM widgets WHERE name = 'rolled back'`); n != 0 {
		t.Errorf("row inserted by a failing fn is still there")
	}
	// The connection went back to the pool usable: a later transaction
	// can write.
	if err := InTx(context.Background(), db, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO widgets (name) VALUES ('after')`)
		return err
	}); err != nil {
		t.Fatalf("InTx after a rollback: %v", err)
	}
}

func TestInTxRollsBackWhenFnPanics(t *testing.T) {
	db := openTestDB(t, filepath.Join(t.TempDir(), "test.db"), testMigrations)
	db.SetMaxOpenConns(1) // a leaked transaction would hold the only connection

	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "kaboom") {
				t.Errorf("recovered %v, want the fn's panic", r)
			}
		}()
		_ = InTx(context.Background(), db, func(tx *sql.Tx) error {
			if _, err := tx.Exec(`INSERT INTO widgets (name) VALUES ('panicked')`); err != nil {
				return err
			}
			panic("kaboom")
		})
	}()

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM widgets WHERE name = 'panicked'`).Scan(&n); err != nil {
		t.Fatalf("query after a panicking fn (transaction leaked?): %v", err)
	}
	if n != 0 {
		t.Errorf("row inserted by a panicking fn is still there")
	}
}

func TestOpenRefusesSchemaNewerThanItKnows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db := openTestDB(t, path, testMigrations)
	db.Close()

	_, err := Open(context.Background(), path, testMigrations[:1], Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open with fewer migrations than applied: err = %v, want a refusal naming the newer schema", err)
	}
}
