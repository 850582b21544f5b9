package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/workflows"
)

// maxFileErrorLength bounds an order file's error: it quotes at most
// workflows.MaxEcho bytes of anything the file holds.
const maxFileErrorLength = 400

// fileErrorAdvice are the words by which an order file's errors say what
// to do, their own or Validate's.
var fileErrorAdvice = []string{"want ", "use ", "give ", "add ", "correct ", "check ", "must ", "the limit is "}

// FuzzDecodeOrder feeds arbitrary bytes to the --file parser and then to
// Validate, as place does. The checked-in corpus is in
// testdata/fuzz/FuzzDecodeOrder; plain `go test` runs it.
//
// Properties: nothing panics; an error is one short line that says what to
// do; an accepted file's cancel window is the file's when it has one and
// the default when not; an accepted order, written back as an order file,
// decodes to the same order with the same verdict from Validate.
func FuzzDecodeOrder(f *testing.F) {
	for _, seed := range []string{
		`{"id": "42", "customer_id": "c-1", "items": [{"sku": "BOOK-GOPL", "qty": 2}], "payment_token": "tok_visa", "address": "1 Main St", "cancel_window": "30s"}`,
		`{"id": "42", "customer": "c-1"}`,
		`{"id": 42}`,
		`{"cancel_window": 10}`,
		`{} {}`,
		`[`,
		``,
	} {
		f.Add([]byte(seed))
	}
	const window = 7 * time.Second
	f.Fuzz(func(t *testing.T, data []byte) {
		order, inFile, err := decodeOrder(data, window)
		if err != nil {
			checkFileError(t, err)
			return
		}
		verdict := order.Validate()
		if verdict != nil {
			checkFileError(t, verdict)
		}
		if !inFile && time.Duration(order.CancelWindow) != window {
			t.Fatalf("a file without cancel_window got the window %s, want the default %s", time.Duration(order.CancelWindow), window)
		}
		encoded, merr := json.Marshal(order)
		if merr != nil {
			t.Fatalf("encode the order: %v", merr)
		}
		back, backInFile, berr := decodeOrder(encoded, time.Hour)
		if berr != nil || !backInFile {
			t.Fatalf("the order written back as a file %s: inFile %v, error %v", encoded, backInFile, berr)
		}
		if !reflect.DeepEqual(back, order) {
			t.Fatalf("order changed when written back as a file:\n got %#v\nwant %#v", back, order)
		}
		if again := back.Validate(); !sameVerdict(verdict, again) {
			t.Fatalf("Validate changed its verdict on the written-back order: %v, then %v", verdict, again)
		}
	})
}

func checkFileError(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") || len(msg) > maxFileErrorLength {
		t.Fatalf("error is not one short line: %q", msg)
	}
	if !containsAny(msg, fileErrorAdvice) {
		t.Fatalf("error %q does not say what to do (none of %q)", msg, fileErrorAdvice)
	}
}

func sameVerdict(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// The parts of an order file that an error quotes are cut short.
func TestDecodeOrderErrorsQuoteOnlyTheStartOfHugeValues(t *testing.T) {
	huge := strings.Repeat("9", 1<<20)
	tests := []struct {
		name string
		json string
		want string
	}{
		{"huge unknown field", `{"` + strings.Repeat("f", 1<<20) + `": 1}`, `unknown field "` + strings.Repeat("f", workflows.MaxEcho) + `"… (1048576 bytes): the fields of an order are`},
		{"huge number", `{"items": [{"sku": "A", "qty": ` + huge + `}]}`, `field items.qty is a JSON number "` + strings.Repeat("9", workflows.MaxEcho) + `"… (1048576 bytes): want a whole number`},
		{"huge duration", `{"cancel_window": "` + huge + `"}`, `cancel_window: duration "` + strings.Repeat("9", workflows.MaxEcho) + `"… (1048576 bytes): use a form`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeOrder([]byte(tt.json), 0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %.300v, want it to contain %q", err, tt.want)
			}
			if len(err.Error()) > maxFileErrorLength || strings.Contains(err.Error(), "\n") {
				t.Errorf("error is %d bytes or more than one line: %.300q", len(err.Error()), err)
			}
		})
	}
}

// A file that starts with a UTF-8 byte order mark reads as without it.
func TestDecodeOrderSkipsAByteOrderMark(t *testing.T) {
	const file = `{"id": "42", "customer_id": "c-1", "items": [{"sku": "A", "qty": 1}], "payment_token": "t", "address": "a"}`
	want, _, err := decodeOrder([]byte(file), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := decodeOrder(append([]byte("\xef\xbb\xbf"), file...), 0)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("with a byte order mark: %+v, %v; want %+v", got, err, want)
	}
	if _, _, err := decodeOrder([]byte("\xef\xbb\xbf \n"), 0); err == nil || !strings.Contains(err.Error(), "the file is empty") {
		t.Fatalf("a byte order mark alone: %v, want the file to be empty", err)
	}
	if _, _, err := decodeOrder(bytes.Repeat([]byte("\xef\xbb\xbf"), 2), 0); err == nil || !strings.Contains(err.Error(), "line 1, column 1: malformed JSON") {
		t.Fatalf("two byte order marks: %v, want malformed JSON at the second", err)
	}
}
