package cli

import (
	"errors"
	"testing"
)

func TestOneLine(t *testing.T) {
	tests := []struct {
		name, msg, want string
	}{
		{"one line", `--mix "a  b": unknown kind`, `--mix "a  b": unknown kind`},
		{"cobra suggestion", "unknown command \"x\"\n\nDid you mean this?\n\tplace\n", `unknown command "x" Did you mean this? place`},
		{"carriage returns", "first\r\nsecond\rthird", "first second third"},
		{"blank", " \n\t\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OneLine(errors.New(tt.msg)); got != tt.want {
				t.Errorf("OneLine(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}
