package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// writeClusterResults writes the results of the rounds on the compose
// stack's cluster: for each node count the saga against the baseline,
// where the CPU went (the nodes, PostgreSQL, the worker), the targets,
// then each node count against the first, and every round.
func writeClusterResults(path string, o options, runs []result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark: the order saga against the baseline on docker-compose.yml's Temporal\n\n")
	fmt.Fprintf(&b, "Written by `make bench BENCH_SERVER=cluster` on %s. %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), clusterMachine())
	b.WriteString(clusterMethod(o))
	if len(o.workerArgs) > 0 {
		fmt.Fprintf(&b, "Worker flags: `%s`.\n\n", strings.Join(o.workerArgs, " "))
	}
	saga := defaultVariant.name
	for _, n := range o.nodeCounts {
		rs := withNodes(runs, n)
		fmt.Fprintf(&b, "## %s\n\n", nodesName(n))
		b.WriteString(ratioTable(rs, o.concurrencies, baselineName, saga))
		b.WriteString("\n" + cpuPerWorkflowTable(rs, o.concurrencies, []string{baselineName, saga}) + "\n")
		b.WriteString(targets(rs, o) + "\n")
		b.WriteString(workTable(rs, o.concurrencies, []string{saga}, nodesPossessive(n)))
	}
	if len(o.nodeCounts) > 1 {
		fmt.Fprintf(&b, "## Each node count against %s\n\n", strings.ToLower(nodesName(o.nodeCounts[0])))
		b.WriteString(nodesTable(runs, o.concurrencies, o.nodeCounts, []string{baselineName, saga}))
		b.WriteString("\n")
	}
	return writeWithRounds(path, &b, runs)
}

// clusterMethod says how the rounds on the cluster ran.
func clusterMethod(o options) string {
	return fmt.Sprintf("Each node count and concurrency runs on a fresh cluster brought up from docker-compose.yml's own files as `make rehearsal` "+
		"brings it up (internal/cluster): PostgreSQL 15 initialised by deploy/postgres/init-databases.sh, the schema and namespace jobs, "+
		"`temporal-server` nodes with every role each, configured from the server's config template with compose's environment "+
		"(its history shards, connection pools and dynamic config), all on this one machine. One worker runs both workflows on SQLite stores, "+
		"as on the dev server, so that only Temporal differs; it and the starter dial node 1's frontend, which forwards to node 2 "+
		"what node 2 owns. A warm-up of %d of each workflow, then %d rounds of each, alternating which goes first; "+
		"a round is one `starter load` of max(%d, %d × concurrency) workflows. The saga runs orders that ship at once "+
		"(`--mix success=100`); the baseline is three no-op activities. Figures are the means of the rounds; CPU is in cores "+
		"(1.00 = one core busy) over the round's wall time, the server's being every node's together.\n\n",
		o.warmup, o.rounds, o.minOrders, o.ordersPerSlot)
}

// clusterMachine describes the machine and the cluster's versions.
func clusterMachine() string {
	return fmt.Sprintf("Machine: %d cores, %s/%s. Go %s. Temporal Server %s built from the module proxy (tools/go.mod), on PostgreSQL %s. Temporal Go SDK %s.",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, strings.TrimPrefix(runtime.Version(), "go"),
		requiredVersion("tools/go.mod", "go.temporal.io/server"), postgresVersion(), requiredVersion("go.mod", "go.temporal.io/sdk"))
}

// postgresVersion is the version of the PostgreSQL server the cluster
// ran, as the postgres binary on PATH or Debian's reports it
// ("postgres (PostgreSQL) 15.18 (Debian ...)"); "15" if none answers.
func postgresVersion() string {
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	for _, bin := range append([]string{"postgres"}, debian...) {
		if out, err := exec.Command(bin, "--version").Output(); err == nil {
			if m := regexp.MustCompile(`PostgreSQL\) (\S+)`).FindSubmatch(out); m != nil {
				return string(m[1])
			}
		}
	}
	return "15"
}

// cpuPerWorkflowTable says where the cluster's CPU went, per workflow:
// the server nodes, PostgreSQL and the worker, in milliseconds of CPU per
// workflow at each concurrency, from the rounds' CPU in cores and their
// throughput.
func cpuPerWorkflowTable(runs []result, concurrencies []int, names []string) string {
	var b strings.Builder
	b.WriteString("CPU per workflow, in ms: each process's mean CPU over the rounds, in cores, ÷ their mean workflows a second.\n\n")
	b.WriteString("| concurrency | workflow | server nodes | PostgreSQL | worker | total |\n|---|---|---|---|---|---|\n")
	for _, c := range concurrencies {
		for _, name := range names {
			s := summarize(runs, name, c)
			server, db, worker := perOrder(s.serverCPU, s.perSecond), perOrder(s.dbCPU, s.perSecond), perOrder(s.workerCPU, s.perSecond)
			fmt.Fprintf(&b, "| %d | %s | %.1f | %.1f | %.1f | %.1f |\n", c, name, server, db, worker, server+db+worker)
		}
	}
	return b.String()
}

// nodesTable compares each node count with the first, for each workflow
// at each concurrency: throughput, p50 and the CPU per workflow of the
// server nodes and PostgreSQL together.
func nodesTable(runs []result, concurrencies, nodeCounts []int, names []string) string {
	first := nodeCounts[0]
	var b strings.Builder
	fmt.Fprintf(&b, "| concurrency | workflow | nodes | /s | throughput /%[1]d | p50 ms | p50 /%[1]d | p99 ms | server + PostgreSQL CPU ms/workflow |\n", first)
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range concurrencies {
		for _, name := range names {
			ref := summarize(withNodes(runs, first), name, c)
			for _, n := range nodeCounts {
				s := summarize(withNodes(runs, n), name, c)
				fmt.Fprintf(&b, "| %d | %s | %d | %.1f | **%.2f** | %.0f | **%.2f** | %.0f | %.1f |\n", c, name, n, s.perSecond,
					ratio(s.perSecond, ref.perSecond), s.p50, ratio(s.p50, ref.p50), s.p99, perOrder(s.serverCPU+s.dbCPU, s.perSecond))
			}
		}
	}
	return b.String()
}

// nodesPossessive is whose CPU a profile of n nodes shows: "the one
// node's", "the two nodes'".
func nodesPossessive(n int) string {
	if n == 1 {
		return "the one node's"
	}
	return "the " + strings.ToLower(nodesName(n)) + "'"
}

// withNodes are the runs on a cluster of n nodes.
func withNodes(runs []result, n int) []result {
	return slices.DeleteFunc(slices.Clone(runs), func(r result) bool { return r.nodes != n })
}

// nodesName names a node count as a heading: "One node", "Two nodes", "3 nodes".
func nodesName(n int) string {
	switch n {
	case 1:
		return "One node"
	case 2:
		return "Two nodes"
	}
	return fmt.Sprintf("%d nodes", n)
}
