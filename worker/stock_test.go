package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/activities/inventory"
)

// catalogEntry is one SKU of the shipped catalog, read from the file
// itself so that the test follows it.
type catalogEntry struct {
	SKU   string `json:"sku"`
	Stock int    `json:"stock"`
}

func readCatalog(t *testing.T) []catalogEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "activities", "inventory", "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []catalogEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatalf("parse catalog.json: %v", err)
	}
	if len(entries) == 0 {
		t.Fatal("catalog.json lists no SKU")
	}
	slices.SortFunc(entries, func(a, b catalogEntry) int { return strings.Compare(a.SKU, b.SKU) })
	return entries
}

// openInventory opens the inventory store in dir, as the worker does, and
// closes it when the test ends.
func openInventory(t *testing.T, dir string) *inventory.Store {
	t.Helper()
	s, err := inventory.Open(context.Background(), filepath.Join(dir, inventory.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// productsIn reads the store's products by SKU.
func productsIn(t *testing.T, s *inventory.Store) map[string]inventory.Product {
	t.Helper()
	list, err := s.Products(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]inventory.Product{}
	for _, p := range list {
		out[p.SKU] = p
	}
	return out
}

// stockRow is the -o json shape a script reads.
type stockRow struct {
	SKU      string `json:"sku"`
	OnHand   *int   `json:"on_hand"`
	Reserved *int   `json:"reserved"`
	Received *int   `json:"received"`
}

// decodeStock parses -o json output, requiring every row to have sku,
// on_hand, reserved and received.
func decodeStock(t *testing.T, stdout string) map[string]stockRow {
	t.Helper()
	var rows []stockRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("-o json is not a JSON array of objects: %v\n%s", err, stdout)
	}
	out := map[string]stockRow{}
	for _, r := range rows {
		if r.SKU == "" || r.OnHand == nil || r.Reserved == nil || r.Received == nil {
			t.Errorf("row lacks sku, on_hand, reserved or received: %+v\n%s", r, stdout)
			continue
		}
		out[r.SKU] = r
	}
	return out
}

func (r stockRow) counts() [3]int { return [3]int{*r.OnHand, *r.Reserved, *r.Received} }

func productCounts(p inventory.Product) [3]int { return [3]int{p.OnHand, p.Reserved, p.Received} }

// stock runs a `worker stock` command on the stores in dir, and fails the
// test unless it succeeds quietly.
func stock(t *testing.T, dir string, args ...string) string {
	t.Helper()
	args = append([]string{"--data-dir=" + dir, "stock"}, args...)
	code, stdout, stderr := invoke(t, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("worker %q: exit %d, stderr:\n%s", args, code, stderr)
	}
	return stdout
}

func TestStockListText(t *testing.T) {
	catalog := readCatalog(t)

	stdout := stock(t, t.TempDir(), "list")

	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"SKU", "NAME", "PRICE", "ON", "HAND", "RESERVED", "RECEIVED"}) {
		t.Errorf("header = %q", lines[0])
	}
	rows := lines[1:]
	if len(rows) != len(catalog) {
		t.Fatalf("%d rows, want one per catalog SKU (%d):\n%s", len(rows), len(catalog), stdout)
	}
	for i, c := range catalog {
		f := strings.Fields(rows[i])
		// SKU first, then name and price; on hand, reserved and received last.
		if f[0] != c.SKU || !slices.Equal(f[len(f)-3:], []string{strconv.Itoa(c.Stock), "0", strconv.Itoa(c.Stock)}) {
			t.Errorf("row %d = %q, want %s with %d on hand, 0 reserved, %d received", i, rows[i], c.SKU, c.Stock, c.Stock)
		}
	}
}

func TestStockListJSON(t *testing.T) {
	catalog := readCatalog(t)

	got := decodeStock(t, stock(t, t.TempDir(), "list", "-o", "json"))

	if len(got) != len(catalog) {
		t.Errorf("%d SKUs, want %d", len(got), len(catalog))
	}
	for _, c := range catalog {
		if want := [3]int{c.Stock, 0, c.Stock}; got[c.SKU].SKU == "" || got[c.SKU].counts() != want {
			t.Errorf("%s: %+v, want on hand, reserved, received = %v", c.SKU, got[c.SKU], want)
		}
	}
}

func TestStockListJSONEmptyDirIsSeeded(t *testing.T) {
	// A data directory that does not exist yet is created and seeded.
	dir := filepath.Join(t.TempDir(), "new", "data")
	if got := decodeStock(t, stock(t, dir, "list", "-o=json")); len(got) != len(readCatalog(t)) {
		t.Errorf("%d SKUs in a new store, want the catalog's %d", len(got), len(readCatalog(t)))
	}
}

// TestStockSet sets stock on hand of a SKU that has units reserved: on hand
// becomes QTY, reserved stays, and received follows so that received = on
// hand + reserved, as seen through -o json, stock list and the store.
func TestStockSet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// The store stays open, as a running worker's would.
	store := openInventory(t, dir)
	if _, err := store.Reserve(ctx, inventory.ReserveRequest{Key: "order-1/reserve", OrderID: "1",
		Items: []inventory.Item{{SKU: "LAMP-LIMITED", Qty: 2}}}); err != nil {
		t.Fatal(err)
	}
	before := productsIn(t, store)

	steps := []struct {
		qty  string
		want [3]int // on hand, reserved, received
	}{
		{qty: "10", want: [3]int{10, 2, 12}},
		{qty: "0", want: [3]int{0, 2, 2}},
		{qty: "0", want: [3]int{0, 2, 2}},
		{qty: "5", want: [3]int{5, 2, 7}},
	}
	for _, s := range steps {
		got := decodeStock(t, stock(t, dir, "set", "LAMP-LIMITED", s.qty, "-o", "json"))
		if len(got) != 1 || got["LAMP-LIMITED"].SKU == "" || got["LAMP-LIMITED"].counts() != s.want {
			t.Errorf("stock set LAMP-LIMITED %s -o json = %+v, want only LAMP-LIMITED with on hand, reserved, received = %v", s.qty, got, s.want)
		}
		if p := productsIn(t, store)["LAMP-LIMITED"]; productCounts(p) != s.want {
			t.Errorf("after stock set LAMP-LIMITED %s, the store has %+v, want %v", s.qty, p, s.want)
		}
	}

	listed := decodeStock(t, stock(t, dir, "list", "-o", "json"))
	after := productsIn(t, store)
	for sku, p := range after {
		if listed[sku].SKU == "" || listed[sku].counts() != productCounts(p) {
			t.Errorf("stock list shows %s as %+v, the store has %+v", sku, listed[sku], p)
		}
		if p.Received != p.OnHand+p.Reserved {
			t.Errorf("%s: received %d != on hand %d + reserved %d", sku, p.Received, p.OnHand, p.Reserved)
		}
		if sku != "LAMP-LIMITED" && !reflect.DeepEqual(p, before[sku]) {
			t.Errorf("%s changed: %+v, was %+v", sku, p, before[sku])
		}
	}
}

func TestStockSetText(t *testing.T) {
	dir := t.TempDir()

	stdout := stock(t, dir, "set", "MUG-GOPHER", "7")

	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SKU") {
		t.Fatalf("stock set printed %d lines, want a header and the SKU's row:\n%s", len(lines), stdout)
	}
	if f := strings.Fields(lines[1]); f[0] != "MUG-GOPHER" || !slices.Equal(f[len(f)-3:], []string{"7", "0", "7"}) {
		t.Errorf("row = %q, want MUG-GOPHER with 7 on hand, 0 reserved, 7 received", lines[1])
	}
	if p := productsIn(t, openInventory(t, dir))["MUG-GOPHER"]; productCounts(p) != [3]int{7, 0, 7} {
		t.Errorf("the store has %+v, want 7 on hand, 0 reserved, 7 received", p)
	}
}

// TestStockRefuses: bad input fails with exit 1 and a one-line reason, and
// leaves the store as it was.
func TestStockRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string // after "worker --data-dir=DIR stock"
		want []string
	}{
		{name: "unknown SKU", args: []string{"set", "NO-SUCH-SKU", "5"}, want: []string{"unknown SKU", "NO-SUCH-SKU"}},
		{name: "SKU in the wrong case", args: []string{"set", "lamp-limited", "5"}, want: []string{"unknown SKU", "lamp-limited"}},
		{name: "negative QTY", args: []string{"set", "LAMP-LIMITED", "-5"}, want: []string{`quantity "-5"`, "0 or more"}},
		{name: "negative QTY after --", args: []string{"set", "LAMP-LIMITED", "--", "-5"}, want: []string{`quantity "-5"`, "0 or more"}},
		{name: "non-numeric QTY", args: []string{"set", "LAMP-LIMITED", "ten"}, want: []string{`quantity "ten"`, "whole number"}},
		{name: "fractional QTY", args: []string{"set", "LAMP-LIMITED", "1.5"}, want: []string{`quantity "1.5"`, "whole number"}},
		{name: "empty QTY", args: []string{"set", "LAMP-LIMITED", ""}, want: []string{`quantity ""`}},
		{name: "no args", args: []string{"set"}, want: []string{"accepts 2 arg(s), received 0"}},
		{name: "one arg", args: []string{"set", "LAMP-LIMITED"}, want: []string{"accepts 2 arg(s), received 1"}},
		{name: "three args", args: []string{"set", "LAMP-LIMITED", "5", "6"}, want: []string{"accepts 2 arg(s), received 3"}},
		{name: "set -o yaml", args: []string{"set", "LAMP-LIMITED", "5", "-o", "yaml"}, want: []string{`--output "yaml"`, "text or json"}},
		{name: "list -o yaml", args: []string{"list", "-o", "yaml"}, want: []string{`--output "yaml"`, "text or json"}},
		{name: "list with an arg", args: []string{"list", "LAMP-LIMITED"}, want: []string{"unknown command", "LAMP-LIMITED"}},
		{name: "unknown subcommand", args: []string{"lst"}, want: []string{"unknown command", `"lst"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			store := openInventory(t, dir)
			before := productsIn(t, store)
			args := append([]string{"--data-dir=" + dir, "stock"}, tt.args...)

			code, stdout, stderr := invoke(t, args...)

			wantOneLineError(t, args, code, stdout, stderr, tt.want...)
			if after := productsIn(t, store); !reflect.DeepEqual(after, before) {
				t.Errorf("worker %q changed the store:\n got %+v\nwant %+v", args, after, before)
			}
		})
	}
}

// TestStockJSONEscapesHTML pins the bytes of -o json: <, > and & in a name
// are escaped, as encoding/json does by default, and an empty list is [].
func TestStockJSONEscapesHTML(t *testing.T) {
	var out bytes.Buffer
	g := &globals{output: "json", stdout: &out}
	if err := g.printProducts([]inventory.Product{{SKU: "A-1", Name: "<b> & c", OnHand: 2}}); err != nil {
		t.Fatal(err)
	}
	want := "[\n  {\n    \"sku\": \"A-1\",\n    \"name\": \"\\u003cb\\u003e \\u0026 c\",\n    \"unit_price_cents\": 0,\n    \"on_hand\": 2,\n    \"reserved\": 0,\n    \"received\": 0\n  }\n]\n"
	if out.String() != want {
		t.Errorf("stock -o json = %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := g.printProducts(nil); err != nil || out.String() != "[]\n" {
		t.Errorf("stock -o json of no products = %q, %v; want \"[]\\n\"", out.String(), err)
	}
}
