// Package tracetest is an OTLP trace receiver for tests: it listens on
// loopback, over HTTP (http/protobuf) and gRPC at once, and keeps every
// span it is sent, flattened, so that a test can check which spans a
// process exported and how they connect.
package tracetest

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Span is one received span. Attribute values are strings: a list's
// items are joined with ",".
type Span struct {
	TraceID, SpanID, ParentID string
	Name                      string
	// Service is the resource's service.name.
	Service    string
	Start, End time.Time
	Attrs      map[string]string
	Events     []Event
	// Error is whether the span's status is an error, and StatusMessage
	// its description.
	Error         bool
	StatusMessage string
	// Resource holds the resource's attributes.
	Resource map[string]string
}

// Event is a span's event, such as an "exception" an error recorded.
type Event struct {
	Name  string
	Attrs map[string]string
}

// Receiver keeps the spans sent to it.
type Receiver struct {
	mu    sync.Mutex
	spans []Span

	httpAddr, grpcAddr string
}

// Start starts a receiver on two free loopback ports, one for each
// protocol; it stops when the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("OTLP receiver: %v", err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		hl.Close()
		t.Fatalf("OTLP receiver: %v", err)
	}
	r.httpAddr, r.grpcAddr = hl.Addr().String(), gl.Addr().String()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.serveHTTP)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(hl) }()

	gs := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(gs, traceService{r: r})
	go func() { _ = gs.Serve(gl) }()

	t.Cleanup(func() {
		gs.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	})
	return r
}

// HTTPEndpoint is the base URL for OTEL_EXPORTER_OTLP_ENDPOINT with the
// http/protobuf protocol (the exporter adds /v1/traces).
func (r *Receiver) HTTPEndpoint() string { return "http://" + r.httpAddr }

// GRPCEndpoint is the URL for OTEL_EXPORTER_OTLP_ENDPOINT with the grpc
// protocol; "http" makes the exporter connect without TLS.
func (r *Receiver) GRPCEndpoint() string { return "http://" + r.grpcAddr }

// Spans returns a copy of the spans received so far, in arrival order.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans)
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = http.MaxBytesReader(w, req.Body, 64<<20)
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var export collectorpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &export); err != nil {
		http.Error(w, fmt.Sprintf("not an OTLP trace export: %v", err), http.StatusBadRequest)
		return
	}
	r.add(&export)
	out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

type traceService struct {
	collectorpb.UnimplementedTraceServiceServer
	r *Receiver
}

func (s traceService) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	s.r.add(req)
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func (r *Receiver) add(req *collectorpb.ExportTraceServiceRequest) {
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		resource := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, flatten(s, resource))
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, got...)
}

func flatten(s *tracepb.Span, resource map[string]string) Span {
	span := Span{
		TraceID:       hex.EncodeToString(s.GetTraceId()),
		SpanID:        hex.EncodeToString(s.GetSpanId()),
		ParentID:      hex.EncodeToString(s.GetParentSpanId()),
		Name:          s.GetName(),
		Service:       resource["service.name"],
		Start:         time.Unix(0, int64(s.GetStartTimeUnixNano())),
		End:           time.Unix(0, int64(s.GetEndTimeUnixNano())),
		Attrs:         attrs(s.GetAttributes()),
		Error:         s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
		StatusMessage: s.GetStatus().GetMessage(),
		Resource:      resource,
	}
	for _, e := range s.GetEvents() {
		span.Events = append(span.Events, Event{Name: e.GetName(), Attrs: attrs(e.GetAttributes())})
	}
	return span
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = value(kv.GetValue())
	}
	return m
}

func value(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return string(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		items := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, item := range x.ArrayValue.GetValues() {
			items = append(items, value(item))
		}
		return strings.Join(items, ",")
	case *commonpb.AnyValue_KvlistValue:
		items := make([]string, 0, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			items = append(items, kv.GetKey()+"="+value(kv.GetValue()))
		}
		return strings.Join(items, ",")
	}
	return ""
}

// Texts returns every text a span carries, for a test that checks that
// none holds a secret: its name, its attributes' keys and values, its
// status message, its events' names and attributes, its resource's.
func (s Span) Texts() []string {
	texts := []string{s.Name, s.StatusMessage}
	for _, m := range []map[string]string{s.Attrs, s.Resource} {
		for k, v := range m {
			texts = append(texts, k, v)
		}
	}
	for _, e := range s.Events {
		texts = append(texts, e.Name)
		for k, v := range e.Attrs {
			texts = append(texts, k, v)
		}
	}
	return texts
}
