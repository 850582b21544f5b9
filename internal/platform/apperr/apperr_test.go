package apperr

import (
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/sdk/temporal"
)

var (
	errSoldOut  = errors.New("sold out")
	errRejected = errors.New("rejected")
	errLocked   = errors.New("database is locked")
)

func TestClassify(t *testing.T) {
	kinds := []Kind{{Err: errSoldOut, Type: "SoldOut"}, {Err: errRejected, Type: "Rejected"}}
	tests := []struct {
		name        string
		err         error
		wantType    string // "" means: returned unchanged, so retryable
		wantMessage string
	}{
		{
			name:        "first kind",
			err:         fmt.Errorf("reserve k: %w", fmt.Errorf("%w: LAMP has 3, order needs 5", errSoldOut)),
			wantType:    "SoldOut",
			wantMessage: "sold out: LAMP has 3, order needs 5",
		},
		{
			name:        "second kind",
			err:         fmt.Errorf("charge k: %w", errRejected),
			wantType:    "Rejected",
			wantMessage: "charge k: rejected",
		},
		{
			name:        "bare sentinel",
			err:         errSoldOut,
			wantType:    "SoldOut",
			wantMessage: "sold out",
		},
		{
			name: "not a kind",
			err:  fmt.Errorf("begin: %w", errLocked),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.err, kinds...)
			if tt.wantType == "" {
				if got != tt.err {
					t.Errorf("Classify changed a non-business error: %v", got)
				}
				return
			}
			var appErr *temporal.ApplicationError
			if !errors.As(got, &appErr) {
				t.Fatalf("Classify = %T %v, want *temporal.ApplicationError", got, got)
			}
			if !appErr.NonRetryable() || appErr.Type() != tt.wantType {
				t.Errorf("NonRetryable=%v Type=%q, want true %q", appErr.NonRetryable(), appErr.Type(), tt.wantType)
			}
			if appErr.Message() != tt.wantMessage {
				t.Errorf("Message() = %q, want %q", appErr.Message(), tt.wantMessage)
			}
		})
	}
}
