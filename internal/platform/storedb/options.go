package storedb

import "github.com/ordersaga/ordersaga/internal/platform/sqlitedb"

// DefaultMaxConns bounds each store's pool of connections unless
// WithMaxConns says otherwise. Each activity holds at most one connection
// at a time (one transaction, or one query), so a worker that runs at most
// this many of a service's activities at once never waits for one. A
// PostgreSQL server must have room for every pool at once
// (internal/stores.Conn has the rule): with its defaults, max_connections
// 100 less 3 reserved for superusers, two workers hosting the four
// services and an audit fit (2 × 4 × 10 + 6 = 86).
const DefaultMaxConns = 10

// Option changes how Open opens a store.
type Option func(*options)

type options struct {
	synchronous sqlitedb.Synchronous
	maxConns    int
}

func newOptions(opts []Option) options {
	o := options{synchronous: sqlitedb.SynchronousFull, maxConns: DefaultMaxConns}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithSynchronous sets when a SQLite store's commit waits for the disk;
// PostgreSQL stores are not affected.
func WithSynchronous(s sqlitedb.Synchronous) Option {
	return func(o *options) { o.synchronous = s }
}

// WithMaxConns bounds the store's pool to n connections; n below 1 keeps
// DefaultMaxConns.
func WithMaxConns(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.maxConns = n
		}
	}
}
