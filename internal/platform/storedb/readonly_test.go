package storedb

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

func TestOpenReadOnlyReadsButNeverWrites(t *testing.T) {
	pgtest.Run(t, "test.db", func(t *testing.T, backend pgtest.Backend) {
		source := backend.Source(t)
		openTestDB(t, source, testSchema).Close()

		db, err := OpenReadOnly(context.Background(), source, testSchema)
		if err != nil {
			t.Fatalf("OpenReadOnly: %v", err)
		}
		defer db.Close()
		if n := count(t, db, `SELECT count(*) FROM widgets`); n != 1 {
			t.Errorf("widgets has %d rows, want 1", n)
		}
		if _, err := db.ExecContext(context.Background(), `INSERT INTO widgets (name) VALUES ('written by a reader')`); err == nil {
			t.Error("a read-only store took an INSERT")
		}
		err = db.InTx(context.Background(), func(tx *Tx) error {
			_, err := tx.ExecContext(context.Background(), `DELETE FROM widgets`)
			return err
		})
		if err == nil {
			t.Error("a read-only store took a DELETE in a transaction")
		}
		writer := openTestDB(t, source, testSchema)
		if n := count(t, writer, `SELECT count(*) FROM widgets`); n != 1 {
			t.Errorf("widgets has %d rows after the reader's attempts, want 1", n)
		}
	})
}

func TestOpenReadOnlyRefusesWhatIsNotTheStore(t *testing.T) {
	older := Schema{Name: testSchema.Name, SQLite: testSchema.SQLite[:1], Postgres: testSchema.Postgres[:1]}
	tests := []struct {
		name    string
		prepare func(t *testing.T, source string)
		want    string
	}{
		{name: "nothing there", prepare: func(*testing.T, string) {}, want: "no"},
		{name: "an older schema", prepare: func(t *testing.T, source string) { openTestDB(t, source, older).Close() }, want: "start this version's worker once to migrate it"},
		{name: "a newer schema", prepare: func(t *testing.T, source string) {
			newer := testSchema
			newer.SQLite = append(append([]string{}, testSchema.SQLite...), `CREATE TABLE later (id INTEGER)`)
			newer.Postgres = append(append([]string{}, testSchema.Postgres...), `CREATE TABLE later (id BIGINT)`)
			openTestDB(t, source, newer).Close()
		}, want: "newer than this binary knows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pgtest.Run(t, "test.db", func(t *testing.T, backend pgtest.Backend) {
				source := backend.Source(t)
				tt.prepare(t, source)
				_, err := OpenReadOnly(context.Background(), source, testSchema)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("OpenReadOnly: err = %v, want it to say %q", err, tt.want)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
			})
		})
	}
}

// A mistyped directory stays missing: the reader creates neither the
// file nor the directory.
func TestOpenReadOnlyCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mistyped")
	_, err := OpenReadOnly(context.Background(), filepath.Join(dir, "test.db"), testSchema)
	if err == nil || !strings.Contains(err.Error(), "no store at") {
		t.Fatalf("OpenReadOnly: err = %v, want no store", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the mistyped directory exists after the reader's open: %v", err)
	}
}
