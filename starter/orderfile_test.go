package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/workflows"
)

func TestDecodeOrder(t *testing.T) {
	const base = `"id": "42", "customer_id": "c-1", "items": [{"sku": "BOOK-GOPL", "qty": 2}], "payment_token": "tok_visa", "address": "1 Main St"`
	order := func(window time.Duration) workflows.Order {
		return workflows.Order{ID: "42", CustomerID: "c-1", Items: []inventory.Item{{SKU: "BOOK-GOPL", Qty: 2}},
			PaymentToken: "tok_visa", Address: "1 Main St", CancelWindow: workflows.Duration(window)}
	}
	tests := []struct {
		name       string
		json       string
		want       workflows.Order
		wantInFile bool
		wantErr    string
	}{
		{name: "window absent takes the default", json: `{` + base + `}`, want: order(7 * time.Second)},
		{name: "window null takes the default", json: `{` + base + `, "cancel_window": null}`, want: order(7 * time.Second)},
		{name: "window given", json: `{` + base + `, "cancel_window": "1m30s"}`, want: order(90 * time.Second), wantInFile: true},
		{name: "window zero given", json: `{` + base + `, "cancel_window": "0s"}`, want: order(0), wantInFile: true},
		{name: "unknown field", json: `{` + base + `, "notes": "x"}`, wantErr: `unknown field "notes"`},
		{name: "unknown field in an item", json: `{"items": [{"sku": "A", "qty": 1, "price": 3}]}`, wantErr: `unknown field "price"`},
		{name: "bad duration", json: `{` + base + `, "cancel_window": "ten seconds"}`, wantErr: `cancel_window: duration "ten seconds"`},
		{name: "duration as number", json: `{` + base + `, "cancel_window": 10}`, wantErr: "cancel_window: duration must be a string"},
		{name: "syntax error", json: "{\n  \"id\": 42,\n  \"x\" 1\n}", wantErr: "line 3, column 7: malformed JSON"},
		{name: "wrong type", json: "{\n\"id\": 42}", wantErr: "line 2: field id is a JSON number: want a string"},
		{name: "trailing content", json: `{` + base + `} x`, wantErr: "after the order object"},
		{name: "empty", json: "", wantErr: "the file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, inFile, err := decodeOrder([]byte(tt.json), 7*time.Second)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeOrder error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeOrder: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) || inFile != tt.wantInFile {
				t.Errorf("decodeOrder = %+v, inFile %v; want %+v, inFile %v", got, inFile, tt.want, tt.wantInFile)
			}
		})
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncd\n")
	for at, want := range map[int64]string{0: "line 1, column 1", 1: "line 1, column 2", 3: "line 2, column 1", 4: "line 2, column 2", 99: "line 3, column 1"} {
		if got := position(data, at); got != want {
			t.Errorf("position(%d) = %q, want %q", at, got, want)
		}
	}
}

// endless is stdin that never ends, counting the bytes read from it.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.read += len(p)
	return len(p), nil
}

// An order file larger than maxOrderFileSize is refused, one line, exit 1,
// before it is parsed: even a valid order padded with blanks, which would
// parse. One of exactly maxOrderFileSize is read.
func TestPlaceRefusesAnOversizedFile(t *testing.T) {
	const order = `{"id": "42", "customer_id": "c-1", "items": [{"sku": "BOOK-GOPL", "qty": 2}], "payment_token": "tok_visa", "address": "1 Main St"}`
	padded := func(size int) string { return order + strings.Repeat(" ", size-len(order)) }
	tests := []struct {
		name    string
		path    string
		refused bool
	}{
		{"at the limit", writeFile(t, "o.json", padded(maxOrderFileSize)), false},
		{"one byte over", writeFile(t, "o.json", padded(maxOrderFileSize+1)), true},
		{"endless", "/dev/zero", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil {
				t.Skipf("no %s: %v", tt.path, err)
			}
			code, stdout, stderr := runStarter(t, place("--file", tt.path)...)
			if !tt.refused {
				if code != exitError || !strings.Contains(stderr, "connect to Temporal at "+deadAddress) {
					t.Errorf("exit code %d, stderr %q; want a connection error to %s", code, stderr, deadAddress)
				}
				return
			}
			assertOneLineError(t, code, stdout, stderr, "order file "+tt.path+" is larger than 1 MiB", "check that it is the right file")
		})
	}
}

// readOrderFile reads stdin only up to the limit, however much it holds.
func TestReadOrderFileStopsReadingStdinAtTheLimit(t *testing.T) {
	stdin := &endless{}
	_, err := readOrderFile("-", stdin)
	if err == nil || !strings.Contains(err.Error(), "the order on stdin is larger than 1 MiB") {
		t.Fatalf("readOrderFile error = %v, want stdin refused as larger than 1 MiB", err)
	}
	if stdin.read > maxOrderFileSize+1 {
		t.Errorf("read %d bytes of stdin, want at most %d", stdin.read, maxOrderFileSize+1)
	}
}
