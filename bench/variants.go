package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A variant is the saga run by a worker started with more flags than
// -worker-args gives every worker: the benchmark compares worker
// configurations by running each as a variant against the same baseline,
// on the same dev server, in rotating rounds.
type variant struct {
	name  string
	flags []string // the worker's flags beyond -worker-args
}

// defaultVariant is the one variant of a run without -variant: the saga on
// the worker of -worker-args, as the results have always called it.
var defaultVariant = variant{name: "saga"}

// baselineName names the baseline workflow's rounds; no variant may take it.
const baselineName = "baseline"

// variantName keeps names fit for the results' tables and the profiles'
// file names.
var variantName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// variantFlags collects the repeatable -variant 'name=worker flags'.
type variantFlags []variant

func (v *variantFlags) String() string {
	if v == nil {
		return ""
	}
	var parts []string
	for _, x := range *v {
		parts = append(parts, x.name+"="+strings.Join(x.flags, " "))
	}
	return strings.Join(parts, ", ")
}

func (v *variantFlags) Set(s string) error {
	name, flags, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	switch {
	case !ok || name == "":
		return fmt.Errorf("give name=worker flags, such as -variant 'autoscaling=--pollers autoscaling'")
	case !variantName.MatchString(name):
		return fmt.Errorf("name %q: use only letters, digits, '.', '_' and '-'", name)
	case name == baselineName:
		return fmt.Errorf("name %q is the baseline workflow's: choose another", name)
	case slices.ContainsFunc(*v, func(x variant) bool { return x.name == name }):
		return fmt.Errorf("%q is given twice: give each variant its own name", name)
	}
	*v = append(*v, variant{name: name, flags: strings.Fields(flags)})
	return nil
}

// contender is what a round measures: the baseline workflow, or the saga
// as one variant runs it.
type contender struct {
	name     string   // baselineName or the variant's
	workflow string   // what `starter load --workflow` runs
	flags    []string // the worker's flags beyond -worker-args
}

// contenders are the baseline and then every variant, in the order given.
func contenders(variants []variant) []contender {
	cs := []contender{{name: baselineName, workflow: "baseline"}}
	for _, v := range variants {
		cs = append(cs, contender{name: v.name, workflow: "saga", flags: v.flags})
	}
	return cs
}

// roundOrder rotates the contenders by one place each round, so that over
// len(cs) rounds each runs once in every position: whatever drifts during
// a run (the server's database grows, the machine gets busier) falls on
// all of them alike. With the baseline and one variant it alternates
// which goes first.
func roundOrder(cs []contender, round int) []contender {
	k := round % len(cs)
	return append(slices.Clone(cs[k:]), cs[:k]...)
}

// workerArgs are the flags of the worker that runs c: -worker-args, then
// the variant's own, which the worker's flag parsing lets override them.
func (c contender) workerArgs(common []string) []string {
	return append(slices.Clone(common), c.flags...)
}

// names are the variants' names, in the order given.
func names(variants []variant) []string {
	var out []string
	for _, v := range variants {
		out = append(out, v.name)
	}
	return out
}
