package proc

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func start(t *testing.T, log, script string, env ...string) *Process {
	t.Helper()
	p, err := Start(Command{Name: "sh", Path: "sh", Args: []string{"-c", script}, Env: env, Log: log, DieWithParent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill(5 * time.Second) })
	return p
}

// A run reads back its own output only, though the runs share a log.
func TestOutputIsThisRuns(t *testing.T) {
	log := filepath.Join(t.TempDir(), "sh.log")
	first := start(t, log, `echo first`)
	<-first.Done()
	second := start(t, log, `echo "$GREETING"; exit 3`, "GREETING=second")
	<-second.Done()
	if got := second.Output(); got != "second\n" {
		t.Errorf("second run's output %q, want %q", got, "second\n")
	}
	if b, _ := os.ReadFile(log); string(b) != "first\nsecond\n" {
		t.Errorf("log %q, want both runs'", b)
	}
	if code := second.Cmd().ProcessState.ExitCode(); code != 3 || second.Err() == nil {
		t.Errorf("exit %d, err %v; want 3 and an error", code, second.Err())
	}
}

// Stop reaches the whole group: the shell's child has the signal too.
func TestStopSignalsTheGroup(t *testing.T) {
	p := start(t, filepath.Join(t.TempDir(), "sh.log"),
		`(trap 'echo child stopped; exit' TERM; while :; do sleep 0.1; done) & echo ready; wait`)
	if err := p.WaitOutput("ready", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Exited() || p.Err() != nil {
		t.Fatalf("exited before the signal: %v", p.Err())
	}
	if err := p.Stop(syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() {
		t.Fatal("Stop returned before the process ended")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output(), "child stopped") {
		if time.Now().After(deadline) {
			t.Fatalf("the child did not have the signal:\n%s", p.Output())
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

// A process that ignores the signal is killed after the grace period.
func TestStopKillsAfterGrace(t *testing.T) {
	p := start(t, filepath.Join(t.TempDir(), "sh.log"), `trap '' TERM; echo ready; while :; do sleep 1; done`)
	if err := p.WaitOutput("ready", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	_ = p.Stop(syscall.SIGTERM, 200*time.Millisecond)
	if !strings.Contains(p.Err().Error(), "killed") {
		t.Errorf("ended with %v, want killed", p.Err())
	}
}

func TestWaitOutputFailsOnExit(t *testing.T) {
	p := start(t, filepath.Join(t.TempDir(), "sh.log"), `echo bye`)
	err := p.WaitOutput("never", 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited before printing") {
		t.Errorf("WaitOutput = %v, want an exit before the text", err)
	}
}

func TestTail(t *testing.T) {
	if got := Tail("a\nb\nc", 2); got != "b\nc" {
		t.Errorf("Tail = %q", got)
	}
}
