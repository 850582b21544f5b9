package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/internal/platform/proc"
)

// stopGrace is how long a process has to end after SIGTERM before it is
// killed.
const stopGrace = 15 * time.Second

// start runs a command in its own process group, its output in a log file
// under dir, so that stop can end it with everything it started.
func start(dir, name string, env []string, path string, args ...string) (*proc.Process, error) {
	return proc.Start(proc.Command{Name: name, Path: path, Args: args, Env: env, Log: filepath.Join(dir, name+".log")})
}

// stop sends SIGTERM to the process group of p, if it runs, and SIGKILL
// after stopGrace. A nil p (a server the benchmark did not start) is
// nothing to stop.
func stop(p *proc.Process) {
	if p == nil || p.Exited() {
		return
	}
	_ = p.Stop(syscall.SIGTERM, stopGrace)
}

// cpuTime is the CPU time a process has used itself (utime + stime).
// The dev server script execs the server, so the script's pid is the
// server's.
func cpuTime(pid int) (time.Duration, error) {
	_, own, _, err := procStat(pid)
	return own, err
}

// treeCPU is the CPU time of pid, of its children that are running, and
// of those it has reaped: PostgreSQL's postmaster forks one backend per
// connection, and a backend that exits during a round leaves its time in
// the postmaster's reaped children's.
func treeCPU(pid int) (time.Duration, error) {
	_, own, reaped, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	total := own + reaped
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, ent := range entries {
		child, err := strconv.Atoi(ent.Name())
		if err != nil || child == pid {
			continue
		}
		ppid, cpu, _, err := procStat(child)
		if err != nil || ppid != pid { // a process may exit while we look
			continue
		}
		total += cpu
	}
	return total, nil
}

// procStat reads a process's parent, its own CPU time (utime + stime) and
// its reaped children's (cutime + cstime) from /proc/pid/stat.
func procStat(pid int) (ppid int, own, reaped time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// Fields count from after the command name's ')': state, ppid, ...,
	// utime (index 11), stime, cutime, cstime (14).
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	n := make([]int64, 15)
	for _, i := range []int{1, 11, 12, 13, 14} {
		if n[i], err = strconv.ParseInt(fields[i], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	const clockTicks = 100 // USER_HZ on Linux
	tick := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
	return int(n[1]), tick(n[11] + n[12]), tick(n[13] + n[14]), nil
}

// peakRSS is the process's peak resident set size (VmHWM) in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status VmHWM %q: %w", pid, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/status")
}

// freePort asks the kernel for a free loopback port.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, nil
}

// waitFor runs check until it succeeds, p exits, or timeout passes.
func waitFor(ctx context.Context, what string, p *proc.Process, timeout time.Duration, check func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited before %s; see %s", p.Name(), what, p.Log())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s: %w; see %s", what, timeout, err, p.Log())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond): // poll interval of a deadline-bounded wait
		}
	}
}
