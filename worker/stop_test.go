package main

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"
)

// barrierWorker is a worker whose Stop returns only once every worker of
// its barrier is stopping, as workers with in-flight activities do until
// those end: stopped one after another, the first would wait for the
// others until the barrier's deadline.
type barrierWorker struct {
	worker.Worker
	b *barrier
}

func (w barrierWorker) Stop() { w.b.arrive() }

type barrier struct {
	mu       sync.Mutex
	n        int
	arrived  int
	all      chan struct{}
	timedOut bool
}

func (b *barrier) arrive() {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(5 * time.Second):
		b.mu.Lock()
		b.timedOut = true
		b.mu.Unlock()
	}
}

type closeRecorder struct {
	b      *barrier
	closed *[]string
	name   string
}

func (c closeRecorder) Close() error {
	select {
	case <-c.b.all:
	default:
		panic("store " + c.name + " closed before every worker stopped")
	}
	*c.closed = append(*c.closed, c.name)
	return nil
}

// The services of one process stop together, each within the stop
// timeout, and only then are their stores closed.
func TestStopServicesStopsThemTogether(t *testing.T) {
	b := &barrier{n: 4, all: make(chan struct{})}
	var closed []string
	var running []hosted
	for _, name := range []string{"order", "inventory", "payment", "shipping"} {
		running = append(running, hosted{service: service{name: name}, worker: barrierWorker{b: b}, store: closeRecorder{b: b, closed: &closed, name: name}})
	}

	stopServices(slog.New(slog.NewTextHandler(io.Discard, nil)), running)

	if b.timedOut {
		t.Errorf("the workers were stopped one after another: a stopping worker waited for the others")
	}
	if len(closed) != 4 {
		t.Errorf("closed stores %v, want all four", closed)
	}
}
