package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
)

// Options are the settings of a cluster that a test starts for itself.
type Options struct {
	// MaxConnections is the server's max_connections; 0 is the shared
	// cluster's. Roles other than the superuser get
	// MaxConnections − SuperuserReservedConnections of them.
	MaxConnections int
	// Durable keeps PostgreSQL's own durability settings (fsync,
	// synchronous_commit and full_page_writes on), as a production server
	// and the postgres image run it, for figures and behaviour that match
	// production. Tests leave it off, trading a crash's data for speed.
	Durable bool
}

// Cluster is a PostgreSQL server that one test started for itself, for a
// setting that the shared cluster's other tests must not feel, such as a
// small max_connections. Its roles other than the superuser log in with a
// password, as in production.
type Cluster struct {
	c        *cluster
	stopOnce sync.Once
}

// Start starts a cluster for t alone, and stops and removes it when t
// ends. Its superuser holds one connection, for Database and Admin.
// Without the PostgreSQL server binaries, t fails, or is skipped with
// -short.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := StartCluster(opts)
	if err != nil {
		if testing.Short() {
			t.Skipf("PostgreSQL cluster skipped in -short mode: %v", err)
		}
		t.Fatalf("PostgreSQL cluster: %v (%s, or run with -short to skip)", err, InstallHint)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

// InstallHint says how to get the PostgreSQL server binaries that a
// cluster needs.
const InstallHint = "install the PostgreSQL server with scripts/install-test-deps.sh, which make test runs"

// StartCluster starts a cluster as Start does, for a program that is not a
// test (a benchmark, a stack brought up by hand): the caller stops it with
// Stop. Its superuser holds one connection, for Database and Admin.
func StartCluster(opts Options) (*Cluster, error) {
	if opts.MaxConnections == 0 {
		opts.MaxConnections = sharedMaxConnections
	}
	c, err := start(settings{maxConnections: opts.MaxConnections, passwords: true, durable: opts.Durable})
	if err != nil {
		return nil, err
	}
	// The admin connection is one, and counts against MaxConnections.
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

// Database creates a new, empty database and a role that owns it, is no
// superuser and logs in with a password, and returns the role's name and
// its DSN, password included.
func (c *Cluster) Database(t testing.TB) (role, dsn string) {
	t.Helper()
	n := databaseNo.Add(1)
	role = fmt.Sprintf("role_%d", n)
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	password := hex.EncodeToString(b)
	ctx := context.Background()
	for _, stmt := range []string{
		fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password),
		fmt.Sprintf(`CREATE DATABASE %s OWNER %s`, role, role),
	} {
		if _, err := c.c.admin.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("create the database of %s: %v", role, err)
		}
	}
	return role, fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", role, password, c.c.port, role)
}

// Admin is the superuser's connection, for a test's own look at the
// server, such as pg_stat_activity. It holds one connection.
func (c *Cluster) Admin() *sql.DB { return c.c.admin }

// Log is what the server has logged so far.
func (c *Cluster) Log() string { return c.c.log() }
