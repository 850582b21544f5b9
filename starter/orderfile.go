package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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

// readOrderFile reads an order file; "-" reads stdin.
func readOrderFile(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read the order from stdin: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read order file: %w", err)
	}
	return data, nil
}

// decodeOrder decodes an order file. Unknown fields are refused, so a typo
// ("customer" for "customer_id") fails here instead of placing an order
// without a customer. A cancel_window absent from the file is window;
// inFile reports whether the file gave one.
func decodeOrder(data []byte, window time.Duration) (order workflows.Order, inFile bool, err error) {
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
		return fmt.Errorf("%s: malformed JSON: %s", position(data, syntax.Offset-1), syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: the file ends in the middle of the order object")
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("the file holds a JSON %s: want an order as a JSON object with %s", typ.Value, orderFileFields)
	case errors.As(err, &typ):
		// Offset is where the value ends: its line is exact, its column not.
		return fmt.Errorf("line %d: field %s is a JSON %s: want %s", line(data, typ.Offset), fieldName(typ.Field), typ.Value, jsonKind(typ.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("%s: the fields of an order are %s", strings.TrimPrefix(err.Error(), "json: "), orderFileFields)
	}
	return err
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
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
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
