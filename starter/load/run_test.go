package load

import (
	"errors"
	"testing"
)

func TestLoadOutcome(t *testing.T) {
	tests := []struct {
		name    string
		rep     loadReport
		wantErr string // "" for none
	}{
		{"clean", loadReport{Total: 3, Audit: passedAudit()}, ""},
		{"skipped audit", loadReport{Total: 3, Audit: &loadAudit{Skipped: true}}, ""},
		{"baseline", loadReport{Total: 3}, ""},
		{"mismatches", loadReport{Total: 3, Mismatches: []mismatch{{ID: "a"}}, Audit: passedAudit()}, "1 of 3 orders ended otherwise than asked"},
		{"violations", loadReport{Total: 3, Audit: failedAudit()}, "the audit found 2 violation(s) and 1 order(s) stuck over 30m0s"},
		{"stuck only", loadReport{Total: 3, Audit: stuckAudit()}, "the audit found 0 violation(s) and 1 order(s) stuck over 30m0s"},
		{"both", loadReport{Total: 3, Mismatches: []mismatch{{ID: "a"}}, Audit: failedAudit()},
			"1 of 3 orders ended otherwise than asked; the audit found 2 violation(s) and 1 order(s) stuck over 30m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rep.outcome("orders")
			var outcome *OutcomeError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("outcome = %v, want nil", err)
			case tt.wantErr != "" && (!errors.As(err, &outcome) || err.Error() != tt.wantErr):
				t.Errorf("outcome = %#v, want an *OutcomeError %q (exit 3)", err, tt.wantErr)
			}
		})
	}
}
