package main

import (
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/internal/tracing"
	"github.com/ordersaga/ordersaga/internal/tracing/tracetest"
)

// TestCommandIsTheRootSpan: with tracing on, a command is the root span
// of its trace, sent to the collector before the starter exits, even when
// the command fails; its failure is the span's status.
func TestCommandIsTheRootSpan(t *testing.T) {
	for _, protocol := range []string{tracing.ProtocolHTTP, tracing.ProtocolGRPC} {
		t.Run(protocol, func(t *testing.T) {
			r := tracetest.Start(t)
			endpoint := r.HTTPEndpoint()
			if protocol == tracing.ProtocolGRPC {
				endpoint = r.GRPCEndpoint()
			}
			t.Setenv(tracing.EndpointEnv, endpoint)
			t.Setenv(tracing.ProtocolEnv, protocol)
			code, _, stderr := runStarter(t, "status", "42")
			if code != exitError || !strings.Contains(stderr, "connect to Temporal") {
				t.Fatalf("exit %d, stderr %q; want the connection's error", code, stderr)
			}
			spans := r.Spans()
			if len(spans) != 1 {
				t.Fatalf("%d spans received, want the command's: %+v", len(spans), spans)
			}
			s := spans[0]
			if s.Name != "starter status" || s.ParentID != "" || s.Service != tracing.StarterService || !s.Error {
				t.Errorf("span %q (parent %q, service %q, error %v); want the root span starter status of %s, in error",
					s.Name, s.ParentID, s.Service, s.Error, tracing.StarterService)
			}
		})
	}
}

func TestRefusesABadTracingProtocol(t *testing.T) {
	t.Setenv(tracing.EndpointEnv, "http://127.0.0.1:4318")
	t.Setenv(tracing.TracesProtocolEnv, "grpc/json")
	code, _, stderr := runStarter(t, "status", "42")
	want := "starter: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL \"grpc/json\": use grpc or http/protobuf\n"
	if code != exitError || stderr != want {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
	}
}
