package stores

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/internal/platform/sqlitedb"
	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// register registers the worker's store flags on a new flag set, parses
// args and checks the result.
func register(t *testing.T, args ...string) (DSNs, error) {
	t.Helper()
	flags := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var d DSNs
	d.Register(flags)
	if err := flags.Parse(args); err != nil {
		return d, err
	}
	return d, d.Check()
}

// --sqlite-synchronous and --db-max-conns default to full and
// storedb.DefaultMaxConns, take their environment variables as defaults,
// and refuse what they cannot use.
func TestConnFlags(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantSync sqlitedb.Synchronous
		wantMax  int
		wantErr  string
	}{
		{name: "defaults", wantSync: sqlitedb.SynchronousFull, wantMax: storedb.DefaultMaxConns},
		{name: "flags", args: []string{"--sqlite-synchronous", "normal", "--db-max-conns", "4"}, wantSync: sqlitedb.SynchronousNormal, wantMax: 4},
		{name: "environment", env: map[string]string{SQLiteSynchronousEnv: "NORMAL", DBMaxConnsEnv: "7"}, wantSync: sqlitedb.SynchronousNormal, wantMax: 7},
		{name: "flag over environment", env: map[string]string{SQLiteSynchronousEnv: "normal", DBMaxConnsEnv: "7"},
			args: []string{"--sqlite-synchronous=full", "--db-max-conns=2"}, wantSync: sqlitedb.SynchronousFull, wantMax: 2},
		{name: "no connection", args: []string{"--db-max-conns", "0"}, wantErr: "--db-max-conns is 0: give at least 1"},
		{name: "negative", args: []string{"--db-max-conns", "-3"}, wantErr: "--db-max-conns is -3: give at least 1"},
		{name: "unknown synchronous", args: []string{"--sqlite-synchronous", "off"}, wantErr: `"off" is not a synchronous setting: use full or normal`},
		{name: "bad synchronous in the environment", env: map[string]string{SQLiteSynchronousEnv: "fast"},
			wantErr: SQLiteSynchronousEnv + `: "fast" is not a synchronous setting: use full or normal`},
		{name: "bad count in the environment", env: map[string]string{DBMaxConnsEnv: "ten"},
			wantErr: DBMaxConnsEnv + ` is "ten": give a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			d, err := register(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Conn.Synchronous != tt.wantSync || d.Conn.Pool() != tt.wantMax {
				t.Errorf("synchronous %v, pool %d; want %v, %d", d.Conn.Synchronous, d.Conn.Pool(), tt.wantSync, tt.wantMax)
			}
		})
	}
}

// A Conn that no flag set, as starter load's and the tests' are, opens
// stores with the defaults.
func TestZeroConn(t *testing.T) {
	var c Conn
	if err := c.check(); err != nil || c.Pool() != storedb.DefaultMaxConns || c.Synchronous != sqlitedb.SynchronousFull {
		t.Errorf("zero Conn: check %v, pool %d, synchronous %v; want the defaults", err, c.Pool(), c.Synchronous)
	}
	if n := len(c.Options()); n != 2 {
		t.Errorf("zero Conn gives %d options, want the synchronous setting and the pool", n)
	}
}

// A DSN flag on the command line must not carry a password: other users
// read it there. The same DSN in the environment is fine, and so is a DSN
// flag without a password. The error never repeats the DSN.
func TestCheckRefusesPasswordsOnTheCommandLine(t *testing.T) {
	const secret = "s3cr3t"
	tests := []struct {
		name     string
		register func(*DSNs, *pflag.FlagSet)
		env      map[string]string
		args     []string
		wantErr  string // empty: accepted
	}{
		{name: "orders flag with a password", register: (*DSNs).Register,
			args: []string{"--orders-dsn", "postgres://orders:" + secret + "@db:5432/orders"}, wantErr: "--orders-dsn holds a password"},
		{name: "inventory flag with a password", register: (*DSNs).Register,
			args: []string{"--inventory-dsn=postgresql://inv:" + secret + "@db/inv"}, wantErr: "--inventory-dsn holds a password"},
		{name: "payment flag with a password parameter", register: (*DSNs).Register,
			args: []string{"--payment-dsn", "postgres://pay@db/pay?sslmode=disable&password=" + secret}, wantErr: "--payment-dsn holds a password"},
		{name: "shipping flag with a password, audited", register: (*DSNs).RegisterAudited,
			args: []string{"--shipping-dsn", "postgres://shp:" + secret + "@db/shp"}, wantErr: "--shipping-dsn holds a password"},
		{name: "flag without a password", register: (*DSNs).Register,
			args: []string{"--payment-dsn", "postgres://pay@db:5432/pay?sslmode=disable"}},
		{name: "environment with passwords", register: (*DSNs).Register,
			env: map[string]string{
				OrdersDSNEnv: "postgres://o:" + secret + "@db/o", InventoryDSNEnv: "postgres://i:" + secret + "@db/i",
				PaymentDSNEnv: "postgres://p:" + secret + "@db/p", ShippingDSNEnv: "postgres://s:" + secret + "@db/s",
			}},
		{name: "environment with a password, flag without", register: (*DSNs).RegisterAudited,
			env:  map[string]string{PaymentDSNEnv: "postgres://p:" + secret + "@db/p"},
			args: []string{"--inventory-dsn", "postgres://i@db/i"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			flags := pflag.NewFlagSet("t", pflag.ContinueOnError)
			var d DSNs
			tt.register(&d, flags)
			if err := flags.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := d.Check()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check = %v, want the DSNs accepted", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Check = %v, want one line starting %q", err, tt.wantErr)
			}
			for _, fix := range []string{"ORDERSAGA_", "_DSN", "PGPASSWORD", "~/.pgpass"} {
				if !strings.Contains(err.Error(), fix) {
					t.Errorf("error %q does not name the fix %s", err, fix)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "@db") {
				t.Errorf("error %q repeats the DSN", err)
			}
		})
	}
}

// The help shows no DSN taken from the environment: it may hold a
// password. It says where a DSN with a password goes.
func TestHelpShowsNoDSN(t *testing.T) {
	t.Setenv(OrdersDSNEnv, "postgres://o:s3cr3t@db/o")
	t.Setenv(PaymentDSNEnv, "postgres://p:s3cr3t@db/p")
	flags := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var d DSNs
	d.Register(flags)
	help := flags.FlagUsages()
	if strings.Contains(help, "s3cr3t") || strings.Contains(help, "@db/") {
		t.Errorf("help shows a DSN from the environment:\n%s", help)
	}
	for _, name := range []string{"orders", "inventory", "payment", "shipping"} {
		f := flags.Lookup(name + "-dsn")
		if f == nil || !strings.Contains(f.Usage, "PGPASSWORD") || !strings.Contains(f.Usage, "ORDERSAGA_"+strings.ToUpper(name)+"_DSN") {
			t.Errorf("--%s-dsn help does not say where a password goes: %+v", name, f)
		}
	}
	if d.Orders != "postgres://o:s3cr3t@db/o" || d.Payment != "postgres://p:s3cr3t@db/p" {
		t.Errorf("DSNs from the environment not taken: %+v", d)
	}
	if f := flags.Lookup("sqlite-synchronous"); f == nil || !strings.Contains(f.Usage, "power loss") {
		t.Errorf("--sqlite-synchronous help does not say what normal risks: %+v", f)
	}
	if f := flags.Lookup("db-max-conns"); f == nil || !strings.Contains(f.Usage, "max_connections") {
		t.Errorf("--db-max-conns help does not give the sizing rule: %+v", f)
	}
}
