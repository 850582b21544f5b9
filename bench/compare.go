package main

import (
	"fmt"
	"strings"
)

// ratioTable compares other with ref at each concurrency: their
// throughput, p50 and p99 latency, each with other's ratio to ref, and the
// CPU each process used. With ref the baseline and other the saga, it is
// the table the results have always had.
func ratioTable(runs []result, concurrencies []int, ref, other string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| concurrency | %[1]s /s | %[2]s /s | throughput %[2]s/%[1]s | %[1]s p50 ms | %[2]s p50 ms | p50 %[2]s/%[1]s | "+
		"%[1]s p99 ms | %[2]s p99 ms | p99 %[2]s/%[1]s | server CPU (%[1]s, %[2]s) | worker CPU (%[1]s, %[2]s) | %[2]s answer p50/p99 ms |\n", ref, other)
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range concurrencies {
		r, o := summarize(runs, ref, c), summarize(runs, other, c)
		fmt.Fprintf(&b, "| %d | %.1f | %.1f | **%.2f** | %.0f | %.0f | **%.2f** | %.0f | %.0f | **%.2f** | %.2f, %.2f | %.2f, %.2f | %s |\n",
			c, r.perSecond, o.perSecond, ratio(o.perSecond, r.perSecond),
			r.p50, o.p50, ratio(o.p50, r.p50), r.p99, o.p99, ratio(o.p99, r.p99),
			r.serverCPU, o.serverCPU, r.workerCPU, o.workerCPU, o.answerCell())
	}
	return b.String()
}

// againstFirstTable compares every variant with the first, at each
// concurrency: a row per variant, the first's own (its ratios 1.00)
// giving the figures the others are divided by. Besides the CPU in cores,
// it gives the CPU per saga order, which does not grow merely because a
// variant runs more orders a second.
func againstFirstTable(runs []result, concurrencies []int, variants []string) string {
	first := variants[0]
	var b strings.Builder
	fmt.Fprintf(&b, "| concurrency | variant | saga /s | throughput /%[1]s | p50 ms | p50 /%[1]s | p99 ms | p99 /%[1]s | "+
		"server CPU | worker CPU | server CPU ms/order | worker CPU ms/order | answer p50/p99 ms |\n", first)
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range concurrencies {
		ref := summarize(runs, first, c)
		for _, v := range variants {
			s := summarize(runs, v, c)
			fmt.Fprintf(&b, "| %d | %s | %.1f | **%.2f** | %.0f | **%.2f** | %.0f | **%.2f** | %.2f | %.2f | %.1f | %.1f | %s |\n",
				c, v, s.perSecond, ratio(s.perSecond, ref.perSecond), s.p50, ratio(s.p50, ref.p50), s.p99, ratio(s.p99, ref.p99),
				s.serverCPU, s.workerCPU, perOrder(s.serverCPU, s.perSecond), perOrder(s.workerCPU, s.perSecond), s.answerCell())
		}
	}
	return b.String()
}

// perOrder turns CPU in cores at a throughput in orders a second into
// milliseconds of CPU per order.
func perOrder(cores, perSecond float64) float64 {
	return ratio(cores*1000, perSecond)
}
