package load

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// progress shows how a load goes: one updating line on a terminal, a line
// every few seconds elsewhere, nothing with -o json.
type progress struct {
	w        io.Writer
	terminal bool
	off      bool
}

// newProgress shows progress on w; off shows none (-o json).
func newProgress(w io.Writer, off bool) *progress {
	return &progress{w: w, terminal: isTerminal(w), off: off}
}

// isTerminal reports whether w is a terminal: not merely a character
// device, which /dev/null is too (a load run with its output thrown away
// must not draw a progress line into it), but one that answers as a
// terminal does.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// start shows progress until the returned stop is called; stop prints the
// last state and ends the line.
func (p *progress) start(d *driver, begin time.Time) (stop func()) {
	if p.off {
		return func() {}
	}
	every := 5 * time.Second
	if p.terminal {
		every = 250 * time.Millisecond
	}
	tick := time.NewTicker(every)
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				p.show(d, begin, false)
			}
		}
	}()
	return func() {
		tick.Stop()
		close(quit)
		<-exited
		p.show(d, begin, true)
	}
}

func (p *progress) show(d *driver, begin time.Time, last bool) {
	ok, bad, inFlight := d.counts()
	line := progressLine(len(d.plan.kinds), ok, bad, inFlight, time.Since(begin))
	switch {
	case p.terminal && last:
		fmt.Fprintf(p.w, "\r\033[K%s\n\n", line)
	case p.terminal:
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	default:
		fmt.Fprintln(p.w, line)
	}
}

// progressLine says how far a load of total jobs is after elapsed.
func progressLine(total, ok, bad, inFlight int, elapsed time.Duration) string {
	done := ok + bad
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	eta := "-"
	if rate > 0 && done < total {
		eta = (time.Duration(float64(total-done) / rate * float64(time.Second))).Round(time.Second).String()
	}
	return fmt.Sprintf("%d/%d done (%d not as asked), %d in flight, %.1f/s, ETA %s", done, total, bad, inFlight, rate, eta)
}
