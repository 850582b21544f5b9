package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
)

// OpenReadOnly opens the existing SQLite database at path for reading
// only, for a reader such as the audit that must never create, migrate or
// change a store: a missing file is an error (a mistyped directory must not
// become a new empty store that passes every check), every connection is
// query-only, and the schema must be at version want, the version this
// binary writes.
func OpenReadOnly(ctx context.Context, path string, want int) (*sql.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no store at %s: check the data directory (a worker creates its store when it first starts)", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis))
	q.Add("_pragma", "query_only(1)")
	// mode=rw opens an existing file and never creates one.
	q.Set("mode", "rw")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := checkVersion(ctx, db, path, want); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkVersion refuses a database whose schema is not at version want.
func checkVersion(ctx context.Context, db *sql.DB, path string, want int) error {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version of %s: %w", path, err)
	}
	switch {
	case version == 0:
		return fmt.Errorf("%s is not a store of this service (it has no schema)", path)
	case version < want:
		return fmt.Errorf("store %s has schema version %d, this binary reads version %d: start this version's worker once to migrate it", path, version, want)
	case version > want:
		return fmt.Errorf("store %s has schema version %d, newer than this binary knows (%d): use a newer binary", path, version, want)
	}
	return nil
}
