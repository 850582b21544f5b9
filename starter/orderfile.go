package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ordersaga/ordersaga/workflows"
)

// orderFileFields lists the fields an order file may hold, for errors.
const orderFileFields = "id, customer_id, items, payment_token, address, cancel_window"

// orderFile is the JSON of `place --file`: a workflows.Order whose
// cancel_window may be left out (then --cancel-window applies).
type orderFile struct {
	workflows.Order
	// CancelWindow shadows Order.CancelWindow so that an absent (or null)
	// cancel_window can be told from "0s".
	CancelWindow *fileDuration `json:"cancel_window"`
}

// fileDuration is the cancel_window of an order file; its errors name the
// field, which encoding/json does not do for a custom decoder's error.
type fileDuration workflows.Duration

func (d *fileDuration) UnmarshalJSON(b []byte) error {
	if err := (*workflows.Duration)(d).UnmarshalJSON(b); err != nil {
		return fmt.Errorf("cancel_window: %w", err)
	}
	return nil
}

// maxOrderFileSize is the largest order file read. An order at every limit
// (workflows.MaxLines lines, the longest texts) is a few KiB of JSON, so a
// larger file is a mistake (the wrong file, a runaway generator) to refuse
// before it is read whole, let alone sent to Temporal.
const maxOrderFileSize = 1 << 20

// readOrderFile reads an order file; "-" reads stdin. It reads at most
// maxOrderFileSize bytes, and one more to tell that a file is larger.
func readOrderFile(name string, stdin io.Reader) ([]byte, error) {
	what, r := "order file "+name, stdin
	if name == "-" {
		what = "the order on stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read order file: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxOrderFileSize+1))
	if err != nil {
		if name == "-" {
			return nil, fmt.Errorf("read the order from stdin: %w", err)
		}
		return nil, fmt.Errorf("read order file: %w", err)
	}
	if len(data) > maxOrderFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB: an order is a few KiB of JSON (at most %d lines); check that it is the right file", what, maxOrderFileSize>>20, workflows.MaxLines)
	}
	return data, nil
}

// decodeOrder decodes an order file. Unknown fields are refused, so a typo
// ("customer" for "customer_id") fails here instead of placing an order
// without a customer. A cancel_window absent from the file is window;
// inFile reports whether the file gave one.
func decodeOrder(data []byte, window time.Duration) (order workflows.Order, inFile bool, err error) {
	// Some editors start a UTF-8 file with a byte order mark, which JSON
	// does not allow; it says nothing about the order, so it is skipped.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return workflows.Order{}, false, errors.New("the file is empty: want an order as a JSON object with " + orderFileFields)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f orderFile
	if err := dec.Decode(&f); err != nil {
		return workflows.Order{}, false, jsonError(data, err)
	}
	rest := data[dec.InputOffset():]
	if trimmed := bytes.TrimLeft(rest, " \t\r\n"); len(trimmed) > 0 {
		at := int64(len(data) - len(trimmed))
		return workflows.Order{}, false, fmt.Errorf("%s: unexpected content after the order object: the file must hold one JSON object", position(data, at))
	}
	order = f.Order
	order.CancelWindow = workflows.Duration(window)
	if f.CancelWindow != nil {
		order.CancelWindow = workflows.Duration(*f.CancelWindow)
	}
	return order, f.CancelWindow != nil, nil
}

// jsonError says what is wrong in an order file and, where encoding/json
// tells, where.
func jsonError(data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		// Offset counts the bytes read, the wrong one included.
		return fmt.Errorf("%s: malformed JSON: %s: correct the JSON there", position(data, syntax.Offset-1), syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: the file ends in the middle of the order object: check that the file is complete and closes every string, array and object")
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("the file holds a JSON %s: want an order as a JSON object with %s", jsonValue(typ.Value), orderFileFields)
	case errors.As(err, &typ):
		// Offset is where the value ends: its line is exact, its column not.
		return fmt.Errorf("line %d: field %s is a JSON %s: want %s", line(data, typ.Offset), fieldName(typ.Field), jsonValue(typ.Value), jsonKind(typ.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if name, uerr := strconv.Unquote(field); uerr == nil {
			field = workflows.QuoteInput(name)
		}
		return fmt.Errorf("unknown field %s: the fields of an order are %s; correct or remove it", field, orderFileFields)
	}
	return err
}

// jsonValue shortens the value encoding/json reports in a type error:
// "string", or "number " and the number as written, which may be long.
func jsonValue(v string) string {
	if kind, number, ok := strings.Cut(v, " "); ok {
		return kind + " " + workflows.QuoteInput(number)
	}
	return v
}

// fieldName turns encoding/json's field path ("Order.items.qty") into the
// JSON path a person wrote ("items.qty").
func fieldName(path string) string {
	return strings.TrimPrefix(path, "Order.")
}

// jsonKind names the JSON a Go type wants.
func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "bool":
		return "true or false"
	}
	return "an object"
}

// position says where the byte at index at is: "line L, column C", both
// counted from 1, the column in bytes.
func position(data []byte, at int64) string {
	at = min(max(at, 0), int64(len(data)))
	before := data[:at]
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line(data, at), col)
}

// line is the line, counted from 1, of the byte at index at.
func line(data []byte, at int64) int {
	at = min(max(at, 0), int64(len(data)))
	return bytes.Count(data[:at], []byte("\n")) + 1
}
