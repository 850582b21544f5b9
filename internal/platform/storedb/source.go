package storedb

import (
	"context"
	"fmt"
	"path/filepath"
)

// Source is where a service's store is, as Open takes it: dsn when the
// service has one, else the SQLite file named file in dataDir. It is the
// one place a DSN or a data directory becomes a store's location, for the
// services that open their own store and for the commands that open them
// all, so that both always find the same store.
func Source(dsn, dataDir, file string) (string, error) {
	if err := CheckDSN(dsn); err != nil {
		return "", err
	}
	if dsn != "" {
		return dsn, nil
	}
	return filepath.Join(dataDir, file), nil
}

// Opener is a service's Open: it opens the service's store at source,
// creating and migrating it as the service needs.
type Opener[S any] func(ctx context.Context, source string, opts ...Option) (S, error)

// OpenAt opens the store of the service called name where dsn or dataDir
// puts it (Source, with the service's SQLite file), with the service's own
// open. A worker opens each service's store this way before it registers
// the service's activities.
func OpenAt[S any](ctx context.Context, name string, open Opener[S], dsn, dataDir, file string, opts ...Option) (S, error) {
	source, err := Source(dsn, dataDir, file)
	if err != nil {
		var none S
		return none, fmt.Errorf("%s store: %w", name, err)
	}
	return open(ctx, source, opts...)
}
