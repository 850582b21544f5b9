package sqlitedb

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The synchronous setting asked for is the one in effect on every
// connection of the pool, FULL (2) unless NORMAL (1) is asked for.
func TestOpenSetsSynchronousOnEveryConnection(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want int
	}{
		{"default", Options{}, 2},
		{"full", Options{Synchronous: SynchronousFull}, 2},
		{"normal", Options{Synchronous: SynchronousNormal}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), testMigrations, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i, got := range synchronousOfConns(t, db, 3) {
				if got != tt.want {
					t.Errorf("conn %d: PRAGMA synchronous = %d, want %d", i, got, tt.want)
				}
			}
		})
	}
}

// synchronousOfConns holds n connections at once, so that the pool opens
// n, and reads PRAGMA synchronous on each.
func synchronousOfConns(t *testing.T, db *sql.DB, n int) []int {
	t.Helper()
	ctx := context.Background()
	out := make([]int, n)
	for i := range out {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		defer c.Close()
		if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestParseSynchronous(t *testing.T) {
	tests := []struct {
		in      string
		want    Synchronous
		wantErr bool
	}{
		{"full", SynchronousFull, false},
		{"FULL", SynchronousFull, false},
		{" normal ", SynchronousNormal, false},
		{"off", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSynchronous(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseSynchronous(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && got.String() != strings.ToLower(strings.TrimSpace(tt.in)) {
			t.Errorf("ParseSynchronous(%q).String() = %q", tt.in, got.String())
		}
	}
}

// withUmask runs the test with umask as the process's umask, the usual
// 022 unless said otherwise.
func withUmask(t *testing.T, umask int) {
	t.Helper()
	old := syscall.Umask(umask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// A new store is private to its user, under the usual umask: its
// directory 0700, its file 0600, and the -wal and -shm files that SQLite
// creates beside it take the file's mode.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	withUmask(t, 0o022)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "test.db")
	db, err := Open(context.Background(), path, testMigrations, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// While a connection is open, the -wal and -shm files are there.
	if _, err := db.Exec(`INSERT INTO widgets (name) VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	if got := mode(t, dir); got != 0o700 {
		t.Errorf("data directory mode %04o, want 0700", got)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if got := mode(t, p); got != 0o600 {
			t.Errorf("%s mode %04o, want 0600", filepath.Base(p), got)
		}
	}
}

// A store that an earlier version created open to other users (0644, as
// SQLite creates a file under umask 022), with its -wal and -shm, is made
// private when it is opened; its rows are kept. An existing directory is
// left as it is: it may be shared.
func TestOpenMakesAnExistingStorePrivate(t *testing.T) {
	withUmask(t, 0o022)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "test.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	old.SetMaxOpenConns(1)
	if _, err := old.Exec(`CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE); INSERT INTO widgets (name) VALUES ('old'); PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if got := mode(t, p); got != 0o644 {
			t.Fatalf("%s mode %04o before Open, want SQLite's 0644", filepath.Base(p), got)
		}
	}

	db, err := Open(context.Background(), path, testMigrations, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if got := mode(t, p); got != 0o600 {
			t.Errorf("%s mode %04o after Open, want 0600", filepath.Base(p), got)
		}
	}
	if got := mode(t, dir); got != 0o755 {
		t.Errorf("existing directory mode %04o, want it left at 0755", got)
	}
	if n := countRows(t, db, `SELECT count(*) FROM widgets WHERE name = 'old'`); n != 1 {
		t.Errorf("the store's row is gone after Open made it private (%d rows)", n)
	}
}

// The pool is bounded as asked, keeps its connections between
// transactions, and the migrations run within the bound: a pool of one
// connection opens, migrates and writes.
func TestOpenBoundsThePool(t *testing.T) {
	for _, n := range []int{1, 4} {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), testMigrations, Options{MaxConns: n})
		if err != nil {
			t.Fatalf("MaxConns %d: %v", n, err)
		}
		defer db.Close()
		if err := InTx(context.Background(), db, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO widgets (name) VALUES ('b')`)
			return err
		}); err != nil {
			t.Fatalf("MaxConns %d: write: %v", n, err)
		}
		if got := db.Stats().MaxOpenConnections; got != n {
			t.Errorf("MaxConns %d: pool bound %d", n, got)
		}
		synchronousOfConns(t, db, n) // holds n connections, then gives them back
		if st := db.Stats(); st.OpenConnections != n || st.Idle != n {
			t.Errorf("MaxConns %d: after %d connections at once, %d open and %d idle; want all kept", n, n, st.OpenConnections, st.Idle)
		}
		if got := userVersion(t, db); got != len(testMigrations) {
			t.Errorf("MaxConns %d: user_version %d, want %d", n, got, len(testMigrations))
		}
	}
}
