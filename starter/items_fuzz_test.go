package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/workflows"
)

// maxItemErrorLength bounds an --item error: it quotes at most workflows.MaxEcho
// bytes of the value (four characters each, escaped) and of its quantity.
const maxItemErrorLength = 400

// FuzzParseItem feeds arbitrary --item values to the parser. The checked-in
// corpus is in testdata/fuzz/FuzzParseItem; plain `go test` runs it.
//
// Properties: nothing panics; an error is one short line that shows the
// SKU:QTY example and, from parseItems, names the --item by position; an
// accepted item has a non-empty, trimmed SKU without ':' and a quantity of
// at least 1, and writing it back as SKU:QTY parses to the same item.
func FuzzParseItem(f *testing.F) {
	for _, seed := range []string{"BOOK-GOPL:2", " A : 1 ", "A", ":2", "A:", "A:0", "A:-1", "A:1.5", "A:99999999999999999999", "A:2:3"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		item, err := parseItem(v)
		items, errs := parseItems([]string{"OTHER:1", v})
		if (err == nil) != (errs == nil) {
			t.Fatalf("parseItem(%q) = %v but parseItems = %v", v, err, errs)
		}
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || len(msg) > maxItemErrorLength {
				t.Fatalf("parseItem(%q) error is not one short line: %q", v, msg)
			}
			if !strings.Contains(msg, itemExample) {
				t.Fatalf("parseItem(%q) error %q does not show the example %s", v, msg, itemExample)
			}
			all := errs.Error()
			if !strings.HasPrefix(all, "--item #2 ") || strings.ContainsAny(all, "\r\n") || len(all) > maxItemErrorLength+100 {
				t.Fatalf("parseItems error %q: want one short line naming --item #2", all)
			}
			return
		}
		if item.SKU == "" || item.SKU != strings.TrimSpace(item.SKU) || strings.Contains(item.SKU, ":") {
			t.Fatalf("parseItem(%q) accepted SKU %q", v, item.SKU)
		}
		if item.Qty < 1 {
			t.Fatalf("parseItem(%q) accepted quantity %d", v, item.Qty)
		}
		again, err := parseItem(fmt.Sprintf("%s:%d", item.SKU, item.Qty))
		if err != nil || again != item {
			t.Fatalf("%+v written back as SKU:QTY parses to %+v, %v", item, again, err)
		}
		if want := []inventory.Item{{SKU: "OTHER", Qty: 1}, item}; !reflect.DeepEqual(items, want) {
			t.Fatalf("parseItems = %+v, want %+v", items, want)
		}
	})
}

// An --item error quotes the value it refuses, but only its start.
func TestItemErrorQuotesOnlyTheStartOfAHugeValue(t *testing.T) {
	tests := []struct {
		name string
		v    string
		want string
	}{
		{"huge SKU without a quantity", strings.Repeat("S", 1<<20), `--item #1 "` + strings.Repeat("S", workflows.MaxEcho) + `"… (1048576 bytes): want SKU:QTY`},
		{"huge quantity", "A:" + strings.Repeat("7", 1<<20), `quantity "` + strings.Repeat("7", workflows.MaxEcho) + `"… (1048576 bytes) is too large`},
		{"huge bad quantity", "A:" + strings.Repeat("x", 1<<20), `quantity "` + strings.Repeat("x", workflows.MaxEcho) + `"… (1048576 bytes) is not a positive integer`},
		{"newline", "A\nB", `--item #1 "A\nB": want SKU:QTY`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseItems([]string{tt.v})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %.300v, want it to contain %q", err, tt.want)
			}
			if len(err.Error()) > maxItemErrorLength+100 || strings.Contains(err.Error(), "\n") {
				t.Errorf("error is %d bytes or more than one line: %.300q", len(err.Error()), err)
			}
		})
	}
}
