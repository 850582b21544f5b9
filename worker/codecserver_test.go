package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/internal/codec"
	"github.com/ordersaga/ordersaga/internal/connect"
)

const (
	testUIOrigin = "http://localhost:8233"
	testToken    = "s3cret-token"
)

// startTestCodecServer serves the codec handler for c on a real loopback
// listener and returns its base URL; the server is stopped, and must stop
// cleanly, when the test ends.
func startTestCodecServer(t *testing.T, c *codec.Codec, token string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveCodec(ctx, ln, newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), testUIOrigin, token))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("codec server did not stop cleanly: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func payloadsJSON(t *testing.T, payloads ...*commonpb.Payload) string {
	t.Helper()
	b, err := json.Marshal(&commonpb.Payloads{Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodePayloads(t *testing.T, body []byte) []*commonpb.Payload {
	t.Helper()
	var out commonpb.Payloads
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("response %q is not {\"payloads\": [...]}: %v", body, err)
	}
	return out.Payloads
}

// TestCodecServer sends real HTTP requests, as the Web UI and the Temporal
// CLI do, to servers with and without a bearer token.
func TestCodecServer(t *testing.T) {
	key, err := codec.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(key)
	if err != nil {
		t.Fatal(err)
	}
	open, guarded := startTestCodecServer(t, c, ""), startTestCodecServer(t, c, testToken)
	plain, err := converter.GetDefaultDataConverter().ToPayload("221B Baker Street")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := c.Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	other, err := codec.NewKey("k-other")
	if err != nil {
		t.Fatal(err)
	}
	otherCodec, err := codec.New(other)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := otherCodec.Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}

	wantPlain := func(t *testing.T, body []byte) {
		if got := decodePayloads(t, body); len(got) != 1 || !got[0].Equal(plain) {
			t.Errorf("decoded %v, want %v", got, plain)
		}
	}
	wantSealed := func(t *testing.T, body []byte) {
		got := decodePayloads(t, body)
		back, err := c.Decode(got)
		if err != nil || len(back) != 1 || !back[0].Equal(plain) || bytes.Contains(body, []byte("Baker")) {
			t.Errorf("encode answered %s: want the payload encrypted with k1 (%v)", body, err)
		}
	}
	wantText := func(text string) func(*testing.T, []byte) {
		return func(t *testing.T, body []byte) {
			if !strings.Contains(string(body), text) {
				t.Errorf("body %q does not say %q", body, text)
			}
		}
	}
	tests := []struct {
		name       string
		server     string
		method     string
		path       string
		origin     string
		auth       string
		body       string
		wantStatus int
		wantCORS   bool
		check      func(*testing.T, []byte)
	}{
		{"decode from the UI", open, "POST", "/decode", testUIOrigin, "", payloadsJSON(t, sealed...), 200, true, wantPlain},
		{"decode from the CLI (no origin)", open, "POST", "/decode", "", "", payloadsJSON(t, sealed...), 200, false, wantPlain},
		{"decode under a path prefix", open, "POST", "/default/decode", testUIOrigin, "", payloadsJSON(t, sealed...), 200, true, wantPlain},
		{"decode passes plain payloads through", open, "POST", "/decode", testUIOrigin, "", payloadsJSON(t, plain), 200, true, wantPlain},
		{"encode", open, "POST", "/encode", testUIOrigin, "", payloadsJSON(t, plain), 200, true, wantSealed},
		{"decode from another origin gets no CORS grant", open, "POST", "/decode", "http://evil.example", "", payloadsJSON(t, sealed...), 200, false, nil},
		{"preflight from the UI", open, "OPTIONS", "/decode", testUIOrigin, "", "", 204, true, nil},
		{"preflight from another origin", open, "OPTIONS", "/decode", "http://localhost:9999", "", "", 403, false, nil},
		{"bad JSON", open, "POST", "/decode", testUIOrigin, "", `{"payloads": [`, 400, true, nil},
		{"unknown key", open, "POST", "/decode", testUIOrigin, "", payloadsJSON(t, foreign...), 400, true, wantText(`"k-other"`)},
		{"GET", open, "GET", "/decode", testUIOrigin, "", "", 405, true, nil},
		{"unknown path", open, "POST", "/other", testUIOrigin, "", payloadsJSON(t, plain), 404, true, nil},
		{"token: preflight needs none", guarded, "OPTIONS", "/decode", testUIOrigin, "", "", 204, true, nil},
		{"token: missing", guarded, "POST", "/decode", testUIOrigin, "", payloadsJSON(t, sealed...), 401, true, wantText("bearer token")},
		{"token: wrong", guarded, "POST", "/decode", testUIOrigin, "Bearer wrong", payloadsJSON(t, sealed...), 401, true, nil},
		{"token: right, wrong scheme", guarded, "POST", "/decode", testUIOrigin, "Basic " + testToken, payloadsJSON(t, sealed...), 401, true, nil},
		{"token: right", guarded, "POST", "/decode", testUIOrigin, "Bearer " + testToken, payloadsJSON(t, sealed...), 200, true, wantPlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := doCodecRequest(t, tt.method, tt.server+tt.path, tt.origin, tt.auth, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			assertCORS(t, resp, tt.wantCORS)
			if tt.method == "OPTIONS" && tt.wantCORS {
				assertPreflight(t, resp)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func doCodecRequest(t *testing.T, method, url, origin, auth, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if method == "OPTIONS" {
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace,authorization")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func assertCORS(t *testing.T, resp *http.Response, want bool) {
	t.Helper()
	origin, creds := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials")
	if want && (origin != testUIOrigin || creds != "true") {
		t.Errorf("CORS grant %q with credentials %q, want %q with true", origin, creds, testUIOrigin)
	}
	if !want && origin != "" {
		t.Errorf("CORS granted to %q, want no grant", origin)
	}
}

func assertPreflight(t *testing.T, resp *http.Response) {
	t.Helper()
	if m := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") {
		t.Errorf("preflight allows methods %q, want POST", m)
	}
	h := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, want := range []string{"content-type", "x-namespace", "authorization"} {
		if !strings.Contains(h, want) {
			t.Errorf("preflight allows headers %q, want %s among them", h, want)
		}
	}
}

// TestCodecServerRefusesToStart checks the settings codec-server refuses
// before it listens, each in one line that says what to do.
func TestCodecServerRefusesToStart(t *testing.T) {
	key, err := codec.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty-token")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name string
		keys string
		args []string
		want []string
	}{
		{"no key ring", "", nil, []string{"no keys to decrypt with", connect.CodecKeysEnv, "--codec-key-file"}},
		{"bad key ring", "k1=short", nil, []string{connect.CodecKeysEnv, `key "k1"`}},
		{"UI origin with a path", key.Line(), []string{"--ui-origin", "http://localhost:8233/namespaces"}, []string{"--ui-origin", "scheme://host:port"}},
		{"UI origin without a scheme", key.Line(), []string{"--ui-origin", "localhost:8233"}, []string{"--ui-origin"}},
		{"empty token file", key.Line(), []string{"--token-file", empty}, []string{"--token-file", "is empty"}},
		{"missing token file", key.Line(), []string{"--token-file", filepath.Join(dir, "none")}, []string{"read --token-file"}},
		{"address in use", key.Line(), []string{"--listen", taken.Addr().String()}, []string{"codec server", "address already in use"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(connect.CodecKeyFileEnv, "")
			t.Setenv(connect.CodecKeysEnv, tt.keys)
			t.Setenv(codecTokenEnv, "")
			args := append([]string{"codec-server"}, tt.args...)
			code, stdout, stderr := invoke(t, args...)
			wantOneLineError(t, args, code, stdout, stderr, tt.want...)
		})
	}
}
