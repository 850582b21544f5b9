package load

import (
	"slices"
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		mix     string
		want    []int // success, declined, flaky, cancel
		wantErr string
	}{
		{mix: defaultMix, want: []int{80, 10, 5, 5}},
		{mix: "cancel=1", want: []int{0, 0, 0, 1}},
		{mix: " success = 3 , declined=0", want: []int{3, 0, 0, 0}},
		{mix: "success", wantErr: "not KIND=WEIGHT"},
		{mix: "=3", wantErr: "not KIND=WEIGHT"},
		{mix: "", wantErr: "not KIND=WEIGHT"},
		{mix: "success=1,", wantErr: "not KIND=WEIGHT"},
		{mix: "refund=1", wantErr: `unknown kind "refund"`},
		{mix: "success=1,success=2", wantErr: "given twice"},
		{mix: "success=x", wantErr: `weight of success is "x"`},
		{mix: "success=-2", wantErr: `weight of success is "-2"`},
		{mix: "success=0,flaky=0", wantErr: "add up to 0"},
	}
	for _, tt := range tests {
		t.Run(tt.mix, func(t *testing.T) {
			got, err := parseMix(tt.mix)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseMix(%q) error = %v, want one containing %q", tt.mix, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("parseMix(%q) = %v, %v; want %v", tt.mix, got, err, tt.want)
			}
		})
	}
}

func TestSpreadKinds(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		weights []int
		want    map[string]int
	}{
		{"exact split", 20, []int{60, 20, 0, 20}, map[string]int{"success": 12, "declined": 4, "cancel": 4}},
		{"default mix of 100", 100, []int{80, 10, 5, 5}, map[string]int{"success": 80, "declined": 10, "flaky": 5, "cancel": 5}},
		{"remainders go to the largest", 3, []int{1, 1, 1, 0}, map[string]int{"success": 1, "declined": 1, "flaky": 1}},
		{"one order", 1, []int{80, 10, 5, 5}, map[string]int{"success": 1}},
		{"one kind", 5, []int{0, 0, 0, 7}, map[string]int{"cancel": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kinds := spreadKinds(tt.n, tt.weights)
			got := map[string]int{}
			for _, k := range kinds {
				got[k.name]++
			}
			if len(kinds) != tt.n || len(got) != len(tt.want) {
				t.Fatalf("spreadKinds(%d, %v) = %v, want %v", tt.n, tt.weights, got, tt.want)
			}
			for name, n := range tt.want {
				if got[name] != n {
					t.Errorf("spreadKinds(%d, %v): %d %s, want %d", tt.n, tt.weights, got[name], name, n)
				}
			}
		})
	}
}

func TestSpreadKindsInterleaves(t *testing.T) {
	kinds := spreadKinds(10, []int{50, 50, 0, 0})
	for i := 1; i < len(kinds); i++ {
		if kinds[i].name == kinds[i-1].name {
			t.Fatalf("an even mix of two kinds should alternate; got %s twice at %d", kinds[i].name, i)
		}
	}
}
