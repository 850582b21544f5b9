package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ordersaga/ordersaga/internal/cluster"
)

// The Temporal server the rounds run on: the dev server as `make dev`
// starts it, or docker-compose.yml's Temporal run without Docker
// (internal/cluster: temporal-server nodes on PostgreSQL, configured from
// the compose file as `make rehearsal` runs them), with one node or two.
const (
	serverDev     = "dev"
	serverCluster = "cluster"
	// serverEnv chooses the server when -server is not given, for
	// `make bench BENCH_SERVER=cluster`.
	serverEnv = "BENCH_SERVER"
)

// Programs the cluster runs besides the dev server's temporal CLI (its
// health check and namespace job).
const (
	temporalServerBin = "bin/temporal-server"
	sqlToolBin        = "bin/temporal-sql-tool"
)

// startCluster starts the compose stack's Temporal with nodes nodes under
// e.dir. The worker and the starter dial node 1's frontend, as the SDK
// dials one address: with two nodes, node 1 forwards the requests for the
// history shards and task queue partitions that node 2 owns.
func (e *env) startCluster(ctx context.Context, nodes int) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	started := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{
		Root:  root,
		Dir:   filepath.Join(e.dir, "cluster"),
		Nodes: nodes,
		Logf:  func(format string, args ...any) { fmt.Printf("cluster: "+format+"\n", args...) },
	})
	if err != nil {
		return fmt.Errorf("start the compose stack's Temporal (%d nodes): %w", nodes, err)
	}
	e.cluster = c
	e.address = c.Frontend(0)
	fmt.Printf("cluster of %d node(s) on PostgreSQL up in %s; clients dial %s; logs in %s\n",
		nodes, time.Since(started).Round(time.Second), e.address, filepath.Join(e.dir, "cluster"))
	return nil
}

// serverPIDs are the processes whose CPU is the Temporal server's: the dev
// server, or every running node of the cluster.
func (e *env) serverPIDs() []int {
	if e.cluster == nil {
		return []int{e.server.PID()}
	}
	var pids []int
	for i := range e.cluster.Nodes() {
		if pid := e.cluster.NodePID(i); pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// checkClusterBinaries checks that the programs the cluster runs are
// built.
func checkClusterBinaries() error {
	for _, p := range []string{temporalServerBin, sqlToolBin} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: run `make bin/temporal-server bin/temporal-sql-tool` (make bench does)", p)
		}
	}
	return nil
}
