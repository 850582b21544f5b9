package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseFlagsServer(t *testing.T) {
	t.Setenv(serverEnv, "")
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.server != serverDev || o.out != "bench/results.md" || !slices.Equal(o.setups(), []int{0}) {
		t.Errorf("defaults: server %q, out %q, setups %v; want the dev server into bench/results.md", o.server, o.out, o.setups())
	}

	t.Setenv(serverEnv, serverCluster)
	o, err = parseFlags([]string{"-nodes", "1, 3"})
	if err != nil {
		t.Fatal(err)
	}
	if o.server != serverCluster || o.out != "bench/results-cluster.md" || !slices.Equal(o.setups(), []int{1, 3}) {
		t.Errorf("%s=cluster: server %q, out %q, setups %v", serverEnv, o.server, o.out, o.setups())
	}
	if o, _ := parseFlags([]string{"-out", "x.md"}); o.out != "x.md" {
		t.Errorf("-out x.md on a cluster: out %q", o.out)
	}

	t.Setenv(serverEnv, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-server", "kubernetes"}, `--server "kubernetes"`},
		{[]string{"-server", "cluster", "-nodes", "0"}, "--nodes"},
		{[]string{"-server", "cluster", "-server-args", "--dynamic-config-value x=1"}, "docker-compose.yml's configuration"},
		{[]string{"-server", "cluster", "-open", "10"}, "run on the dev server"},
		{[]string{"-server", "cluster", "-audit", "10"}, "run on the dev server"},
	} {
		if _, err := parseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// clusterRound is fakeRound on a cluster of n nodes, with PostgreSQL's CPU.
func clusterRound(name string, nodes int, perSecond, p50, serverCPU, dbCPU float64) result {
	r := fakeRound(name, 10, 1, perSecond, p50, 2*p50, serverCPU, 0.5)
	r.nodes, r.dbCPU = nodes, dbCPU
	return r
}

func TestWriteClusterResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results-cluster.md")
	runs := []result{
		clusterRound(baselineName, 1, 40, 100, 1.0, 0.4), clusterRound("saga", 1, 32, 120, 1.2, 0.8),
		clusterRound(baselineName, 2, 50, 90, 1.5, 0.5), clusterRound("saga", 2, 40, 108, 1.6, 0.8),
	}
	o := options{server: serverCluster, nodeCounts: []int{1, 2}, concurrencies: []int{10}, rounds: 1, minOrders: 200, ordersPerSlot: 8, warmup: 100}
	if err := writeResults(path, o, runs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"## One node\n\n| concurrency |",
		"| 10 | 40.0 | 32.0 | **0.80** | 100 | 120 | **1.20** |", // one node: saga against baseline
		"| 10 | saga | 37.5 | 25.0 | 15.6 | 78.1 |",              // 1.2 cores ÷ 32/s = 37.5 ms; 0.8 ÷ 32 = 25; 0.5 ÷ 32 = 15.6
		"## Two nodes\n\n",
		"| 10 | 50.0 | 40.0 | **0.80** | 90 | 108 | **1.20** |",
		"## Each node count against one node",
		"| 10 | saga | 2 | 40.0 | **1.25** | 108 | **0.90** | 216 | 60.0 |", // (1.6 + 0.8) ÷ 40/s
		"nodes=2 c=10  round 1 saga      200 in",
		"postgres 0.80",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("results lack %q:\n%s", want, got)
		}
	}
}

// procStat reads this process's parent, and treeCPU counts at least the
// CPU this process has used.
func TestProcStat(t *testing.T) {
	ppid, own, _, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ppid != os.Getppid() {
		t.Errorf("procStat: parent %d, want %d", ppid, os.Getppid())
	}
	tree, err := treeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if tree < own {
		t.Errorf("treeCPU %s is less than the process's own %s", tree, own)
	}
}
