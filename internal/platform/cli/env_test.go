package cli

import (
	"os"
	"testing"
)

func TestEnvOr(t *testing.T) {
	const name = "ORDERSAGA_CLI_TEST_ENV"
	tests := []struct {
		name  string
		value *string // nil: unset
		want  string
	}{
		{"unset", nil, "def"},
		{"empty", new(""), "def"},
		{"set", new("v"), "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(name, "") // restored when the test ends
			if tt.value == nil {
				os.Unsetenv(name)
			} else {
				os.Setenv(name, *tt.value)
			}
			if got := EnvOr(name, "def"); got != tt.want {
				t.Errorf("EnvOr = %q, want %q", got, tt.want)
			}
		})
	}
}
