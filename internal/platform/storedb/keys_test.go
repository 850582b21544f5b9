package storedb

import "testing"

func TestKeyWorkflowID(t *testing.T) {
	tests := []struct{ key, want string }{
		{"order-42/reserve", "order-42"},
		{"order-42/charge", "order-42"},
		{"a/b/ship", "a/b"},
		{"no-step", "no-step"},
		{"/reserve", ""},
		{"trailing/", "trailing"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := KeyWorkflowID(tt.key); got != tt.want {
			t.Errorf("KeyWorkflowID(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
