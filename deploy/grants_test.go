package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pgWait bounds the server's start, its stop, and each psql.
const pgWait = 60 * time.Second

// TestInitScriptGrantsAuditReadOnly proves on a real PostgreSQL, of the
// compose file's postgres image's major version, what the audit's
// credentials allow: the init script runs as the image runs it (over the
// server's socket, with the postgres service's environment as compose fills
// it from .env.example); each audited store's owner then creates a table
// and writes a row, as the service does on its first start; and with the
// DSNs of the audit container, over TCP with its password, the audit reads
// that row but may not write, create a table, or connect to Temporal's
// databases or the order register.
//
// The cluster is started here as internal/platform/pgtest starts its own (that
// package belongs to the main module, which this one keeps out of its
// dependencies): initdb, then postgres as a child of the test on a free
// loopback port, as nobody when the test runs as root.
func TestInitScriptGrantsAuditReadOnly(t *testing.T) {
	p := load(t, true)
	pgService := one(t, p, "postgres")
	_, tag, _ := splitImage(pgService.Image)
	major, _, _ := strings.Cut(tag, ".")

	psql, err := exec.LookPath("psql")
	if err != nil {
		if psql = filepath.Join("/usr/lib/postgresql", major, "bin", "psql"); !isFile(psql) {
			if testing.Short() {
				t.Skip("psql not found, so the init script cannot run (-short)")
			}
			t.Fatalf("psql not found, so the init script cannot run: install it with scripts/install-test-deps.sh (make test does; apt-get install postgresql-%s), or run with -short to skip this test", major)
		}
	}
	bin, err := serverBinaries(major)
	if err != nil {
		if testing.Short() {
			t.Skipf("skipped in -short mode: %v", err)
		}
		t.Fatalf("%v: install it (apt-get install postgresql-%s), or run with -short to skip this test", err, major)
	}
	c := startCluster(t, bin)

	ctx, cancel := context.WithTimeout(t.Context(), 3*pgWait)
	defer cancel()
	// The client finds psql where the script does, and no PG* variable of
	// the caller's changes where it connects or as whom.
	base := []string{"PATH=" + filepath.Dir(psql) + string(os.PathListSeparator) + os.Getenv("PATH"), "PGCONNECT_TIMEOUT=10"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "PATH=") {
			base = append(base, kv)
		}
	}

	// The image runs its init scripts with the server listening on its
	// socket only, and with the container's environment.
	script, err := filepath.Abs(filepath.Join("postgres", "init-databases.sh"))
	if err != nil {
		t.Fatal(err)
	}
	scriptEnv := slices.Concat(base, []string{"PGHOST=" + c.dir, "PGPORT=" + strconv.Itoa(c.port)})
	for k, v := range pgService.Environment {
		scriptEnv = append(scriptEnv, k+"="+deref(v))
	}
	if out, err := run(ctx, scriptEnv, "sh", script); err != nil {
		t.Fatalf("init-databases.sh: %v\n%s", err, out)
	}

	// local turns a compose DSN into one of this cluster: same role,
	// password and options, on the cluster's loopback port, in database db.
	local := func(dsn, db string) string {
		t.Helper()
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("DSN %q: %v", dsn, err)
		}
		u.Host, u.Path = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), "/"+db
		return u.String()
	}
	sql := func(dsn, statement string) (string, error) {
		return run(ctx, base, psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", statement)
	}
	refused := func(who, dsn, statement, want string) {
		t.Helper()
		out, err := sql(dsn, statement)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("%s: %s: got %v, %q; want refused with %q", who, statement, err, strings.TrimSpace(out), want)
		}
	}

	audit := service(t, p, auditService)
	for _, db := range audited {
		owner := local(env(service(t, p, db), dsnEnv(db)), db)
		reader := local(env(audit, dsnEnv(db)), db)
		// As the service's first start does: its role creates its tables,
		// after the init script ran, and writes.
		if out, err := sql(owner, `CREATE TABLE records (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
			INSERT INTO records VALUES (1, 'written by `+db+`')`); err != nil {
			t.Fatalf("%s's owner: create and write a table: %v\n%s", db, err, out)
		}
		out, err := sql(reader, `SELECT note FROM records WHERE id = 1`)
		if got := strings.TrimSpace(out); err != nil || got != "written by "+db {
			t.Errorf("audit in %s: SELECT: %v, %q; want the owner's row", db, err, got)
		}
		refused("audit in "+db, reader, `INSERT INTO records VALUES (2, 'audit')`, "permission denied for table records")
		refused("audit in "+db, reader, `UPDATE records SET note = 'audit'`, "permission denied for table records")
		refused("audit in "+db, reader, `DELETE FROM records`, "permission denied for table records")
		refused("audit in "+db, reader, `CREATE TABLE audit_own (id INTEGER)`, "permission denied for schema public")
	}
	// TCP checks passwords, so the logins above used the ones compose
	// passes to the init script and to the containers.
	wrong, _ := url.Parse(local(env(audit, dsnEnv(audited[0])), audited[0]))
	wrong.User = url.UserPassword(auditRole, "not-the-password")
	refused("audit", wrong.String(), `SELECT 1`, "password authentication failed")
	for _, db := range []string{"temporal", "temporal_visibility", workers["order"]} {
		dsn := local(env(audit, dsnEnv(audited[0])), db)
		refused("audit", dsn, `SELECT 1`, `permission denied for database "`+db+`"`)
	}
}

// run runs a command with environment env and returns its combined output.
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, pgWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// serverBinaries is the directory of initdb and postgres of PostgreSQL
// major: Debian's directory for it, else PATH's if that is the version.
func serverBinaries(major string) (string, error) {
	dirs := []string{filepath.Join("/usr/lib/postgresql", major, "bin")}
	if p, err := exec.LookPath("initdb"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	version := regexp.MustCompile(`\) ` + regexp.QuoteMeta(major) + `\.`)
	for _, d := range dirs {
		out, err := exec.Command(filepath.Join(d, "postgres"), "--version").Output()
		if err == nil && isFile(filepath.Join(d, "initdb")) && version.Match(out) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL %s server (initdb, postgres) in %s or PATH", major, dirs[0])
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// cluster is a PostgreSQL server this test started, with its data, socket
// and log in dir.
type cluster struct {
	dir  string
	port int
}

// startCluster initialises and starts a cluster, and stops and removes it
// when t ends. Its socket trusts local connections, as the image's does
// while the init scripts run (initdb's default; docker-entrypoint.sh's
// docker_temp_server_start listens on the socket only), and TCP asks for
// the role's password, as the image asks the other containers
// (pg_setup_hba_conf: host all all all, with password_encryption's
// method, scram-sha-256 in PostgreSQL 15).
func startCluster(t *testing.T, bin string) *cluster {
	t.Helper()
	cred, err := serverCredential()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ordersaga-deploy-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	hba := filepath.Join(dir, "pg_hba.conf")
	if err := os.WriteFile(hba, []byte("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	server := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "hba_file="+hba, "-c", "fsync=off")
	server.Stdout, server.Stderr = logFile, logFile
	// Killed by the kernel if the test binary dies first.
	server.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := server.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start postgres: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = server.Wait()
		logFile.Close()
		close(done)
	}()
	t.Cleanup(func() {
		// SIGQUIT: immediate shutdown; nothing here needs keeping.
		if err := server.Process.Signal(syscall.SIGQUIT); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("stop postgres: %v", err)
		}
		select {
		case <-done:
		case <-time.After(pgWait):
			_ = server.Process.Kill()
			<-done
		}
	})

	// Ready once it answers on its socket.
	for deadline := time.Now().Add(pgWait); ; {
		if exec.Command(filepath.Join(bin, "pg_isready"), "-q", "-h", dir, "-p", strconv.Itoa(port), "-U", "postgres").Run() == nil {
			return &cluster{dir: dir, port: port}
		}
		select {
		case <-done:
			t.Fatalf("postgres exited before accepting connections:\n%s", readFile(t, logFile.Name()))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres did not accept connections within %s:\n%s", pgWait, readFile(t, logFile.Name()))
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

// serverCredential is the user the server runs as: nil (this process's)
// unless this process is root, which initdb refuses; then nobody.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no user to run PostgreSQL as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
