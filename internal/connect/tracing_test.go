package connect

import (
	"context"
	"testing"

	"go.temporal.io/sdk/interceptor"

	"github.com/ordersaga/ordersaga/internal/tracing"
)

// TestOptionsTracing: with tracing on, the client options carry the
// tracing's interceptors, one of which is a worker interceptor too, so the
// SDK gives it to every worker made from the client; with tracing off,
// none.
func TestOptionsTracing(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no user config file
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv(tracing.EndpointEnv, "http://127.0.0.1:4318")
	tr, err := tracing.Setup(context.Background(), tracing.WorkerService, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown() })
	tests := []struct {
		name        string
		tracing     *tracing.Tracing
		want        int
		wantWorkers bool
	}{
		{"off", nil, 0, false},
		{"on", tr, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Flags{Tracing: tt.tracing}
			opts, err := f.Options(nil)
			if err != nil {
				t.Fatal(err)
			}
			workers := false
			for _, it := range opts.Interceptors {
				if _, ok := it.(interceptor.WorkerInterceptor); ok {
					workers = true
				}
			}
			if len(opts.Interceptors) != tt.want || workers != tt.wantWorkers {
				t.Errorf("%d interceptors (a worker one: %v), want %d (%v)", len(opts.Interceptors), workers, tt.want, tt.wantWorkers)
			}
		})
	}
}
