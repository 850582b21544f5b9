// Package pgserver starts a throwaway PostgreSQL cluster from the installed
// server binaries, for a program that needs a real server of its own: the
// tests (through pgtest), the benchmark and the compose stack without
// Docker (through internal/cluster).
//
// A cluster is initialised in a new temporary directory, listens on a free
// loopback port with its socket in that directory, and is stopped and
// removed by Stop; the kernel kills it if the program dies first. It needs
// the PostgreSQL server binaries (initdb, postgres) in PATH or in
// /usr/lib/postgresql/*/bin. The package imports no testing, so that
// programs other than tests link it without the test flags.
package pgserver

import (
	"database/sql"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// SuperuserReservedConnections is the clusters' superuser_reserved_connections,
// PostgreSQL's default: the connections that only a superuser may take, so
// other roles get max_connections less these.
const SuperuserReservedConnections = 3

// defaultMaxConnections is max_connections when Options leave it 0: room
// for the tests that open many stores at once.
const defaultMaxConnections = 400

// InstallHint says how to get the PostgreSQL server binaries that a
// cluster needs.
const InstallHint = "install the PostgreSQL server with scripts/install-test-deps.sh, which make test runs"

// Options are the settings of a cluster.
type Options struct {
	// MaxConnections is the server's max_connections; 0 is 400. Roles
	// other than the superuser get MaxConnections −
	// SuperuserReservedConnections of them.
	MaxConnections int
	// Durable keeps PostgreSQL's own durability settings (fsync,
	// synchronous_commit and full_page_writes on), as a production server
	// and the postgres image run it, for figures and behaviour that match
	// production. Tests leave it off, trading a crash's data for speed.
	Durable bool
	// Trust lets every role in without a password, as a test binary's
	// shared cluster does. Otherwise the roles other than the superuser
	// postgres log in over TCP with a password, as in production.
	Trust bool
}

// Cluster is a PostgreSQL server that this process started.
type Cluster struct {
	c        *cluster
	stopOnce sync.Once
}

// Start initialises a cluster and starts it; the caller stops it with
// Stop. Its superuser holds one connection, for Admin: it counts against
// MaxConnections.
func Start(opts Options) (*Cluster, error) {
	if opts.MaxConnections == 0 {
		opts.MaxConnections = defaultMaxConnections
	}
	c, err := start(settings{maxConnections: opts.MaxConnections, passwords: !opts.Trust, durable: opts.Durable})
	if err != nil {
		return nil, err
	}
	c.admin.SetMaxOpenConns(1)
	return &Cluster{c: c}, nil
}

// Stop stops the server at once and removes its files. Only the first
// call stops it; later ones return nil.
func (c *Cluster) Stop() error {
	var err error
	c.stopOnce.Do(func() { err = c.c.stop() })
	return err
}

// PID is the postmaster's process ID; the server's backends are its
// children.
func (c *Cluster) PID() int { return c.c.server.Process.Pid }

// Port is the loopback TCP port the server listens on.
func (c *Cluster) Port() int { return c.c.port }

// SocketDir is the directory of the server's Unix socket, for psql and
// other clients that connect as the superuser without TCP.
func (c *Cluster) SocketDir() string { return c.c.dir }

// DSN is the superuser's DSN of database, over TCP.
func (c *Cluster) DSN(database string) string { return c.c.dsn(database) }

// Admin is the superuser's connection to the maintenance database, for
// creating roles and databases and for a look at the server, such as
// pg_stat_activity.
func (c *Cluster) Admin() *sql.DB { return c.c.admin }

// Log is what the server has logged so far.
func (c *Cluster) Log() string { return c.c.log() }
