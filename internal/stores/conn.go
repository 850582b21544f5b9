package stores

import (
	"cmp"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/internal/platform/sqlitedb"
	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// Environment variables read as the defaults of --sqlite-synchronous and
// --db-max-conns.
const (
	SQLiteSynchronousEnv = "ORDERSAGA_SQLITE_SYNCHRONOUS"
	DBMaxConnsEnv        = "ORDERSAGA_DB_MAX_CONNS"
)

// Conn is how a command opens the stores it writes to: when a SQLite
// commit returns, and how many connections each store may hold. The zero
// value is the default of both: commits that survive a power loss, and
// storedb.DefaultMaxConns.
//
// A PostgreSQL server must have room for every pool at once, or a replica
// that starts finds no connection for its migration and a busy one fails
// its activities with "too many clients":
//
//	replicas × services per worker process × MaxConns
//	  + 3 × storedb.ReadOnlyMaxConns per audit running (the audit service, worker audit, starter load)
//	  + 1 per admin command running (worker stock)
//	  ≤ max_connections − superuser_reserved_connections
//
// counting only the replicas whose stores are on that server. A worker
// runs at most MaxConns of a service's activities at once (the order
// service: its claims, which are local activities), each of which holds at
// most one connection at a time, so none waits for a connection.
type Conn struct {
	Synchronous sqlitedb.Synchronous
	// MaxConns bounds each store's pool; 0 is storedb.DefaultMaxConns.
	MaxConns int

	registered bool  // the flags were registered: MaxConns is the flag's
	envErr     error // an environment variable that does not parse
}

func (c *Conn) register(pf *pflag.FlagSet) {
	c.registered = true
	var errSync, errMax error
	c.Synchronous, errSync = envSynchronous()
	c.MaxConns, errMax = envInt(DBMaxConnsEnv, storedb.DefaultMaxConns)
	c.envErr = cmp.Or(errSync, errMax) // one line: the first that does not parse
	pf.Var(&c.Synchronous, "sqlite-synchronous",
		"when a SQLite store's commit returns: full, once it is on the disk; normal is faster but can lose the last commits on a power loss or a kernel crash (an order COMPLETED with no charge recorded), so use it only to measure what full costs (env "+SQLiteSynchronousEnv+")")
	pf.IntVar(&c.MaxConns, "db-max-conns", c.MaxConns,
		"connections each store may hold at once, and each service's activities this worker runs at once; on PostgreSQL, replicas × services per worker × this, plus the audits', must fit in max_connections − superuser_reserved_connections (env "+DBMaxConnsEnv+")")
}

// check refuses a setting out of range, or an environment variable that
// does not parse, before anything starts.
func (c Conn) check() error {
	if c.envErr != nil {
		return c.envErr
	}
	if c.MaxConns < 0 || c.registered && c.MaxConns == 0 {
		return fmt.Errorf("--db-max-conns is %d: give at least 1 connection per store (default %d)", c.MaxConns, storedb.DefaultMaxConns)
	}
	return nil
}

// Pool is how many connections each store may hold, and how many of a
// service's activities a worker runs at once.
func (c Conn) Pool() int {
	if c.MaxConns < 1 {
		return storedb.DefaultMaxConns
	}
	return c.MaxConns
}

// Options are what the services' Open functions take to open a store as
// c says.
func (c Conn) Options() []storedb.Option {
	return []storedb.Option{storedb.WithSynchronous(c.Synchronous), storedb.WithMaxConns(c.Pool())}
}

func envSynchronous() (sqlitedb.Synchronous, error) {
	v, ok := os.LookupEnv(SQLiteSynchronousEnv)
	if !ok || v == "" {
		return sqlitedb.SynchronousFull, nil
	}
	s, err := sqlitedb.ParseSynchronous(v)
	if err != nil {
		return sqlitedb.SynchronousFull, fmt.Errorf("%s: %w", SQLiteSynchronousEnv, err)
	}
	return s, nil
}

func envInt(name string, def int) (int, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def, fmt.Errorf("%s is %q: give a whole number such as %d", name, v, def)
	}
	return n, nil
}
