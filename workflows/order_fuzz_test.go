package workflows

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzOrderJSON feeds arbitrary bytes to the workflow's input path: decode
// into an Order, then Validate. The checked-in corpus is in
// testdata/fuzz/FuzzOrderJSON; plain `go test` runs it.
//
// Properties:
//   - nothing panics;
//   - every error is one line; Validate's also names the field it is about,
//     says what to do, and stays short whatever the input's size;
//   - an accepted order respects every limit, checked here independently
//     of Validate;
//   - an accepted order encodes and decodes to the same order, which is
//     accepted again and encodes to the same bytes.
func FuzzOrderJSON(f *testing.F) {
	for _, seed := range []string{
		`{"id":"42","customer_id":"c-1","items":[{"sku":"BOOK-GOPL","qty":2}],"payment_token":"tok_visa","address":"1 Main St","cancel_window":"10s"}`,
		`{"id":"42","customer_id":"c-1","items":[{"sku":"BOOK-GOPL","qty":0}],"payment_token":"tok_visa","address":"1 Main St"}`,
		`{"id":"4/2","items":[]}`,
		`{"cancel_window":10}`,
		`[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var o Order
		if err := json.Unmarshal(data, &o); err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("decoding error is not one line: %q", err)
			}
			return
		}
		err := o.Validate()
		if again := o.Validate(); !sameError(err, again) {
			t.Fatalf("Validate is not deterministic: %v, then %v", err, again)
		}
		if err != nil {
			checkRefusal(t, err)
			return
		}
		checkAccepted(t, o)

		encoded, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("encode an accepted order: %v", err)
		}
		var back Order
		if err := json.Unmarshal(encoded, &back); err != nil {
			t.Fatalf("decode an accepted order's encoding %s: %v", encoded, err)
		}
		if !reflect.DeepEqual(back, o) {
			t.Fatalf("order changed in an encoding round trip:\n got %#v\nwant %#v", back, o)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("accepted order refused after a round trip: %v", err)
		}
		if again, _ := json.Marshal(back); !bytes.Equal(again, encoded) {
			t.Fatalf("encoding changed in a round trip:\n got %s\nwant %s", again, encoded)
		}
	})
}

// refusalFields are the names by which Validate's errors refer to the
// order's fields; each error has at least one.
var refusalFields = []string{"order ID", "customer", "SKU", "quantity", "items", "payment token", "address", "cancel window"}

// refusalAdvice are the words by which Validate's errors say what to do.
var refusalAdvice = []string{"give ", "use ", "add ", "the limit is "}

// maxRefusalLength bounds Validate's errors: they quote at most an ID of
// MaxIDLength bytes, each of which %q may spell in four characters.
const maxRefusalLength = 512

func checkRefusal(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("Validate error is not one line: %q", msg)
	}
	if len(msg) > maxRefusalLength {
		t.Fatalf("Validate error is %d bytes long, over %d: %.200q...", len(msg), maxRefusalLength, msg)
	}
	if !containsAny(msg, refusalFields) {
		t.Fatalf("Validate error %q names none of the fields %q", msg, refusalFields)
	}
	if !containsAny(msg, refusalAdvice) {
		t.Fatalf("Validate error %q does not say what to do (none of %q)", msg, refusalAdvice)
	}
}

// idPattern is what checkID accepts, restated.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// checkAccepted checks every limit on an accepted order, without Validate.
func checkAccepted(t *testing.T, o Order) {
	t.Helper()
	if !idPattern.MatchString(o.ID) || len(o.ID) > MaxIDLength {
		t.Fatalf("accepted order ID %q", o.ID)
	}
	if strings.TrimSpace(o.CustomerID) == "" || len(o.CustomerID) > MaxCustomerLength {
		t.Fatalf("accepted customer ID %q", o.CustomerID)
	}
	if len(o.Items) < 1 || len(o.Items) > MaxLines {
		t.Fatalf("accepted an order of %d lines", len(o.Items))
	}
	seen := map[string]bool{}
	for _, it := range o.Items {
		if !idPattern.MatchString(it.SKU) || len(it.SKU) > MaxIDLength {
			t.Fatalf("accepted SKU %q", it.SKU)
		}
		if it.Qty < 1 || it.Qty > MaxQty {
			t.Fatalf("accepted quantity %d of %s", it.Qty, it.SKU)
		}
		if seen[it.SKU] {
			t.Fatalf("accepted SKU %s twice", it.SKU)
		}
		seen[it.SKU] = true
	}
	for what, text := range map[string]string{"payment token": o.PaymentToken, "address": o.Address} {
		if strings.TrimSpace(text) == "" || len(text) > MaxTextLength {
			t.Fatalf("accepted %s of %d bytes: %.80q", what, len(text), text)
		}
	}
	if w := time.Duration(o.CancelWindow); w < 0 || w > MaxCancelWindow {
		t.Fatalf("accepted cancel window %s", w)
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// A rejected duration is quoted in its error, but only its start: a huge
// cancel_window makes a short message that still says what to do.
func TestDurationErrorQuotesOnlyTheStartOfAHugeValue(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"short", "soon", `duration "soon": use a form such as "10s" or "1m30s"`},
		{"at the limit", strings.Repeat("x", MaxEcho), `duration "` + strings.Repeat("x", MaxEcho) + `": use a form`},
		{"huge", strings.Repeat("x", 1<<20), `duration "` + strings.Repeat("x", MaxEcho) + `"… (1048576 bytes): use a form such as "10s" or "1m30s"`},
		{"cut inside a character", strings.Repeat("x", MaxEcho-1) + strings.Repeat("é", 100), `duration "` + strings.Repeat("x", MaxEcho-1) + `"… (239 bytes)`},
		{"newline", "1\n0s", `duration "1\n0s": use`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(map[string]string{"cancel_window": tt.value})
			if err != nil {
				t.Fatal(err)
			}
			var o Order
			err = json.Unmarshal(b, &o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %.300v, want it to contain %q", err, tt.want)
			}
			if len(err.Error()) > 200 || strings.Contains(err.Error(), "\n") {
				t.Errorf("error is %d bytes or more than one line: %.300q", len(err.Error()), err)
			}
		})
	}
}
