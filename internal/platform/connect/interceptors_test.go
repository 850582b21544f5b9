package connect

import (
	"testing"

	"go.temporal.io/sdk/interceptor"
)

// TestOptionsInterceptors: the binary's interceptors reach the client
// options as given, after any the profile set; none given, none added.
func TestOptionsInterceptors(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no user config file
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	a, b := &interceptor.ClientInterceptorBase{}, &interceptor.ClientInterceptorBase{}
	tests := []struct {
		name  string
		given []interceptor.ClientInterceptor
	}{
		{"none", nil},
		{"two", []interceptor.ClientInterceptor{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Flags{Interceptors: tt.given}
			opts, err := f.Options(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(opts.Interceptors) != len(tt.given) {
				t.Fatalf("%d interceptors, want %d", len(opts.Interceptors), len(tt.given))
			}
			for i := range tt.given {
				if opts.Interceptors[i] != tt.given[i] {
					t.Errorf("interceptor %d is not the one given", i)
				}
			}
		})
	}
}
