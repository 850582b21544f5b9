package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/activities/inventory"
)

func TestParseItem(t *testing.T) {
	tests := []struct {
		in      string
		want    inventory.Item
		wantErr string // empty: no error
	}{
		{in: "BOOK-GOPL:2", want: inventory.Item{SKU: "BOOK-GOPL", Qty: 2}},
		{in: " MUG-GOPHER : 10 ", want: inventory.Item{SKU: "MUG-GOPHER", Qty: 10}},
		{in: "A:1", want: inventory.Item{SKU: "A", Qty: 1}},
		{in: "BOOK-GOPL", wantErr: "want SKU:QTY"},
		{in: "", wantErr: "want SKU:QTY"},
		{in: ":2", wantErr: "SKU is empty"},
		{in: "BOOK-GOPL:", wantErr: "quantity is missing"},
		{in: "BOOK-GOPL:0", wantErr: `quantity "0" is not a positive integer`},
		{in: "BOOK-GOPL:-1", wantErr: "not a positive integer"},
		{in: "BOOK-GOPL:1.5", wantErr: "not a positive integer"},
		{in: "BOOK-GOPL:two", wantErr: "not a positive integer"},
		{in: "BOOK-GOPL:99999999999999999999", wantErr: `quantity "99999999999999999999" is too large: want SKU:QTY with QTY from 1 to 10000`},
		{in: "BOOK-GOPL:2:3", wantErr: "not a positive integer"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseItem(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseItem(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), itemExample) {
					t.Errorf("parseItem(%q) error = %v, want it to show the example %s", tt.in, err, itemExample)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseItem(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseItemsNamesTheWrongOne(t *testing.T) {
	_, err := parseItems([]string{"A:1", "B:1", "C"})
	if err == nil || !strings.HasPrefix(err.Error(), `--item #3 "C": `) {
		t.Fatalf("error = %v, want it to name --item #3", err)
	}
	got, err := parseItems([]string{"A:1", "B:3"})
	want := []inventory.Item{{SKU: "A", Qty: 1}, {SKU: "B", Qty: 3}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseItems = %+v, %v; want %+v", got, err, want)
	}
}
