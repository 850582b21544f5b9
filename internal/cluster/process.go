package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stopTimeout bounds how long a process may take to end after SIGKILL.
const stopTimeout = 15 * time.Second

// process is a child process in its own process group, its combined
// output appended to a log file. The kernel kills it if this process dies
// first, so that no server outlives the program that started it.
type process struct {
	name   string
	cmd    *exec.Cmd
	log    string
	offset int64 // where this run's output starts in log
	done   chan struct{}
	err    error // how it ended, once done is closed
}

// startProcess starts bin in dir with env (NAME=value) over this
// process's environment, its output appended to logPath.
func startProcess(name, dir, logPath string, env []string, bin string, args ...string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	offset, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, offset: offset, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// kill sends SIGKILL to the process group and waits for the process to
// end.
func (p *process) kill() error {
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("%s (pid %d) still runs %s after SIGKILL", p.name, p.cmd.Process.Pid, stopTimeout)
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// output is what this run of the process has written.
func (p *process) output() string {
	b, _ := os.ReadFile(p.log)
	if int64(len(b)) < p.offset {
		return ""
	}
	return string(b[p.offset:])
}

// tail is the last lines of this run's output.
func (p *process) tail(lines int) string {
	return tail(p.output(), lines)
}

// tail is the last lines of s.
func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
