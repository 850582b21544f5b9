package pgserver

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startTimeout bounds how long the server may take to accept connections.
const startTimeout = 60 * time.Second

// settings are what a cluster is started with.
type settings struct {
	maxConnections int
	// passwords: roles other than the superuser postgres log in with a
	// password over TCP (scram-sha-256); else every role is trusted.
	passwords bool
	// durable keeps fsync, synchronous_commit and full_page_writes on.
	durable bool
}

// cluster is a PostgreSQL server that this process started.
type cluster struct {
	settings
	bin    string // directory of initdb and postgres
	dir    string // temporary directory: data, socket and log
	port   int
	cred   *syscall.Credential // who runs the server, when this process is root
	server *exec.Cmd
	done   chan struct{} // closed when the server has exited
	admin  *sql.DB
}

func (c *cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *cluster) dsn(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

// start initialises a cluster in a new temporary directory and starts it.
func start(s settings) (*cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &cluster{settings: s, bin: bin}
	if c.cred, err = serverCredential(); err != nil {
		return nil, err
	}
	if c.dir, err = os.MkdirTemp("", "ordersaga-pg-"); err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	if err := c.init(); err != nil {
		_ = c.stop()
		return nil, err
	}
	// The free port is only free when freePort looked: another process
	// may take it before postgres binds it. Then postgres exits
	// at once, and another port is tried.
	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err == nil {
			if err = c.startServer(); err == nil {
				c.admin, err = c.waitReady()
			}
		}
		if err == nil {
			return c, nil
		}
		if attempt < portAttempts && c.lostPort() {
			continue
		}
		_ = c.stop()
		return nil, err
	}
}

// portAttempts bounds how many ports start tries.
const portAttempts = 5

// lostPort reports whether the server exited because another process had
// taken its port.
func (c *cluster) lostPort() bool {
	select {
	case <-c.done:
		return strings.Contains(c.log(), "Address already in use")
	default:
		return false
	}
}

// init creates the cluster's files: initdb, and the access rules.
func (c *cluster) init() error {
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("hand the cluster directory to the server's user: %w", err)
		}
	}
	if err := c.run("initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return err
	}
	if c.passwords {
		return c.writeHBA()
	}
	return nil
}

// writeHBA lets the superuser postgres in over TCP on loopback without a
// password, for the admin connection, and asks every other role for its
// password.
func (c *cluster) writeHBA() error {
	path := filepath.Join(c.dataDir(), "pg_hba.conf")
	hba := "local all all trust\n" +
		"host all postgres 127.0.0.1/32 trust\n" +
		"host all all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(path, []byte(hba), 0o600); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("hand pg_hba.conf to the server's user: %w", err)
		}
	}
	return nil
}

// startServer runs postgres as a child of this process, which the kernel
// kills if this process dies first (a test binary that times out or
// panics), so that no server outlives the program that started it.
func (c *cluster) startServer() error {
	logFile, err := os.Create(filepath.Join(c.dir, "server.log"))
	if err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	args := []string{"-D", c.dataDir(), "-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(c.port), "-k", c.dir,
		"-c", "max_connections=" + strconv.Itoa(c.maxConnections),
		"-c", "superuser_reserved_connections=" + strconv.Itoa(SuperuserReservedConnections)}
	if !c.durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	c.server = exec.Command(filepath.Join(c.bin, "postgres"), args...)
	c.server.Stdout, c.server.Stderr = logFile, logFile
	c.server.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	if err := c.server.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	c.done = make(chan struct{})
	go func() {
		_ = c.server.Wait()
		logFile.Close()
		close(c.done)
	}()
	return nil
}

// waitReady opens the maintenance database once the server accepts
// connections, polling until startTimeout.
func (c *cluster) waitReady() (*sql.DB, error) {
	db, err := sql.Open("pgx", c.dsn("postgres"))
	if err != nil {
		return nil, fmt.Errorf("open admin connection: %w", err)
	}
	deadline := time.Now().Add(startTimeout)
	for {
		err := db.Ping()
		if err == nil {
			return db, nil
		}
		select {
		case <-c.done:
			db.Close()
			return nil, fmt.Errorf("postgres exited before accepting connections:\n%s", c.log())
		default:
		}
		if time.Now().After(deadline) {
			db.Close()
			return nil, fmt.Errorf("postgres did not accept connections within %s: %w\n%s", startTimeout, err, c.log())
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

// stop stops the server at once (SIGQUIT: immediate shutdown) and removes
// its directory.
func (c *cluster) stop() error {
	if c.admin != nil {
		c.admin.Close()
	}
	var errs []error
	if c.server != nil {
		if err := c.server.Process.Signal(syscall.SIGQUIT); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("stop postgres: %w", err))
		}
		select {
		case <-c.done:
		case <-time.After(startTimeout):
			_ = c.server.Process.Kill()
			<-c.done
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove cluster directory: %w", err))
	}
	return errors.Join(errs...)
}

func (c *cluster) log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return string(b)
}

// run runs one of the server's programs as the server's user.
func (c *cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

// findBinaries finds the directory of initdb and postgres: PATH first, then
// the newest /usr/lib/postgresql/*/bin.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("initdb not found in PATH or /usr/lib/postgresql/*/bin")
}

// version is the major version in a /usr/lib/postgresql/VERSION/bin path.
func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// serverCredential is the user the server runs as: nil (this process's
// user) unless this process is root, which initdb refuses; then nobody.
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
		return nil, fmt.Errorf("uid of nobody: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid of nobody: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort is a loopback TCP port that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
