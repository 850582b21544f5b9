package cluster

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/internal/platform/pgserver"
)

// jobTimeout bounds a one-shot job: the namespace script retries for a
// minute.
const jobTimeout = 2 * time.Minute

// startPostgres starts PostgreSQL with compose's max_connections and the
// server's own durability settings, as the postgres image runs it (the
// tests' clusters turn fsync off), and runs the init script as the postgres image's docker-entrypoint.sh does on an
// empty data directory: as the superuser, psql over the Unix socket, with
// the service's environment and POSTGRES_DB and PGPASSWORD exported.
func (c *Cluster) startPostgres(ctx context.Context) error {
	pg := c.compose["postgres"]
	maxConns, err := maxConnections(pg.Command)
	if err != nil {
		return err
	}
	c.pg, err = pgserver.Start(pgserver.Options{MaxConnections: maxConns, Durable: true})
	if err != nil {
		return fmt.Errorf("start PostgreSQL: %w (%s)", err, pgserver.InstallHint)
	}
	c.pgPort = strconv.Itoa(c.pg.Port())
	c.logf("postgres is up on 127.0.0.1:%s", c.pgPort)
	env := maps.Clone(pg.Environment)
	if env[envPostgresDB] == "" {
		env[envPostgresDB] = env[envPostgresUser] // docker-entrypoint.sh's default
	}
	env["PGPASSWORD"] = env[envPostgresPass]
	env["PGHOST"] = c.pg.SocketDir()
	env["PGPORT"] = c.pgPort
	script := filepath.Join(c.root, initDatabases)
	argv := []string{script} // executed if executable, as the entrypoint does
	if fi, err := os.Stat(script); err != nil {
		return fmt.Errorf("the init script: %w", err)
	} else if fi.Mode()&0o111 == 0 {
		argv = []string{"sh", "-c", `set -e; . "$0"`, script} // sourced otherwise
	}
	return c.runJob(ctx, "postgres-init", env, argv...)
}

// maxConnections is the max_connections that compose's postgres command
// sets (-c max_connections=N), or PostgreSQL's default.
func maxConnections(command []string) (int, error) {
	n := 100 // PostgreSQL's default, when compose sets none
	for i, arg := range command {
		if v, ok := strings.CutPrefix(arg, "max_connections="); ok && i > 0 && command[i-1] == "-c" {
			var err error
			if n, err = strconv.Atoi(v); err != nil {
				return 0, fmt.Errorf("%s: the postgres service's max_connections=%q is not a number", ComposeFile, v)
			}
		}
	}
	return n, nil
}

// runJob runs a one-shot job to its end, within jobTimeout, with env over
// this process's environment and the jobs' PATH; its output is kept in a
// log file in the cluster's directory and is in the error if it fails.
func (c *Cluster) runJob(ctx context.Context, name string, env map[string]string, argv ...string) error {
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.root
	cmd.Env = append(os.Environ(), environ(env)...)
	cmd.Env = append(cmd.Env, "PATH="+c.path)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("%s (%s): %w\n%s", name, strings.Join(argv, " "), err, out)
	}
	c.logf("%s done", name)
	return nil
}

// jobPath is a PATH with the given programs first, under the names the
// jobs' scripts call them by, as the admin-tools image has them in
// /usr/local/bin.
func jobPath(dir string, programs map[string]string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("the jobs' PATH: %w", err)
	}
	for name, bin := range programs {
		if err := os.Symlink(bin, filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("the jobs' PATH: %w", err)
		}
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH"), nil
}
