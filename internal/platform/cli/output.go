package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/pflag"
)

// The formats of -o/--output: text for people, JSON for scripts.
const (
	Text = "text"
	JSON = "json"
)

// RegisterOutput registers -o/--output on fs, into output.
func RegisterOutput(fs *pflag.FlagSet, output *string) {
	fs.StringVarP(output, "output", "o", Text, "output format: text or json")
}

// CheckOutput refuses an output format other than text or json, before the
// command does anything that its output would have reported.
func CheckOutput(output string) error {
	if output != Text && output != JSON {
		return fmt.Errorf("--output %q: use text or json", output)
	}
	return nil
}

// Render writes v to w as output asks: as indented JSON, or as text by
// printText.
func Render[T any](w io.Writer, output string, v T, printText func(io.Writer, T) error) error {
	if output == JSON {
		return WriteJSON(w, v, true)
	}
	return printText(w, v)
}

// WriteJSON writes v as one JSON value and a newline; indented, or on one
// line (for a stream of values, one a line). URLs keep their '&'.
func WriteJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
