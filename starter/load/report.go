package load

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/workflows"
)

// loadReport is what a load did; -o json prints it as one object.
type loadReport struct {
	Workflow    string  `json:"workflow"`
	Run         string  `json:"run"`
	Total       int     `json:"total"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate,omitempty"`
	// Window is --window, the cancel window of the orders not of the
	// cancel kind, in seconds.
	Window    float64 `json:"window_seconds,omitempty"`
	Seconds   float64 `json:"duration_seconds"`
	PerSecond float64 `json:"per_second"`
	// MaxInFlight is the most jobs that were in flight at once.
	MaxInFlight int `json:"max_in_flight"`
	// Latency is from the start of each job to its end, in milliseconds.
	Latency latencyStats `json:"latency_ms"`
	// Answer is from the start of each order to its placement's answer
	// (its reservation or refusal), in milliseconds, over the orders that
	// answered; nil when none did (a baseline run).
	Answer     *answerStats           `json:"answer_ms,omitempty"`
	Outcomes   map[string]kindOutcome `json:"outcomes"`
	Mismatches []mismatch             `json:"mismatches"`
	// Audit is the audit of the stores after a saga run; nil for a
	// baseline run.
	Audit *loadAudit `json:"audit,omitempty"`
}

// latencyStats are percentiles of the recorded latencies, from an HDR
// histogram: each within 0.1% of the exact nearest-rank value.
type latencyStats struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// answerStats are percentiles of the times to the placements' answers.
type answerStats struct {
	latencyStats
	// Count is how many orders answered.
	Count int `json:"count"`
}

// kindOutcome is how the jobs of one kind ended.
type kindOutcome struct {
	Count int              `json:"count"`
	Want  workflows.Status `json:"want"`
	// Ended counts the jobs by final status; ERROR when load could not tell.
	Ended map[string]int `json:"ended"`
}

// mismatch is a job that ended otherwise than its kind asked.
type mismatch struct {
	ID    string           `json:"id"`
	Kind  string           `json:"kind"`
	Want  workflows.Status `json:"want"`
	Got   string           `json:"got"`
	Error string           `json:"error,omitempty"`
}

// statusError is the status of a job whose ending load could not learn.
const statusError = "ERROR"

// buildReport sums up the results of a run that took elapsed.
func buildReport(p loadPlan, results []jobResult, elapsed time.Duration) loadReport {
	rep := loadReport{
		Workflow: p.workflow, Run: p.run, Total: len(results), Concurrency: p.concurrency, Rate: p.rate,
		Window: p.window.Seconds(), Seconds: elapsed.Seconds(), Outcomes: map[string]kindOutcome{}, Mismatches: []mismatch{},
	}
	if rep.Seconds > 0 {
		rep.PerSecond = float64(len(results)) / rep.Seconds
	}
	latencies := make([]time.Duration, 0, len(results))
	var answers []time.Duration
	for _, r := range results {
		latencies = append(latencies, r.latency)
		if r.answer > 0 {
			answers = append(answers, r.answer)
		}
		got := string(r.status)
		if r.err != nil || got == "" {
			got = statusError
		}
		o := rep.Outcomes[r.kind.name]
		if o.Ended == nil {
			o = kindOutcome{Want: r.kind.want, Ended: map[string]int{}}
		}
		o.Count++
		o.Ended[got]++
		rep.Outcomes[r.kind.name] = o
		if !r.asAsked() {
			m := mismatch{ID: r.id, Kind: r.kind.name, Want: r.kind.want, Got: got}
			if r.err != nil {
				m.Error = cli.OneLine(r.err)
			}
			rep.Mismatches = append(rep.Mismatches, m)
		}
	}
	rep.Latency = latencySummary(latencies)
	if len(answers) > 0 {
		rep.Answer = &answerStats{latencyStats: latencySummary(answers), Count: len(answers)}
	}
	return rep
}

// The latency histogram records microseconds from 1 µs to an hour, to 3
// significant figures; a latency beyond an hour counts as an hour.
const (
	latencyLowest  = 1
	latencyHighest = int64(time.Hour / time.Microsecond)
	latencySigFigs = 3
)

// latencySummary computes the percentiles of latencies, in milliseconds.
func latencySummary(latencies []time.Duration) latencyStats {
	h := hdrhistogram.New(latencyLowest, latencyHighest, latencySigFigs)
	for _, d := range latencies {
		_ = h.RecordValue(min(max(d.Microseconds(), latencyLowest), latencyHighest)) // in range: no error
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return latencyStats{
		P50: ms(h.ValueAtQuantile(50)),
		P95: ms(h.ValueAtQuantile(95)),
		P99: ms(h.ValueAtQuantile(99)),
		Max: ms(h.Max()),
	}
}

// printLoadReport prints the report for people.
func printLoadReport(w io.Writer, rep loadReport) error {
	fmt.Fprintf(w, "Load %s (%s): %d in %s, %.1f/s, concurrency %d", rep.Run, rep.Workflow, rep.Total,
		time.Duration(rep.Seconds*float64(time.Second)).Round(time.Millisecond), rep.PerSecond, rep.Concurrency)
	if rep.Rate > 0 {
		fmt.Fprintf(w, ", rate limit %g/s", rep.Rate)
	}
	if rep.Window > 0 {
		fmt.Fprintf(w, ", window %s", time.Duration(rep.Window*float64(time.Second)))
	}
	fmt.Fprintf(w, ", max %d in flight", rep.MaxInFlight)
	fmt.Fprintf(w, "\nLatency (ms): p50 %.1f  p95 %.1f  p99 %.1f  max %.1f\n", rep.Latency.P50, rep.Latency.P95, rep.Latency.P99, rep.Latency.Max)
	if a := rep.Answer; a != nil {
		fmt.Fprintf(w, "Answer (ms): p50 %.1f  p95 %.1f  p99 %.1f  max %.1f  (%d placements answered with their reservation or refusal)\n",
			a.P50, a.P95, a.P99, a.Max, a.Count)
	}
	fmt.Fprintln(w, "Outcomes:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range reportKindNames(rep) {
		o := rep.Outcomes[name]
		fmt.Fprintf(tw, "  %s:\t%d\twant %s\t%s\n", name, o.Count, o.Want, endedText(o.Ended))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printMismatches(w, rep.Mismatches)
	if rep.Audit != nil {
		printLoadAudit(w, *rep.Audit)
	}
	return nil
}

func printMismatches(w io.Writer, mismatches []mismatch) {
	if len(mismatches) == 0 {
		fmt.Fprintln(w, "All ended as asked.")
		return
	}
	fmt.Fprintf(w, "%d ended otherwise than asked:\n", len(mismatches))
	for _, m := range mismatches {
		line := fmt.Sprintf("  %s (%s): want %s, got %s", m.ID, m.Kind, m.Want, m.Got)
		if m.Error != "" {
			line += ": " + m.Error
		}
		fmt.Fprintln(w, line)
	}
}

// reportKindNames lists the report's kinds in loadKinds order, then any
// other (baseline).
func reportKindNames(rep loadReport) []string {
	var names []string
	for _, k := range append(slices.Clone(loadKinds), baselineKind) {
		if _, ok := rep.Outcomes[k.name]; ok {
			names = append(names, k.name)
		}
	}
	return names
}

// endedText writes counts by status, sorted by status: "COMPLETED 3, ERROR 1".
func endedText(ended map[string]int) string {
	statuses := make([]string, 0, len(ended))
	for s := range ended {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	parts := make([]string, len(statuses))
	for i, s := range statuses {
		parts[i] = fmt.Sprintf("%s %d", s, ended[s])
	}
	return strings.Join(parts, ", ")
}
