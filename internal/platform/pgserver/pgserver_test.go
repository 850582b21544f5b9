package pgserver

import (
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// A cluster started for a program asks roles other than the superuser for
// their password, keeps its socket where SocketDir says, and is gone after
// Stop, which may be called again.
func TestStartStop(t *testing.T) {
	c, err := Start(Options{MaxConnections: 10})
	if err != nil {
		if testing.Short() {
			t.Skipf("PostgreSQL skipped in -short mode: %v", err)
		}
		t.Fatalf("start: %v (%s)", err, InstallHint)
	}
	t.Cleanup(func() { _ = c.Stop() })
	if _, err := c.Admin().Exec(`CREATE ROLE someone LOGIN PASSWORD 'secret'`); err != nil {
		t.Fatal(err)
	}
	if err := ping("postgres://someone@127.0.0.1:" + strconv.Itoa(c.Port()) + "/postgres?sslmode=disable"); err == nil {
		t.Error("a role logged in without its password")
	}
	if err := ping("postgres://someone:secret@127.0.0.1:" + strconv.Itoa(c.Port()) + "/postgres?sslmode=disable"); err != nil {
		t.Errorf("log in with the password: %v", err)
	}
	if err := ping(c.DSN("postgres")); err != nil {
		t.Errorf("the superuser's DSN: %v", err)
	}
	socket := filepath.Join(c.SocketDir(), ".s.PGSQL."+strconv.Itoa(c.Port()))
	if _, err := os.Stat(socket); err != nil {
		t.Errorf("no socket in SocketDir: %v", err)
	}
	pid := c.PID()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("postmaster %d still runs after Stop", pid)
	}
	if _, err := os.Stat(c.SocketDir()); !os.IsNotExist(err) {
		t.Errorf("the cluster's directory is still there: %v", err)
	}
}

func ping(dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Ping()
}
