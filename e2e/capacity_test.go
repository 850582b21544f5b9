package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// TestPoolsFitPostgres runs three replicas of every service, with every
// store in one PostgreSQL database whose max_connections is just what the
// sizing rule asks for their pools (internal/stores.Conn), under a load far
// above the pools that starts while the stock's rows are locked, as a slow
// or busy database holds them: the reservations of two replicas wait with
// every connection their pools allow, and the third replica starts then,
// migrating on the busy server. Every order must end as asked, with the
// records that says, the audit must be clean, no activity may fail, no
// connection may be refused ("too many clients"), and the server must
// never count more connections than the rule. Without the bound, every
// reservation waiting holds a connection of its own, and the server
// refuses the workers' connections: the third replica cannot start.
//
// The DSNs, passwords included, reach the workers and the starter's audit
// through the environment, as production gives them.
func TestPoolsFitPostgres(t *testing.T) {
	const (
		replicas    = 3
		services    = 4 // each worker hosts order, inventory, payment and shipping
		pool        = 3 // --db-max-conns
		orders      = 120
		concurrency = 120
		// maxHold bounds how long the stock stays locked, under the
		// activities' 10s start-to-close timeout.
		maxHold = 8 * time.Second
	)
	workers := replicas * services * pool
	audit := 3 * storedb.ReadOnlyMaxConns // starter load's audit opens the three stores read-only
	mine := 3                             // this test's: the lock, then the three stores read, one connection each
	// One more connection for pgtest's own, a superuser's, which takes a
	// slot of max_connections like any other.
	cluster := pgtest.Start(t, pgtest.Options{MaxConnections: workers + audit + mine + 1 + pgtest.SuperuserReservedConnections})
	role, dsn := cluster.Database(t)
	for _, env := range []string{"ORDERSAGA_ORDERS_DSN", "ORDERSAGA_INVENTORY_DSN", "ORDERSAGA_PAYMENT_DSN", "ORDERSAGA_SHIPPING_DSN"} {
		t.Setenv(env, dsn)
	}
	t.Setenv("ORDERSAGA_DB_MAX_CONNS", strconv.Itoa(pool))

	s := newStack(t)
	var procs []*process
	for i := range replicas - 1 {
		procs = append(procs, s.startWorker(t, fmt.Sprintf("worker-%d", i)))
	}
	peak := watchConnections(t, cluster, role)
	release := lockStock(t, dsn, maxHold)
	load := startProcess(t, "load", nil, starterBin, "load", "-o", "json", "--orders", strconv.Itoa(orders),
		"--concurrency", strconv.Itoa(concurrency), "--mix", "success=1", "--temporal-address", s.address, "--ui-url", s.uiURL)
	eventually(t, maxHold, "the reservations wait for the stock with every connection of two replicas' inventory pools", func() (bool, string) {
		n := lockWaiters(t, cluster, role)
		return n >= (replicas-1)*pool, fmt.Sprintf("%d waiting", n)
	})
	procs = append(procs, s.startWorker(t, fmt.Sprintf("worker-%d", replicas-1)))
	release()
	rep := waitLoad(t, load)
	most := peak()

	if rep.Total != orders || len(rep.Mismatches) != 0 || rep.Outcomes["success"].Ended["COMPLETED"] != orders {
		t.Errorf("load: %d orders, outcomes %+v, %d not as asked (%v); want %d completed",
			rep.Total, rep.Outcomes, len(rep.Mismatches), rep.Mismatches, orders)
	}
	if rep.Audit == nil || !rep.Audit.OK || len(rep.Audit.Violations) != 0 {
		t.Errorf("load's audit of the stores on PostgreSQL: %+v, want a pass", rep.Audit)
	}
	if most > workers+audit {
		t.Errorf("%d connections of the stores' role at once, want at most %d (%d workers' pools, %d for the audit)", most, workers+audit, workers, audit)
	}
	// PostgreSQL refuses a connection beyond its limit with SQLSTATE
	// 53300, in one of two messages.
	refused := []string{"53300", "too many clients", "remaining connection slots"}
	for _, p := range procs {
		out := p.output()
		for _, bad := range append(refused, "level=ERROR") {
			if strings.Contains(out, bad) {
				t.Errorf("%s logged %q:\n%s", p.name, bad, p.tail(40))
			}
		}
	}
	for _, bad := range refused[1:] {
		if log := cluster.Log(); strings.Contains(log, bad) {
			t.Errorf("the server refused connections (%q):\n%s", bad, log)
		}
	}
	assertRecordCounts(t, dsn, orders)
	t.Logf("%d orders at %.1f/s, at most %d connections of the stores at once", orders, rep.PerSecond, most)
}

// lockStock locks the stock's rows in the database at dsn, as a long
// transaction would, so that every reservation waits for them, until the
// returned func is called or maxHold has passed.
func lockStock(t *testing.T, dsn string, maxHold time.Duration) (release func()) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT sku FROM products FOR UPDATE`); err != nil {
		db.Close()
		t.Fatal(err)
	}
	var once sync.Once
	var rbErr error
	unlock := func() {
		once.Do(func() {
			rbErr = tx.Rollback()
			db.Close()
		})
	}
	timer := time.AfterFunc(maxHold, unlock)
	release = func() {
		timer.Stop()
		unlock()
		if rbErr != nil {
			t.Errorf("release the stock: %v", rbErr)
		}
	}
	t.Cleanup(release)
	return release
}

// lockWaiters counts the connections of role that wait for a lock.
func lockWaiters(t *testing.T, cluster *pgtest.Cluster, role string) int {
	t.Helper()
	var n int
	err := cluster.Admin().QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'`, role).Scan(&n)
	if err != nil {
		t.Fatalf("count the connections waiting for a lock: %v", err)
	}
	return n
}

// waitLoad waits for `starter load -o json` to end, and decodes its report.
func waitLoad(t *testing.T, load *process) loadReport {
	t.Helper()
	select {
	case <-load.done:
	case <-time.After(orderTimeout):
		t.Fatalf("starter load did not end within %s:\n%s", orderTimeout, load.tail(40))
	}
	if load.err != nil {
		t.Fatalf("starter load: %v\n%s", load.err, load.output())
	}
	var rep loadReport
	if err := json.Unmarshal([]byte(load.output()), &rep); err != nil {
		t.Fatalf("decode the load's report: %v\n%s", err, load.output())
	}
	return rep
}

// watchConnections counts the server's connections of role every few
// milliseconds until the returned func is called, which returns the most
// it counted at once.
func watchConnections(t *testing.T, cluster *pgtest.Cluster, role string) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	most := 0
	var err error
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond) // sampling period
		defer tick.Stop()
		for {
			var n int
			qerr := cluster.Admin().QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, role).Scan(&n)
			if ctx.Err() != nil {
				return
			}
			if qerr != nil {
				err = qerr
				return
			}
			most = max(most, n)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() int {
		cancel()
		wg.Wait()
		if err != nil {
			t.Errorf("count the connections of the stores: %v", err)
		}
		return most
	}
}

// assertRecordCounts checks what the stores hold: a reservation, a captured
// charge and a shipment for each of the completed orders, and nothing
// else.
func assertRecordCounts(t *testing.T, dsn string, completed int) {
	t.Helper()
	ctx := context.Background()
	one := storedb.WithMaxConns(1)
	inv, err := inventory.Open(ctx, dsn, one)
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	pay, err := payment.Open(ctx, dsn, one)
	if err != nil {
		t.Fatal(err)
	}
	defer pay.Close()
	shp, err := shipping.Open(ctx, dsn, one)
	if err != nil {
		t.Fatal(err)
	}
	defer shp.Close()
	c := stores{inv, pay, shp}.contents(t)

	count := func(statuses []string) map[string]int {
		n := map[string]int{}
		for _, s := range statuses {
			n[s]++
		}
		return n
	}
	var res, chg, shps []string
	for _, r := range c.Reservations {
		res = append(res, r.Status)
	}
	for _, ch := range c.Charges {
		chg = append(chg, ch.Status)
	}
	for _, sh := range c.Shipments {
		shps = append(shps, sh.Status)
	}
	for _, tt := range []struct {
		what string
		got  map[string]int
		want map[string]int
	}{
		{"reservations", count(res), map[string]int{inventory.Reserved: completed}},
		{"charges", count(chg), map[string]int{payment.Captured: completed}},
		{"shipments", count(shps), map[string]int{shipping.Created: completed}},
	} {
		if !maps.Equal(tt.got, tt.want) {
			t.Errorf("%s by status: %v, want %v", tt.what, tt.got, tt.want)
		}
	}
}

// TestDSNPasswordsStayOffTheCommandLine: a DSN flag with a password is
// refused by every command that takes one, before it connects to anything,
// in one line that names where the password goes instead, and without
// repeating it.
func TestDSNPasswordsStayOffTheCommandLine(t *testing.T) {
	const secret = "s3cr3t-on-argv"
	withPassword := "postgres://svc:" + secret + "@127.0.0.1:1/store?sslmode=disable"
	tests := []struct {
		name, bin string
		args      []string
		want      string
	}{
		{"worker run", workerBin, []string{"run", "--orders-dsn", withPassword}, "worker: --orders-dsn holds a password"},
		{"worker", workerBin, []string{"--shipping-dsn=" + withPassword}, "worker: --shipping-dsn holds a password"},
		{"worker stock", workerBin, []string{"stock", "list", "--inventory-dsn", withPassword}, "worker: --inventory-dsn holds a password"},
		{"worker audit", workerBin, []string{"audit", "--payment-dsn", "postgres://svc@127.0.0.1:1/store?password=" + secret},
			"worker: --payment-dsn holds a password"},
		{"starter load", starterBin, []string{"load", "--orders", "1", "--concurrency", "1", "--inventory-dsn", withPassword},
			"starter: --inventory-dsn holds a password"},
		{"starter load, payment", starterBin, []string{"load", "--orders", "1", "--concurrency", "1", "--payment-dsn", withPassword},
			"starter: --payment-dsn holds a password"},
		{"starter load without its audit", starterBin, []string{"load", "--orders", "1", "--concurrency", "1", "--audit=false", "--payment-dsn", withPassword},
			"starter: --payment-dsn holds a password"},
		{"starter load, shipping", starterBin, []string{"load", "--orders", "1", "--concurrency", "1", "--shipping-dsn", withPassword},
			"starter: --shipping-dsn holds a password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCommand(t, tt.bin, append(tt.args, "--temporal-address", "127.0.0.1:1")...)
			stderr := strings.TrimSuffix(r.stderr, "\n")
			if r.code != 1 || !strings.HasPrefix(stderr, tt.want) || strings.Contains(stderr, "\n") ||
				!strings.Contains(stderr, "_DSN") || !strings.Contains(stderr, "PGPASSWORD") {
				t.Errorf("want exit 1 and one line starting %q that names the fix: %s", tt.want, r)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("the password was printed: %s", r)
			}
		})
	}
}
