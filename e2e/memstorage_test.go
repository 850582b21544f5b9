package e2e

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	promlabels "github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// memStorage keeps float samples in memory for the PromQL engine. The TSDB
// would do, but its package pulls in every cloud SDK that Prometheus's
// service discovery uses. A minute of scrapes is small, so this keeps only
// what the scraper and the queries meet of the TSDB's behaviour: the
// append rules of its head (a sample in order, an exact duplicate ignored,
// another value at the same time, an older sample or one far behind the
// newest refused), batches that readers see only once committed, and
// queriers that return the samples within their range.
type memStorage struct {
	mu     sync.RWMutex
	series map[string]*memSeries // by the labels' string
	maxt   int64                 // the newest sample's time
}

type memSeries struct {
	labels  promlabels.Labels
	samples []chunks.Sample // in time order; only ever appended to
}

func newMemStorage() *memStorage {
	return &memStorage{series: map[string]*memSeries{}, maxt: math.MinInt64}
}

// headWindow is how far behind the newest sample the TSDB's head still
// takes one: half its chunk range, two hours by default.
const headWindow = time.Hour

// appendable says whether a sample at t may follow the series' last one,
// as the TSDB's head does without an out-of-order window. An exact
// duplicate may, and is then dropped at commit.
func (s *memSeries) appendable(t int64, v float64) error {
	if s == nil || len(s.samples) == 0 {
		return nil
	}
	last := s.samples[len(s.samples)-1]
	switch {
	case t > last.T():
		return nil
	case t < last.T():
		return storage.ErrOutOfOrderSample
	case math.Float64bits(v) != math.Float64bits(last.F()): // stale markers too
		return storage.NewDuplicateFloatErr(t, last.F(), v)
	}
	return nil
}

// Appender returns a batch of samples that readers see once committed.
func (m *memStorage) Appender() *memAppender {
	m.mu.RLock()
	defer m.mu.RUnlock()
	minValid := m.maxt
	if minValid != math.MinInt64 {
		minValid -= headWindow.Milliseconds()
	}
	return &memAppender{m: m, minValid: minValid}
}

type memAppender struct {
	m        *memStorage
	minValid int64 // as of the batch's start, as in the TSDB
	pending  []pendingSample
}

type pendingSample struct {
	labels promlabels.Labels
	key    string
	t      int64
	v      float64
}

// Append adds a sample to the batch, refusing what the TSDB refuses: a
// sample too old for the head, a label set that is empty or repeats a
// name, or a sample that cannot follow the series' last committed one. As
// there, a label with an empty value is no label.
func (a *memAppender) Append(l promlabels.Labels, t int64, v float64) error {
	if t < a.minValid {
		return storage.ErrOutOfBounds
	}
	l = l.WithoutEmpty()
	if l.IsEmpty() {
		return errors.New("empty labelset")
	}
	if name, dup := l.HasDuplicateLabelNames(); dup {
		return fmt.Errorf("label name %q is not unique", name)
	}
	key := l.String()
	a.m.mu.RLock()
	err := a.m.series[key].appendable(t, v)
	a.m.mu.RUnlock()
	if err != nil {
		return err
	}
	a.pending = append(a.pending, pendingSample{labels: l, key: key, t: t, v: v})
	return nil
}

// Commit makes the batch visible. A sample that another one, in this
// batch or a batch committed since, has made out of order or a duplicate
// is dropped, as the TSDB's commit drops it.
func (a *memAppender) Commit() {
	a.m.mu.Lock()
	defer a.m.mu.Unlock()
	for _, p := range a.pending {
		s := a.m.series[p.key]
		if s == nil {
			s = &memSeries{labels: p.labels}
			a.m.series[p.key] = s
		}
		if n := len(s.samples); n == 0 || p.t > s.samples[n-1].T() {
			s.samples = append(s.samples, floatSample{t: p.t, f: p.v})
			a.m.maxt = max(a.m.maxt, p.t)
		}
	}
	a.pending = nil
}

// Rollback discards the batch; the appender is done with.
func (a *memAppender) Rollback() { a.pending = nil }

// Querier implements storage.Queryable.
func (m *memStorage) Querier(mint, maxt int64) (storage.Querier, error) {
	return &memQuerier{m: m, mint: mint, maxt: maxt}, nil
}

type memQuerier struct {
	m          *memStorage
	mint, maxt int64
}

// Select returns the series that match every matcher and have samples in
// the querier's range, with those samples only. They come sorted whether
// asked or not, so that what a query returns is in the same order each run.
func (q *memQuerier) Select(_ context.Context, _ bool, _ *storage.SelectHints, matchers ...*promlabels.Matcher) storage.SeriesSet {
	var out []storage.Series
	q.m.mu.RLock()
	for _, s := range q.m.series {
		if !matchesAll(s.labels, matchers) {
			continue
		}
		from, _ := slices.BinarySearchFunc(s.samples, q.mint, byTime)
		to, found := slices.BinarySearchFunc(s.samples, q.maxt, byTime)
		if found {
			to++
		}
		if from < to {
			// Later appends never touch these elements: the slice may be
			// read after the lock is released.
			out = append(out, storage.NewListSeries(s.labels, s.samples[from:to:to]))
		}
	}
	q.m.mu.RUnlock()
	slices.SortFunc(out, func(a, b storage.Series) int { return promlabels.Compare(a.Labels(), b.Labels()) })
	return &listSeriesSet{series: out, i: -1}
}

func matchesAll(l promlabels.Labels, matchers []*promlabels.Matcher) bool {
	for _, m := range matchers {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return true
}

func byTime(s chunks.Sample, t int64) int { return cmp.Compare(s.T(), t) }

// The engine asks for series only.
var errLabelQuery = errors.New("memStorage answers no label queries")

func (*memQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*promlabels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errLabelQuery
}

func (*memQuerier) LabelNames(context.Context, *storage.LabelHints, ...*promlabels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errLabelQuery
}

func (*memQuerier) Close() error { return nil }

type listSeriesSet struct {
	series []storage.Series
	i      int
}

func (s *listSeriesSet) Next() bool                      { s.i++; return s.i < len(s.series) }
func (s *listSeriesSet) At() storage.Series              { return s.series[s.i] }
func (*listSeriesSet) Err() error                        { return nil }
func (*listSeriesSet) Warnings() annotations.Annotations { return nil }

// floatSample is a float sample as chunks.Sample, which storage's list
// series iterate over.
type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                    { return s.t }
func (floatSample) ST() int64                     { return 0 } // no start time known
func (s floatSample) F() float64                  { return s.f }
func (floatSample) H() *histogram.Histogram       { return nil }
func (floatSample) FH() *histogram.FloatHistogram { return nil }
func (floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample         { return s }
