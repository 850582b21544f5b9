// Package proc starts and watches the child processes of a program that
// runs servers and workers (the end-to-end tests, the benchmark, the
// compose stack without Docker). Each child runs in its own process group,
// so that a signal reaches whatever it started too, and its combined output
// goes to a file, to be waited on, read back and quoted in errors.
package proc

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

// Command is a program to start.
type Command struct {
	Name string   // names the process in errors
	Path string   // the program
	Args []string // its arguments, without the program
	Dir  string   // its working directory; empty for this process's
	Env  []string // NAME=value, over this process's environment
	// Log is the file its stdout and stderr are appended to, created if
	// need be. Several runs may share it: each Process reads back its own.
	Log string
	// DieWithParent has the kernel kill the process with SIGKILL if this
	// process dies first, so that no server outlives the program that
	// started it.
	DieWithParent bool
}

// Process is a started Command.
type Process struct {
	name   string
	cmd    *exec.Cmd
	log    string
	offset int64 // where this run's output starts in log
	done   chan struct{}
	err    error // how it ended, once done is closed
}

// Start starts c in a new process group.
func Start(c Command) (*Process, error) {
	f, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	offset, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	p := &Process{name: c.Name, cmd: cmd, log: c.Log, offset: offset, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Name is the Command's Name.
func (p *Process) Name() string { return p.name }

// PID is the process's ID, which is also its process group's.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Cmd is the command it runs, for what Process does not tell, such as
// its ProcessState once Done is closed.
func (p *Process) Cmd() *exec.Cmd { return p.cmd }

// Log is the path of the file its output goes to.
func (p *Process) Log() string { return p.log }

// Done is closed once the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended, as exec.Cmd.Wait says it (nil for exit
// status 0), once Done is closed; nil before.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Output is what this run of the process has written so far.
func (p *Process) Output() string {
	b, _ := os.ReadFile(p.log)
	if int64(len(b)) < p.offset {
		return ""
	}
	return string(b[p.offset:])
}

// Tail is the last lines of Output.
func (p *Process) Tail(lines int) string { return Tail(p.Output(), lines) }

// Tail is the last lines of s.
func Tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// Signal sends sig to the process group.
func (p *Process) Signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.PID(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	return nil
}

// Stop sends sig to the process group and waits for the process to end.
// One that has not ended after grace is killed, with its group, and waited
// for. The error is the signal's.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) error {
	err := p.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.Signal(syscall.SIGKILL)
		<-p.done
	}
	return err
}

// Kill kills the process group with SIGKILL and waits for the process to
// end, at most timeout: a process that outlives SIGKILL is stuck in the
// kernel, and waiting on would hang the caller.
func (p *Process) Kill(timeout time.Duration) error {
	if err := syscall.Kill(-p.PID(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s (pid %d) still runs %s after SIGKILL", p.name, p.PID(), timeout)
	}
}

// WaitOutput waits until the process has written text, polling its
// output. It fails if the process ends first or timeout passes.
func (p *Process) WaitOutput(text string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Output(), text) {
		if p.Exited() {
			return fmt.Errorf("%s exited before printing %q: %v\n%s", p.name, text, p.err, p.Output())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not print %q within %s:\n%s", p.name, text, timeout, p.Output())
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
	return nil
}
