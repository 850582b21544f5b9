package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// runOpen places o.open orders at o.openRate per second, each with a cancel
// window of o.openWindow, so that all of them wait in their window at once
// on the one worker; then they ship and complete. It reports the most
// orders seen waiting in their window at once, the worker's peak RSS and
// the audit, and fails if fewer than all waited at once, if any ended
// otherwise than asked, or if the worker's peak RSS reached the target's
// 500 MiB.
func runOpen(ctx context.Context, env *env, o options) error {
	placing := time.Duration(float64(o.open) / o.openRate * float64(time.Second))
	if placing >= o.openWindow {
		return fmt.Errorf("placing %d orders at %.0f/s takes %s, longer than --open-window %s: the first would ship before the last is placed",
			o.open, o.openRate, placing.Round(time.Second), o.openWindow)
	}
	fmt.Printf("placing %d orders at %.0f/s (about %s), each waiting %s in its cancel window\n",
		o.open, o.openRate, placing.Round(time.Second), o.openWindow)
	sampleCtx, stopSampling := context.WithCancel(ctx)
	waiting := make(chan int, 1)
	go func() { waiting <- env.mostWaiting(sampleCtx) }()
	r, err := env.load(ctx, "saga", o.open, o.open,
		"--window", o.openWindow.String(), "--rate", strconv.FormatFloat(o.openRate, 'f', -1, 64))
	stopSampling()
	mostWaiting := <-waiting
	if err != nil {
		return err
	}
	r.round = 1
	fmt.Println(r.line())
	serverRSS, _ := peakRSS(env.server.PID())
	problems := r.problems()
	if r.workerRSS >= rssTarget {
		problems = append(problems, fmt.Sprintf("the worker's peak RSS was %d MiB, over the %d MiB target", r.workerRSS>>20, rssTarget>>20))
	}
	if mostWaiting < o.open {
		problems = append(problems, fmt.Sprintf("at most %d of %d orders waited in their cancel window at once", mostWaiting, o.open))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark: %d orders open at once on one worker\n\n", o.open)
	fmt.Fprintf(&b, "Written by `make bench-open` on %s. %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintf(&b, "`starter load --orders %d --concurrency %d --rate %g --window %s --mix success=100`: every order reserves and charges, "+
		"then waits in its cancel window until all are placed, then ships.\n\n", o.open, o.open, o.openRate, o.openWindow)
	if len(o.workerArgs) > 0 {
		fmt.Fprintf(&b, "Worker flags: `%s`.\n\n", strings.Join(o.workerArgs, " "))
	}
	fmt.Fprintf(&b, "| orders | most in their cancel window at once | most in flight | completed as asked | audit | worker peak RSS | server peak RSS | wall time |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %s | **%d MiB** | %d MiB | %s |\n\n", r.report.Total, mostWaiting, r.report.MaxInFlight,
		r.report.Total-len(r.report.Mismatches), auditWord(r), r.workerRSS>>20, serverRSS>>20,
		time.Duration(r.report.Seconds*float64(time.Second)).Round(time.Second))
	fmt.Fprintf(&b, "Target: worker peak RSS under 500 MiB: %s.\n", metWord(r.workerRSS < rssTarget))
	if len(problems) > 0 {
		fmt.Fprintf(&b, "\nProblems:\n\n- %s\n", strings.Join(problems, "\n- "))
	}
	if err := os.WriteFile(o.openOut, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("at most %d orders in their cancel window at once; worker peak RSS %d MiB; results in %s\n", mostWaiting, r.workerRSS>>20, o.openOut)
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func auditWord(r result) string {
	switch a := r.report.Audit; {
	case a == nil:
		return "not run"
	case a.OK:
		return "clean"
	default:
		return fmt.Sprintf("%d violations", len(a.Violations))
	}
}

// rssTarget is the most the worker may hold in memory with all the orders
// open.
const rssTarget = 500 << 20

// waitingSample is how often the open run counts the orders in their
// cancel window.
const waitingSample = 10 * time.Second

// mostWaiting counts, every waitingSample until ctx ends, the orders whose
// OrderStatus is AWAITING_FULFILLMENT, and returns the most it saw.
func (e *env) mostWaiting(ctx context.Context) int {
	most := 0
	tick := time.NewTicker(waitingSample)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return most
		case <-tick.C:
		}
		out, err := exec.CommandContext(ctx, temporalBin, "workflow", "count", "--address", e.address,
			"--query", `OrderStatus = "AWAITING_FULFILLMENT"`).Output()
		if err != nil {
			continue // the next sample counts again
		}
		if m := countRE.FindSubmatch(out); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			if n > most {
				most = n
				fmt.Printf("%d orders in their cancel window\n", n)
			}
		}
	}
}

var countRE = regexp.MustCompile(`Total:\s*(\d+)`)
