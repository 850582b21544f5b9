package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// profileHz is how often perf samples the dev server's stacks: often enough
// for a few thousand samples per round, rarely enough to cost the server
// little (both workflows pay it alike).
const profileHz = 499

// serverWork is what the dev server does, told by a frame in a sampled
// stack. A sample counts for the first kind, in this order, that any of its
// frames matches, so a request's handler claims the persistence and SQLite
// calls made under it.
var serverWork = []struct {
	name    string
	pattern *regexp.Regexp
}{
	{"visibility tasks (search attributes, start, close)", regexp.MustCompile(`visibilityQueueTaskExecutor`)},
	{"transfer tasks", regexp.MustCompile(`transferQueue(Active)?TaskExecutor`)},
	{"timer tasks", regexp.MustCompile(`timerQueue(Active)?TaskExecutor`)},
	{"history queue readers", regexp.MustCompile(`service/history/queues\.`)},
	{"workflow task completed (commands)", regexp.MustCompile(`RespondWorkflowTaskCompleted`)},
	{"workflow task started", regexp.MustCompile(`RecordWorkflowTaskStarted`)},
	{"activity task completed", regexp.MustCompile(`RespondActivityTaskCompleted`)},
	{"activity task started", regexp.MustCompile(`RecordActivityTaskStarted`)},
	// The saga starts with Update-with-Start: ExecuteMultiOperation, whose
	// history side starts the workflow without a StartWorkflowExecution
	// frame.
	{"workflow start", regexp.MustCompile(`StartWorkflowExecution|ExecuteMultiOperation|api/startworkflow\.`)},
	{"history reads (result, long polls)", regexp.MustCompile(`GetWorkflowExecutionHistory|PollMutableState|GetMutableState`)},
	{"task queues (matching)", regexp.MustCompile(`service/matching\.|Poll(Workflow|Activity)TaskQueue|Add(Workflow|Activity)Task`)},
	{"cluster membership (ringpop)", regexp.MustCompile(`ringpop|service/frontend\.\(\*?[a-zA-Z]*[Mm]embership|common/membership`)},
	{"persistence outside a request (SQL)", regexp.MustCompile(`common/persistence/sql`)},
	{"gRPC transport", regexp.MustCompile(`google\.golang\.org/grpc`)},
	{"garbage collection", regexp.MustCompile(`runtime\.(gcBgMarkWorker|gcAssist|bgsweep|bgscavenge)`)},
	{"stack growth", regexp.MustCompile(`runtime\.morestack`)},
}

const otherWork = "other"

// profiler samples the dev server's stacks with perf while a round runs.
type profiler struct {
	cmd  *exec.Cmd
	file string
	done chan error
}

// checkPerf fails early, with what to install, when perf cannot sample.
func checkPerf() error {
	if _, err := exec.LookPath("perf"); err != nil {
		return fmt.Errorf("--profile needs perf: install it (Debian: apt-get install linux-perf) or leave --profile out")
	}
	return nil
}

// startProfile samples the stacks of pids (the dev server, or every node
// of a cluster) into a file under dir until stop.
func startProfile(dir string, pids []int, name string) (*profiler, error) {
	file := filepath.Join(dir, name+".perf")
	list := make([]string, len(pids))
	for i, pid := range pids {
		list[i] = strconv.Itoa(pid)
	}
	cmd := exec.Command("perf", "record", "--quiet", "-F", strconv.Itoa(profileHz), "-g", "-p", strings.Join(list, ","), "-o", file)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record: %w", err)
	}
	p := &profiler{cmd: cmd, file: file, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		if err != nil && stderr.Len() > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
		}
		p.done <- err
	}()
	return p, nil
}

// stop ends the sampling and returns the CPU the server spent on each kind
// of work, in milliseconds per workflow of the n the round ran.
func (p *profiler) stop(ctx context.Context, n int) (map[string]float64, error) {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	var recordErr error
	select {
	case recordErr = <-p.done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		return nil, fmt.Errorf("perf record did not stop within a minute")
	}
	defer os.Remove(p.file)
	// perf may exit non-zero when interrupted; only a missing file means
	// it sampled nothing (perf_event_paranoid, a process gone).
	if _, err := os.Stat(p.file); err != nil {
		return nil, fmt.Errorf("perf record wrote no samples: %v", recordErr)
	}
	cmd := exec.CommandContext(ctx, "perf", "script", "-i", p.file)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf script: %w", err)
	}
	samples, err := classify(out)
	if waitErr := cmd.Wait(); err == nil && waitErr != nil {
		err = fmt.Errorf("perf script -i %s: %w", p.file, waitErr)
	}
	if err != nil {
		return nil, err
	}
	perWorkflow := make(map[string]float64, len(samples))
	for kind, count := range samples {
		perWorkflow[kind] = float64(count) / profileHz * 1000 / float64(n)
	}
	return perWorkflow, nil
}

// classify counts the samples of `perf script` output (a header line, then
// one indented line per frame, then a blank line) by kind of server work.
func classify(r io.Reader) (map[string]int, error) {
	counts := map[string]int{}
	var stack []string
	flush := func() {
		if len(stack) > 0 {
			counts[workOf(stack)]++
		}
		stack = stack[:0]
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			stack = append(stack, line)
		}
	}
	flush()
	return counts, sc.Err()
}

func workOf(stack []string) string {
	for _, w := range serverWork {
		for _, frame := range stack {
			if w.pattern.MatchString(frame) {
				return w.name
			}
		}
	}
	return otherWork
}
