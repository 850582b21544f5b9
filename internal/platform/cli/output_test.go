package cli

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/spf13/pflag"
)

func TestCheckOutput(t *testing.T) {
	for output, want := range map[string]string{
		Text: "", JSON: "", "": `--output "": use text or json`, "yaml": `--output "yaml": use text or json`,
	} {
		err := CheckOutput(output)
		if got := fmt.Sprint(err); (err == nil) != (want == "") || (err != nil && got != want) {
			t.Errorf("CheckOutput(%q) = %v, want %q", output, err, want)
		}
	}
}

func TestRegisterOutput(t *testing.T) {
	var output string
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterOutput(fs, &output)
	if output != Text {
		t.Errorf("default output = %q, want %q", output, Text)
	}
	if err := fs.Parse([]string{"-o", "json"}); err != nil || output != JSON {
		t.Errorf("-o json: output %q, error %v", output, err)
	}
}

func TestRender(t *testing.T) {
	v := map[string]string{"url": "http://ui/x?a=1&b=2"}
	printText := func(w io.Writer, v map[string]string) error {
		_, err := fmt.Fprintf(w, "URL %s\n", v["url"])
		return err
	}
	tests := []struct{ output, want string }{
		{Text, "URL http://ui/x?a=1&b=2\n"},
		{JSON, "{\n  \"url\": \"http://ui/x?a=1&b=2\"\n}\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Render(&b, tt.output, v, printText); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("Render -o %s = %q, want %q", tt.output, b.String(), tt.want)
		}
	}
}

func TestRenderEscapingHTML(t *testing.T) {
	var b bytes.Buffer
	v := map[string]string{"name": "<a> & b"}
	if err := RenderEscapingHTML(&b, JSON, v, func(io.Writer, map[string]string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"name\": \"\\u003ca\\u003e \\u0026 b\"\n}\n"; b.String() != want {
		t.Errorf("RenderEscapingHTML -o json = %q, want %q", b.String(), want)
	}
}

func TestWriteJSONOnOneLine(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, []int{1, 2}, false); err != nil {
		t.Fatal(err)
	}
	if want := "[1,2]\n"; b.String() != want {
		t.Errorf("WriteJSON = %q, want %q", b.String(), want)
	}
	if err := WriteJSON(&b, func() {}, false); err == nil {
		t.Error("WriteJSON of a func: no error")
	}
}
