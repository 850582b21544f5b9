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
// printText. URLs keep their '&'.
func Render[T any](w io.Writer, output string, v T, printText func(io.Writer, T) error) error {
	return render(w, output, v, printText, false)
}

// RenderEscapingHTML is Render with <, > and & in JSON strings written as
// \u003c, \u003e and \u0026, encoding/json's default: the worker's -o json
// has always been written so, and a script may compare its bytes.
func RenderEscapingHTML[T any](w io.Writer, output string, v T, printText func(io.Writer, T) error) error {
	return render(w, output, v, printText, true)
}

func render[T any](w io.Writer, output string, v T, printText func(io.Writer, T) error, escapeHTML bool) error {
	if output == JSON {
		return writeJSON(w, v, true, escapeHTML)
	}
	return printText(w, v)
}

// WriteJSON writes v as one JSON value and a newline; indented, or on one
// line (for a stream of values, one a line). URLs keep their '&'.
func WriteJSON(w io.Writer, v any, indent bool) error {
	return writeJSON(w, v, indent, false)
}

func writeJSON(w io.Writer, v any, indent, escapeHTML bool) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(escapeHTML)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
