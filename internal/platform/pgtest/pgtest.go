// Package pgtest starts a throwaway PostgreSQL cluster for a test binary
// and gives each test its own database in it, so that the stores' test
// suites run against a real server as well as against SQLite.
//
// A package that uses it runs its tests through Main:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// The cluster (a pgserver.Cluster) starts on first use, listens on a free
// loopback port with its socket in its temporary directory, runs with fsync
// off, and is stopped and removed when the tests end (and killed by the
// kernel if the test binary dies first). It needs the PostgreSQL server
// binaries (initdb, postgres) in PATH or in /usr/lib/postgresql/*/bin.
// Without them a test that asks for a database fails, unless the tests run
// with -short: then it is skipped.
package pgtest

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgserver"
)

var (
	startOnce  sync.Once
	shared     *pgserver.Cluster
	startErr   error
	databaseNo atomic.Int64
)

// startShared starts the test binary's cluster: every role trusted, and
// the superuser's connections as many as the tests that create their
// databases at once need.
func startShared() (*pgserver.Cluster, error) {
	c, err := pgserver.Start(pgserver.Options{Trust: true})
	if err != nil {
		return nil, err
	}
	c.Admin().SetMaxOpenConns(0) // no limit
	return c, nil
}

// Main runs the package's tests, then stops the cluster if one started.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Printf("pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// DSN creates a new, empty database for t in the test binary's cluster,
// starting the cluster first if needed, and returns its DSN.
func DSN(t testing.TB) string {
	t.Helper()
	startOnce.Do(func() { shared, startErr = startShared() })
	if startErr != nil {
		if testing.Short() {
			t.Skipf("PostgreSQL variant skipped in -short mode: %v", startErr)
		}
		t.Fatalf("PostgreSQL test cluster: %v (%s, or run with -short to skip the PostgreSQL variants)", startErr, pgserver.InstallHint)
	}
	name := fmt.Sprintf("test_%d", databaseNo.Add(1))
	if _, err := shared.Admin().ExecContext(context.Background(), `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return shared.DSN(name)
}

// Backend is a kind of database a store's test suite runs on.
type Backend struct {
	Name   string
	source func(t testing.TB) string
}

// Source returns a new, empty database of this backend for t, as the
// stores' Open functions take it: a SQLite file path or a PostgreSQL DSN.
func (b Backend) Source(t testing.TB) string {
	t.Helper()
	return b.source(t)
}

// Backends are SQLite (a file named file in t's temporary directory) and
// PostgreSQL (a new database in the cluster).
func Backends(file string) []Backend {
	return []Backend{
		{Name: "sqlite", source: func(t testing.TB) string { return filepath.Join(t.TempDir(), file) }},
		{Name: "postgres", source: DSN},
	}
}

// Run runs fn once per backend, each as a subtest named after it.
func Run(t *testing.T, file string, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends(file) {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

// Replicas runs fn once per backend and per count in counts, each on a new
// database with that many stores open on it, as that many workers of one
// service would hold. open opens one store on a source.
func Replicas[S any](t *testing.T, file string, counts []int, open func(t *testing.T, source string) S, fn func(t *testing.T, stores []S)) {
	t.Helper()
	for _, n := range counts {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) {
			Run(t, file, func(t *testing.T, b Backend) {
				source := b.Source(t)
				stores := make([]S, n)
				for i := range stores {
					stores[i] = open(t, source)
				}
				fn(t, stores)
			})
		})
	}
}
