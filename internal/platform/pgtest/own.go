package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgserver"
)

// SuperuserReservedConnections is the clusters' superuser_reserved_connections,
// PostgreSQL's default: the connections that only a superuser may take, so
// other roles get max_connections less these.
const SuperuserReservedConnections = pgserver.SuperuserReservedConnections

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
// password, as in production. Its superuser holds one connection, for
// Database and Admin.
type Cluster struct {
	*pgserver.Cluster
}

// Start starts a cluster for t alone, and stops and removes it when t
// ends. Without the PostgreSQL server binaries, t fails, or is skipped
// with -short.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := pgserver.Start(pgserver.Options{MaxConnections: opts.MaxConnections, Durable: opts.Durable})
	if err != nil {
		if testing.Short() {
			t.Skipf("PostgreSQL cluster skipped in -short mode: %v", err)
		}
		t.Fatalf("PostgreSQL cluster: %v (%s, or run with -short to skip)", err, pgserver.InstallHint)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return &Cluster{c}
}

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
		if _, err := c.Admin().ExecContext(ctx, stmt); err != nil {
			t.Fatalf("create the database of %s: %v", role, err)
		}
	}
	return role, fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", role, password, c.Port(), role)
}
