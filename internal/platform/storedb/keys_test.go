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

// TestKeyID pins a record ID: the stores' IDs are public and must never
// change.
func TestKeyID(t *testing.T) {
	if got, want := KeyID("ch_", "order-42/charge"), "ch_e13e048b51e57e9c"; got != want {
		t.Errorf("KeyID = %q, want %q", got, want)
	}
}
