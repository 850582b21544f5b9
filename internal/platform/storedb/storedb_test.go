package storedb

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testSchema creates a table and puts a row in it, so that a migration
// applied twice shows up as a second row (or as a failing CREATE TABLE).
var testSchema = Schema{
	Name: "widgets",
	SQLite: []string{
		`CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
		 INSERT INTO widgets (name) VALUES ('seeded by migration 1');`,
		`CREATE TABLE gadgets (id INTEGER PRIMARY KEY, widget_id INTEGER NOT NULL REFERENCES widgets (id));`,
	},
	Postgres: []string{
		`CREATE TABLE widgets (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT NOT NULL UNIQUE);
		 INSERT INTO widgets (name) VALUES ('seeded by migration 1');`,
		`CREATE TABLE gadgets (id BIGINT PRIMARY KEY, widget_id BIGINT NOT NULL REFERENCES widgets (id));`,
	},
}

func openTestDB(t *testing.T, source string, schema Schema) *DB {
	t.Helper()
	db, err := Open(context.Background(), source, schema)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestOpenMigratesOnceOnEitherBackend(t *testing.T) {
	pgtest.Run(t, "test.db", func(t *testing.T, backend pgtest.Backend) {
		source := backend.Source(t)
		first := openTestDB(t, source, testSchema)
		first.Close()
		db := openTestDB(t, source, testSchema)
		if n := count(t, db, `SELECT count(*) FROM widgets WHERE name = ?`, "seeded by migration 1"); n != 1 {
			t.Errorf("migration 1 ran %d times, want once", n)
		}
		if n := count(t, db, `SELECT count(*) FROM gadgets`); n != 0 {
			t.Errorf("gadgets has %d rows, want 0", n)
		}
	})
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	pgtest.Run(t, "test.db", func(t *testing.T, backend pgtest.Backend) {
		source := backend.Source(t)
		const openers = 8
		errs := make([]error, openers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range openers {
			wg.Go(func() {
				<-start
				db, err := Open(context.Background(), source, testSchema)
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
		db := openTestDB(t, source, testSchema)
		if n := count(t, db, `SELECT count(*) FROM widgets`); n != 1 {
			t.Errorf("migration 1 ran %d times, want once", n)
		}
	})
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	pgtest.Run(t, "test.db", func(t *testing.T, backend pgtest.Backend) {
		source := backend.Source(t)
		openTestDB(t, source, testSchema).Close()
		older := Schema{Name: testSchema.Name, SQLite: testSchema.SQLite[:1], Postgres: testSchema.Postgres[:1]}
		_, err := Open(context.Background(), source, older)
		if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
			t.Fatalf("Open with an older binary: err = %v, want the schema refused as newer", err)
		}
	})
}

func TestStoresSharingAPostgresDatabaseMigrateApart(t *testing.T) {
	dsn := pgtest.DSN(t)
	openTestDB(t, dsn, testSchema)
	other := Schema{Name: "other", Postgres: []string{`CREATE TABLE others (id BIGINT PRIMARY KEY)`}}
	db := openTestDB(t, dsn, other)
	if n := count(t, db, `SELECT count(*) FROM schema_migrations WHERE store = ?`, "widgets"); n != 2 {
		t.Errorf("widgets has %d migrations recorded, want 2", n)
	}
	if n := count(t, db, `SELECT count(*) FROM schema_migrations WHERE store = ?`, "other"); n != 1 {
		t.Errorf("other has %d migrations recorded, want 1", n)
	}
}

func TestCheckDSN(t *testing.T) {
	tests := []struct {
		dsn     string
		wantErr string
	}{
		{dsn: ""},
		{dsn: "postgres://u:p@db:5432/inventory?sslmode=disable"},
		{dsn: "postgresql://db/payment"},
		{dsn: "mysql://u@db/x", wantErr: "not a PostgreSQL DSN"},
		{dsn: "/var/lib/inventory.db", wantErr: "not a PostgreSQL DSN"},
		{dsn: "postgres://db:notaport/x", wantErr: "invalid PostgreSQL DSN: invalid port"},
		{dsn: "postgres://svc:pw@dbhost/x?sslmode=bogus", wantErr: "invalid PostgreSQL DSN: failed to configure TLS"},
	}
	for _, tt := range tests {
		err := CheckDSN(tt.dsn)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("CheckDSN(%q) = %v, want nil", tt.dsn, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckDSN(%q) = %v, want an error containing %q", tt.dsn, err, tt.wantErr)
		case err != nil && (strings.Contains(err.Error(), "svc") || strings.Contains(err.Error(), "dbhost") || strings.Contains(err.Error(), "notaport")):
			t.Errorf("CheckDSN(%q) = %v, which repeats the DSN", tt.dsn, err)
		}
	}
}

func TestRebind(t *testing.T) {
	tests := []struct {
		dialect     Dialect
		query, want string
	}{
		{SQLite, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = ? AND c = ?`},
		{Postgres, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{Postgres, `SELECT 1`, `SELECT 1`},
	}
	for _, tt := range tests {
		if got := rebind(tt.dialect, tt.query); got != tt.want {
			t.Errorf("rebind(%s, %q) = %q, want %q", tt.dialect, tt.query, got, tt.want)
		}
	}
}

func TestHasPassword(t *testing.T) {
	tests := []struct {
		dsn  string
		want bool
	}{
		{"postgres://u@db:5432/x", false},
		{"postgres://db/x?sslmode=disable", false},
		{"postgres://u@[::1]:5432/x?application_name=a:b", false},
		{"postgres://u:pw@db:5432/x", true},
		{"postgresql://u:p%40ss@db/x", true},
		{"postgres://u:pw@h1:5432,h2:5432/x", true},
		{"postgres://u@db/x?password=pw", true},
		{"postgres://u@db/x?sslmode=verify-full&sslpassword=pw", true},
		{"postgres://u:pa/ss@db/x", true}, // malformed: a '/' strands the '@'
		{"", false},
	}
	for _, tt := range tests {
		if got := HasPassword(tt.dsn); got != tt.want {
			t.Errorf("HasPassword(%q) = %v, want %v", tt.dsn, got, tt.want)
		}
	}
}
