package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deadAddress is a loopback port nothing listens on: a command that wrongly
// connects fails with a connection error instead of reaching a real server.
const deadAddress = "127.0.0.1:1"

func TestMain(m *testing.M) {
	// The environment points at the dead port too, for the tests that give
	// no --temporal-address.
	os.Setenv("TEMPORAL_ADDRESS", deadAddress)
	os.Unsetenv("TEMPORAL_PROFILE")
	os.Unsetenv("TEMPORAL_API_KEY")
	os.Exit(m.Run())
}

// runStarter runs the starter in-process.
func runStarter(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeFile writes content to a file in a test's temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertOneLineError checks the shape of every error: exit 1, nothing on
// stdout, one "starter: ..." line on stderr that contains each of want and
// that does not come from a connection attempt.
func assertOneLineError(t *testing.T, code int, stdout, stderr string, want ...string) {
	t.Helper()
	if code != exitError {
		t.Errorf("exit code = %d, want %d", code, exitError)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want it empty", stdout)
	}
	if !strings.HasPrefix(stderr, "starter: ") || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr = %q, want one line starting with \"starter: \"", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr = %q, want it to contain %q", stderr, w)
		}
	}
	if strings.Contains(stderr, "connect to Temporal") {
		t.Errorf("stderr = %q: the command tried to connect, but bad input must be refused first", stderr)
	}
}

// goodOrder is a valid order given with flags; tests replace one part.
var goodOrder = []string{"--id", "42", "--customer", "c-1", "--item", "BOOK-GOPL:2", "--payment", "tok_visa", "--address", "1 Main St"}

func place(args ...string) []string {
	return append([]string{"place", "--temporal-address", deadAddress}, args...)
}

func loadArgs(args ...string) []string {
	return append([]string{"load", "--temporal-address", deadAddress}, args...)
}

// without returns goodOrder without the flag name and its value.
func without(name string) []string {
	var out []string
	for i := 0; i < len(goodOrder); i += 2 {
		if goodOrder[i] != name {
			out = append(out, goodOrder[i], goodOrder[i+1])
		}
	}
	return out
}

// with returns goodOrder with the flag name's value replaced.
func with(name, value string) []string {
	return append(without(name), name, value)
}

func TestBadInputIsRefusedBeforeConnecting(t *testing.T) {
	goodFile := `{"id": "42", "customer_id": "c-1", "items": [{"sku": "BOOK-GOPL", "qty": 2}], "payment_token": "tok_visa", "address": "1 Main St"}`
	tests := []struct {
		name string
		args []string
		want []string
	}{
		// place with flags
		{"missing --id", place(without("--id")...), []string{"missing --id"}},
		{"missing several flags", place("--id", "42"), []string{"missing --customer, --item, --payment, --address"}},
		{"no items", place(without("--item")...), []string{"missing --item"}},
		{"empty customer", place(with("--customer", "")...), []string{"customer is empty"}},
		{"blank customer", place(with("--customer", "  ")...), []string{"customer is empty"}},
		{"empty id", place(with("--id", "")...), []string{"order ID is empty"}},
		{"bad id", place(with("--id", "a/b")...), []string{`order ID "a/b"`}},
		{"empty payment", place(with("--payment", "")...), []string{"payment token is empty"}},
		{"empty address", place(with("--address", "")...), []string{"address is empty"}},
		{"item without quantity", place(with("--item", "BOOK-GOPL")...), []string{`--item #1 "BOOK-GOPL"`, "SKU:QTY", `"BOOK-GOPL:2"`}},
		{"item quantity zero", place(with("--item", "BOOK-GOPL:0")...), []string{`--item #1 "BOOK-GOPL:0"`, "positive integer"}},
		{"item quantity negative", place(with("--item", "BOOK-GOPL:-3")...), []string{`"BOOK-GOPL:-3"`, "positive integer"}},
		{"item quantity not a number", place(with("--item", "BOOK-GOPL:two")...), []string{`"BOOK-GOPL:two"`, "positive integer"}},
		{"second item malformed", place(append(goodOrder, "--item", ":2")...), []string{`--item #2 ":2"`, "SKU is empty"}},
		{"item quantity too large", place(with("--item", "BOOK-GOPL:10001")...), []string{"quantity of BOOK-GOPL is 10001"}},
		{"item listed twice", place(append(goodOrder, "--item", "BOOK-GOPL:1")...), []string{"BOOK-GOPL is listed twice"}},
		{"negative cancel window", place(append(goodOrder, "--cancel-window", "-1s")...), []string{"cancel window -1s is out of range"}},
		{"cancel window too long", place(append(goodOrder, "--cancel-window", "200h")...), []string{"out of range"}},
		{"malformed cancel window", place(append(goodOrder, "--cancel-window", "soon")...), []string{`"soon"`, "--cancel-window"}},
		{"place takes no arguments", place(append(goodOrder, "extra")...), []string{`unexpected argument "extra"`}},

		// place with a file
		{"missing file", place("--file", filepath.Join(t.TempDir(), "nope.json")), []string{"read order file", "nope.json", "no such file"}},
		{"file and order flags", place("--file", writeFile(t, "o.json", goodFile), "--id", "42", "--customer", "c-1"), []string{"--file holds the whole order", "--id, --customer"}},
		{"empty --file", place("--file", ""), []string{"--file is empty"}},
		{"empty file", place("--file", writeFile(t, "o.json", " \n")), []string{"the file is empty"}},
		{"malformed JSON", place("--file", writeFile(t, "o.json", "{\"id\": \"42\",\n \"customer_id\": \"c-1\",,}")), []string{"o.json", "line 2, column 23", "malformed JSON"}},
		{"truncated JSON", place("--file", writeFile(t, "o.json", `{"id": "42"`)), []string{"malformed JSON", "ends in the middle"}},
		{"unknown field", place("--file", writeFile(t, "o.json", `{"id": "42", "customer": "c-1"}`)), []string{`unknown field "customer"`, "customer_id"}},
		{"wrong type", place("--file", writeFile(t, "o.json", `{"id": "42", "items": [{"sku": "A", "qty": "2"}]}`)), []string{"line 1", "field items.qty is a JSON string: want a whole number"}},
		{"not an object", place("--file", writeFile(t, "o.json", `["42"]`)), []string{"JSON array", "JSON object"}},
		{"two objects", place("--file", writeFile(t, "o.json", goodFile+"\n{}")), []string{"line 2, column 1", "after the order object"}},
		{"bad duration in file", place("--file", writeFile(t, "o.json", `{"id": "42", "cancel_window": "soon"}`)), []string{"cancel_window", `"soon"`}},
		{"number duration in file", place("--file", writeFile(t, "o.json", `{"id": "42", "cancel_window": 10}`)), []string{"cancel_window", "string"}},
		{"no items in file", place("--file", writeFile(t, "o.json", strings.Replace(goodFile, `[{"sku": "BOOK-GOPL", "qty": 2}]`, `[]`, 1))), []string{"o.json", "no items"}},
		{"quantity 0 in file", place("--file", writeFile(t, "o.json", strings.Replace(goodFile, `"qty": 2`, `"qty": 0`, 1))), []string{"quantity of BOOK-GOPL is 0"}},
		{"empty customer in file", place("--file", writeFile(t, "o.json", strings.Replace(goodFile, `"c-1"`, `""`, 1))), []string{"customer is empty"}},
		{"cancel window in file and flag", place("--file", writeFile(t, "o.json", strings.TrimSuffix(goodFile, "}")+`, "cancel_window": "5s"}`), "--cancel-window", "3s"), []string{"cancel_window (5s)", "--cancel-window is 3s"}},

		// status, cancel, watch
		{"status without ID", []string{"status", "--temporal-address", deadAddress}, []string{"missing the order ID"}},
		{"status with two IDs", []string{"status", "--temporal-address", deadAddress, "1", "2"}, []string{"too many arguments"}},
		{"status with empty ID", []string{"status", "--temporal-address", deadAddress, ""}, []string{"order ID is empty"}},
		{"cancel without ID", []string{"cancel", "--temporal-address", deadAddress}, []string{"missing the order ID"}},
		{"watch without ID", []string{"watch", "--temporal-address", deadAddress}, []string{"missing the order ID"}},
		{"resume without ID", []string{"resume", "--temporal-address", deadAddress}, []string{"missing the order ID"}},
		{"resume with a long reason", []string{"resume", "--temporal-address", deadAddress, "42", "--reason", strings.Repeat("x", 513)}, []string{"--reason: resume reason is 513 characters long"}},

		// list
		{"unknown status", []string{"list", "--temporal-address", deadAddress, "--status", "shipped"}, []string{`unknown --status "shipped"`, "AWAITING_FULFILLMENT", "CANCELLED"}},
		{"forward step as status", []string{"list", "--temporal-address", deadAddress, "--status", "charging"}, []string{"--status CHARGING: orders are not listed by their forward steps", "starter status ID"}},
		{"negative limit", []string{"list", "--temporal-address", deadAddress, "--limit", "-1"}, []string{"--limit -1"}},
		{"limit not a number", []string{"list", "--temporal-address", deadAddress, "--limit", "many"}, []string{"--limit"}},
		{"list with an argument", []string{"list", "--temporal-address", deadAddress, "COMPLETED"}, []string{`unexpected argument "COMPLETED"`}},

		// load
		{"load without --orders", loadArgs("--concurrency", "2"), []string{"--orders is 0", "at least 1"}},
		{"load with negative --orders", loadArgs("--orders", "-5", "--concurrency", "2"), []string{"--orders is -5"}},
		{"load without --concurrency", loadArgs("--orders", "10"), []string{"--concurrency is 0"}},
		{"load with negative rate", loadArgs("--orders", "10", "--concurrency", "2", "--rate", "-1"), []string{"--rate is -1"}},
		{"load with malformed mix", loadArgs("--orders", "10", "--concurrency", "2", "--mix", "success"), []string{`--mix "success"`, "KIND=WEIGHT"}},
		{"load with unknown kind", loadArgs("--orders", "10", "--concurrency", "2", "--mix", "success=5,refund=5"), []string{`unknown kind "refund"`, "success, declined, flaky, cancel"}},
		{"load with bad weight", loadArgs("--orders", "10", "--concurrency", "2", "--mix", "success=-1"), []string{`weight of success is "-1"`}},
		{"load with zero weights", loadArgs("--orders", "10", "--concurrency", "2", "--mix", "success=0,cancel=0"), []string{"add up to 0"}},
		{"load with unknown workflow", loadArgs("--orders", "10", "--concurrency", "2", "--workflow", "chaos"), []string{`unknown --workflow "chaos"`, "saga or baseline"}},
		{"load baseline with a mix", loadArgs("--orders", "10", "--concurrency", "2", "--workflow", "baseline", "--mix", "success=1"), []string{"--mix does not apply to --workflow baseline"}},
		{"load with an argument", loadArgs("--orders", "10", "--concurrency", "2", "now"), []string{`unexpected argument "now"`}},
		{"load with a negative window", loadArgs("--orders", "10", "--concurrency", "2", "--window", "-1s"), []string{"--window is -1s", "give 0 (ship at once) up to 168h0m0s"}},
		{"load with a window too long", loadArgs("--orders", "10", "--concurrency", "2", "--window", "169h"), []string{"--window is 169h0m0s", "up to 168h0m0s"}},
		{"load with a malformed window", loadArgs("--orders", "10", "--concurrency", "2", "--window", "5"), []string{`invalid argument "5" for "--window"`}},
		{"load baseline with a window", loadArgs("--orders", "10", "--concurrency", "2", "--workflow", "baseline", "--window", "1m"), []string{"--window does not apply to --workflow baseline"}},
		{"load with a bad store DSN", loadArgs("--orders", "10", "--concurrency", "2", "--payment-dsn", "mysql://db/x"), []string{"--payment-dsn: not a PostgreSQL DSN"}},
		// The audit does not read the order service's register.
		{"load with --orders-dsn", loadArgs("--orders", "10", "--concurrency", "2", "--orders-dsn", "postgres://u@db/x"), []string{"unknown flag: --orders-dsn"}},

		// global
		{"bad output", []string{"status", "--temporal-address", deadAddress, "-o", "yaml", "42"}, []string{`invalid --output "yaml"`, "text or json"}},
		{"unknown flag", []string{"status", "--temporal-address", deadAddress, "--colour", "42"}, []string{"unknown flag: --colour", "starter status --help"}},
		{"unknown command", []string{"plcae"}, []string{`unknown command "plcae"`, "did you mean place?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runStarter(t, tt.args...)
			assertOneLineError(t, code, stdout, stderr, tt.want...)
		})
	}
}

func TestConnectionErrorIsOneLine(t *testing.T) {
	code, stdout, stderr := runStarter(t, "status", "--temporal-address", deadAddress, "42")
	if code != exitError || stdout != "" {
		t.Errorf("exit code %d, stdout %q; want 1 and nothing", code, stdout)
	}
	if !strings.HasPrefix(stderr, "starter: connect to Temporal at "+deadAddress) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr = %q, want one line about connecting to %s", stderr, deadAddress)
	}
}

func TestValidOrderGetsAsFarAsConnecting(t *testing.T) {
	file := writeFile(t, "o.json", `{"id": "42", "customer_id": "c-1", "items": [{"sku": "BOOK-GOPL", "qty": 2}], "payment_token": "tok_visa", "address": "1 Main St", "cancel_window": "0s"}`)
	for name, args := range map[string][]string{
		"flags": place(goodOrder...),
		"file":  place("--file", file),
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runStarter(t, args...)
			if code != exitError || !strings.Contains(stderr, "connect to Temporal at "+deadAddress) {
				t.Errorf("exit code %d, stderr %q; want a connection error to %s", code, stderr, deadAddress)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"", "place", "status", "cancel", "resume", "list", "watch", "load"} {
		t.Run(cmd, func(t *testing.T) {
			args := []string{"--help"}
			if cmd != "" {
				args = []string{cmd, "--help"}
			}
			code, stdout, stderr := runStarter(t, args...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit code %d, stderr %q; want 0 and nothing", code, stderr)
			}
			for _, want := range []string{"Examples:", "--output", "--ui-url"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("help of %q lacks %q:\n%s", cmd, want, stdout)
				}
			}
		})
	}
}

func TestNoCommandShowsHelp(t *testing.T) {
	code, stdout, stderr := runStarter(t)
	if code != exitOK || stderr != "" || !strings.Contains(stdout, "Available Commands:") {
		t.Errorf("exit code %d, stderr %q, stdout %q; want the help", code, stderr, stdout)
	}
}
