package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// stopServices stops the workers all at once, each waiting for its
// in-flight tasks up to the stop timeout, so that a process hosting four
// services stops within one --stop-timeout, not four; then it closes their
// stores: no activity is left writing to a closed store.
func stopServices(logger *slog.Logger, running []hosted) {
	var wg sync.WaitGroup
	for _, h := range running {
		wg.Go(h.worker.Stop)
	}
	wg.Wait()
	var errs []error
	for _, h := range running {
		if h.store != nil {
			if err := h.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s store: %w", h.name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		logger.Error("worker stopped with errors", "error", err)
		return
	}
	if len(running) > 0 {
		logger.Info("worker stopped")
	}
}

// exitOnSecondSignal lets a second SIGINT or SIGTERM end the process at
// once while the first one's graceful stop waits for in-flight activities:
// an operator who will not wait need not reach for kill -9. What is
// abandoned is not lost: Temporal gives the activities to another worker
// once their timeouts pass, and every store change is one transaction.
// The exit code is the shell's for death by that signal (130, 143).
func exitOnSecondSignal(logger *slog.Logger) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := (<-signals).(syscall.Signal)
		logger.Warn("worker forced to exit by a second signal: in-flight activities are abandoned; Temporal retries them after their timeouts", "signal", sig.String())
		os.Exit(128 + int(sig))
	}()
}
