package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
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
	h := newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), testUIOrigin, token)
	return "http://" + serveTestCodec(t, h, codecServerLimits)
}

// serveTestCodec serves h within limits on a loopback listener, as
// codec-server does, and returns its address.
func serveTestCodec(t *testing.T, h *codecHandler, limits codecLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.hosts.addListener(ln.Addr().String(), ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveCodec(ctx, ln, newCodecServer(h, limits)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("codec server did not stop cleanly: %v", err)
		}
	})
	return ln.Addr().String()
}

func newTestCodec(t *testing.T) *codec.Codec {
	t.Helper()
	key, err := codec.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
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
	return sendCodecRequest(t, newCodecRequest(t, method, url, origin, auth, body))
}

// newCodecRequest is the request the Web UI (with origin) or the Temporal
// CLI (without) sends.
func newCodecRequest(t *testing.T, method, url, origin, auth, body string) *http.Request {
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
	return req
}

func sendCodecRequest(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
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
	shared := filepath.Join(dir, "shared-token")
	if err := os.WriteFile(shared, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o644); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, err := net.SplitHostPort(taken.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
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
		{"token file others may read", key.Line(), []string{"--token-file", shared, "--listen", "127.0.0.1:0"},
			[]string{"--token-file", "mode 0644", "chmod 600 " + shared}},
		{"address in use", key.Line(), []string{"--listen", taken.Addr().String()}, []string{"codec server", "address already in use"}},
		{"listen without a port", key.Line(), []string{"--listen", "127.0.0.1"}, []string{`--listen "127.0.0.1"`, "host:port"}},
		{"all interfaces without a token", key.Line(), []string{"--listen", "0.0.0.0:" + port},
			[]string{"--listen 0.0.0.0:" + port, "no token", "--token-file", codecTokenEnv, "127.0.0.1"}},
		{"all interfaces, no host, without a token", key.Line(), []string{"--listen", ":" + port}, []string{"--listen :" + port, "--token-file"}},
		{"all IPv6 interfaces without a token", key.Line(), []string{"--listen", "[::]:" + port}, []string{"--listen [::]:" + port, "--token-file"}},
		{"a host name without a token", key.Line(), []string{"--listen", "codec.example.com:" + port}, []string{"--token-file"}},
		{"bad allowed host", key.Line(), []string{"--allowed-hosts", "http://codec.example.com", "--listen", "127.0.0.1:0"},
			[]string{`--allowed-hosts "http://codec.example.com"`, "host:port"}},
		{"allowed host with port 0", key.Line(), []string{"--allowed-hosts", "codec.example.com:0", "--listen", "127.0.0.1:0"},
			[]string{"--allowed-hosts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(connect.CodecKeyFileEnv, "")
			t.Setenv(connect.CodecKeysEnv, tt.keys)
			t.Setenv(codecTokenEnv, "")
			args := append([]string{"codec-server"}, tt.args...)
			code, stdout, stderr := invokeBriefly(t, args...)
			wantOneLineError(t, args, code, stdout, stderr, tt.want...)
		})
	}
}

// invokeBriefly runs the worker as invoke does, and fails the test if it
// has not returned within a few seconds: a codec-server that serves
// instead of refusing.
func invokeBriefly(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		done <- result{code, out.String(), errOut.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.stdout, r.stderr
	case <-time.After(10 * time.Second):
		t.Fatalf("worker %q still runs after 10s: it served instead of refusing", args)
		return 0, "", ""
	}
}

// TestCodecServerExposure: without a token the server listens on loopback
// only; with one, anywhere.
func TestCodecServerExposure(t *testing.T) {
	tests := []struct {
		listen   string
		tokenSet bool
		wantErr  bool
	}{
		{"127.0.0.1:8081", false, false},
		{"127.0.0.2:8081", false, false},
		{"localhost:8081", false, false},
		{"[::1]:8081", false, false},
		{"0.0.0.0:8081", false, true},
		{":8081", false, true},
		{"[::]:8081", false, true},
		{"192.168.1.20:8081", false, true},
		{"codec.example.com:8081", false, true},
		{"0.0.0.0:8081", true, false},
		{":8081", true, false},
		{"192.168.1.20:8081", true, false},
	}
	for _, tt := range tests {
		err := checkExposure(tt.listen, tt.tokenSet)
		if (err != nil) != tt.wantErr {
			t.Errorf("--listen %s with a token %v: error %v, want one: %v", tt.listen, tt.tokenSet, err, tt.wantErr)
		}
	}
}

// TestCodecHosts checks which Host headers the server answers to: the
// loopback names with its port, the --listen host, and --allowed-hosts.
func TestCodecHosts(t *testing.T) {
	tests := []struct {
		name    string
		listen  string
		allowed []string
		host    string
		want    bool
	}{
		{"loopback address", "127.0.0.1:8081", nil, "127.0.0.1:8081", true},
		{"localhost", "127.0.0.1:8081", nil, "localhost:8081", true},
		{"localhost, any case, final dot", "127.0.0.1:8081", nil, "LocalHost.:8081", true},
		{"IPv6 loopback", "127.0.0.1:8081", nil, "[::1]:8081", true},
		{"loopback, another port", "127.0.0.1:8081", nil, "localhost:8082", false},
		{"loopback, no port is 80", "127.0.0.1:8081", nil, "localhost", false},
		{"loopback on port 80, no port", "127.0.0.1:80", nil, "localhost", true},
		{"rebinding name", "127.0.0.1:8081", nil, "evil.example:8081", false},
		{"rebinding name, no port", "127.0.0.1:8081", nil, "evil.example", false},
		{"a name ending in localhost", "127.0.0.1:8081", nil, "evil.localhost.example:8081", false},
		{"no Host", "127.0.0.1:8081", nil, "", false},
		{"listen host", "10.1.2.3:8081", nil, "10.1.2.3:8081", true},
		{"listen host name", "codec.internal:8081", nil, "codec.internal:8081", true},
		{"another address", "10.1.2.3:8081", nil, "10.1.2.4:8081", false},
		{"all interfaces are no name", "0.0.0.0:8081", nil, "0.0.0.0:8081", false},
		{"all interfaces, an address of the machine", "0.0.0.0:8081", nil, "192.168.1.20:8081", false},
		{"allowed name, any port", "0.0.0.0:8081", []string{"codec.example.com"}, "codec.example.com:443", true},
		{"allowed name, no port", "0.0.0.0:8081", []string{"codec.example.com"}, "Codec.Example.Com.", true},
		{"allowed name, and another", "0.0.0.0:8081", []string{"codec.example.com"}, "evil.example", false},
		{"allowed name with its port", "0.0.0.0:8081", []string{"proxy.internal:8443"}, "proxy.internal:8443", true},
		{"allowed name, another port", "0.0.0.0:8081", []string{"proxy.internal:8443"}, "proxy.internal:8081", false},
		{"allowed IPv6 address", "[::]:8081", []string{"[2001:db8::1]:8081"}, "[2001:DB8:0::1]:8081", true},
		{"port with a leading zero", "127.0.0.1:8081", nil, "localhost:08081", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts, err := parseAllowedHosts(tt.allowed)
			if err != nil {
				t.Fatal(err)
			}
			_, port, err := net.SplitHostPort(tt.listen)
			if err != nil {
				t.Fatal(err)
			}
			p, err := strconv.Atoi(port)
			if err != nil {
				t.Fatal(err)
			}
			hosts.addListener(tt.listen, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if got := hosts.allows(tt.host); got != tt.want {
				t.Errorf("Host %q allowed: %v, want %v (allowed: %s)", tt.host, got, tt.want, hosts)
			}
		})
	}
}

// TestCodecServerRefusesOtherHosts sends the requests a DNS rebinding page
// would, its own name in Host, to a real server without a token: neither
// the preflight nor the decode gets an answer, only a 421 that says how to
// allow a name.
func TestCodecServerRefusesOtherHosts(t *testing.T) {
	c := newTestCodec(t)
	addr := serveTestCodec(t, newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), testUIOrigin, ""), codecServerLimits)
	proxied := newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), testUIOrigin, "")
	hosts, err := parseAllowedHosts([]string{"codec.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	proxied.hosts = hosts
	proxiedAddr := serveTestCodec(t, proxied, codecServerLimits)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := c.Encode([]*commonpb.Payload{{Data: []byte(`"221B Baker Street"`)}})
	if err != nil {
		t.Fatal(err)
	}
	body := payloadsJSON(t, sealed...)
	tests := []struct {
		name, addr, method, host string
		wantStatus               int
	}{
		{"decode by address", addr, "POST", "", 200},
		{"decode by localhost", addr, "POST", "localhost:" + port, 200},
		{"decode by [::1]", addr, "POST", "[::1]:" + port, 200},
		{"preflight by localhost", addr, "OPTIONS", "localhost:" + port, 204},
		{"decode by a rebinding name", addr, "POST", "evil.example:" + port, 421},
		{"preflight by a rebinding name", addr, "OPTIONS", "evil.example:" + port, 421},
		{"decode on another port", addr, "POST", "localhost:1", 421},
		{"decode behind a proxy", proxiedAddr, "POST", "codec.example.com", 200},
		{"decode by a rebinding name, behind a proxy", proxiedAddr, "POST", "evil.example", 421},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newCodecRequest(t, tt.method, "http://"+tt.addr+"/decode", testUIOrigin, "", body)
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, answer := sendCodecRequest(t, req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, answer)
			}
			assertCORS(t, resp, tt.wantStatus != 421)
			if tt.wantStatus == 421 && (bytes.Contains(answer, []byte("Baker")) || !bytes.Contains(answer, []byte("--allowed-hosts"))) {
				t.Errorf("refusal %q: want no payload and the way to allow a name", answer)
			}
		})
	}
}

// TestCodecServerWantsJSON: a POST of another content type, such as the
// ones an HTML form sends cross-origin without a preflight, is refused
// before anything is decrypted.
func TestCodecServerWantsJSON(t *testing.T) {
	c := newTestCodec(t)
	base := startTestCodecServer(t, c, "")
	sealed, err := c.Encode([]*commonpb.Payload{{Data: []byte(`"221B Baker Street"`)}})
	if err != nil {
		t.Fatal(err)
	}
	body := payloadsJSON(t, sealed...)
	tests := []struct {
		contentType string
		wantStatus  int
	}{
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"Application/JSON", 200},
		{"text/plain", 415},
		{"text/plain; charset=utf-8", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"", 415},
		{"application/jsonp", 415},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			req := newCodecRequest(t, "POST", base+"/decode", "http://evil.example", "", body)
			req.Header.Set("Content-Type", tt.contentType)
			if tt.contentType == "" {
				req.Header.Del("Content-Type")
			}
			resp, answer := sendCodecRequest(t, req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, answer)
			}
			if tt.wantStatus == 415 && (bytes.Contains(answer, []byte("Baker")) || !bytes.Contains(answer, []byte("application/json"))) {
				t.Errorf("refusal %q: want no payload and the content type to send", answer)
			}
		})
	}
}

// TestCodecServerBoundsSlowClients: a client that stalls sending its
// headers or its body, or keeps an idle connection, has it closed, and a
// request whose answer takes too long gets a 503; each within the limit
// under test, the others far away.
func TestCodecServerBoundsSlowClients(t *testing.T) {
	const short, long = 300 * time.Millisecond, time.Minute
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(long):
		}
	})
	tests := []struct {
		name     string
		limits   codecLimits
		slow     bool
		request  string // %s is the Host
		wantText string // in what the server sends before it closes
	}{
		{"headers never end", codecLimits{readHeader: short, read: long, handler: long, write: long, idle: long}, false,
			"POST /decode HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", ""},
		{"body never ends", codecLimits{readHeader: long, read: short, handler: long, write: long, idle: long}, false,
			"POST /decode HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"payloads\": [", ""},
		{"idle after an answer", codecLimits{readHeader: long, read: long, handler: long, write: long, idle: short}, false,
			"OPTIONS /decode HTTP/1.1\r\nHost: %s\r\nOrigin: " + testUIOrigin + "\r\nAccess-Control-Request-Method: POST\r\n\r\n", "204 No Content"},
		{"slow answer", codecLimits{readHeader: long, read: long, handler: short, write: long, idle: long}, true,
			"POST /decode HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", "503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var codecHTTP http.Handler = converter.NewPayloadCodecHTTPHandler(newTestCodec(t))
			if tt.slow {
				codecHTTP = slow
			}
			addr := serveTestCodec(t, newCodecHandler(codecHTTP, testUIOrigin, ""), tt.limits)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := fmt.Fprintf(conn, tt.request, addr); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := conn.SetReadDeadline(start.Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("the server still holds the connection after %s (%v), having sent %q", time.Since(start).Round(time.Millisecond), err, got)
			}
			if !strings.Contains(string(got), tt.wantText) {
				t.Errorf("the server sent %q, want %q in it", got, tt.wantText)
			}
		})
	}
}

// TestCodecServerLimits: the real server bounds every phase of a request,
// and its handler's bound leaves time to send the 503.
func TestCodecServerLimits(t *testing.T) {
	l := codecServerLimits
	for name, d := range map[string]time.Duration{"read header": l.readHeader, "read": l.read, "handler": l.handler, "write": l.write, "idle": l.idle} {
		if d <= 0 {
			t.Errorf("%s limit %s: want a bound", name, d)
		}
	}
	if l.handler >= l.write {
		t.Errorf("handler limit %s is not below the write limit %s: its 503 would not be sent", l.handler, l.write)
	}
	srv := newCodecServer(http.NotFoundHandler(), l)
	if srv.ReadHeaderTimeout != l.readHeader || srv.ReadTimeout != l.read || srv.WriteTimeout != l.write || srv.IdleTimeout != l.idle {
		t.Errorf("server timeouts %s %s %s %s, want %+v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, l)
	}
}

// loginResult is what a POST /login answered.
type loginResult struct {
	status int
	cookie *http.Cookie // the login cookie it set, if any
	body   string
	header http.Header
}

// postLogin posts the login form to addr as a browser does, from origin
// ("" for none) and with Host host ("" for addr).
func postLogin(t *testing.T, addr, host, origin, contentType, form string) loginResult {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+addr+codecLoginPath, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if host != "" {
		req.Host = host
	}
	resp, body := sendCodecRequest(t, req)
	res := loginResult{status: resp.StatusCode, body: string(body), header: resp.Header}
	for _, c := range resp.Cookies() {
		if c.Name == codecSessionCookie {
			res.cookie = c
		}
	}
	return res
}

// loginCookie logs in to addr with the right token and returns the
// cookie's value.
func loginCookie(t *testing.T, addr, token string) string {
	t.Helper()
	res := postLogin(t, addr, "", "http://"+addr, formContentType, url.Values{"token": {token}}.Encode())
	if res.status != 200 || res.cookie == nil {
		t.Fatalf("login: status %d, cookie %v: %s", res.status, res.cookie, res.body)
	}
	return res.cookie.Value
}

const formContentType = "application/x-www-form-urlencoded"

// serveLoginPair serves one key ring twice, with the test token and
// without one, and returns both addresses and the guarded one's port.
func serveLoginPair(t *testing.T) (guarded, open, port string) {
	t.Helper()
	c := newTestCodec(t)
	guarded = serveTestCodec(t, newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), testUIOrigin, testToken), codecServerLimits)
	open = serveTestCodec(t, newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), testUIOrigin, ""), codecServerLimits)
	_, port, err := net.SplitHostPort(guarded)
	if err != nil {
		t.Fatal(err)
	}
	return guarded, open, port
}

// TestCodecServerLogin posts the login form as a browser would: the right
// token sets a cookie that holds no token, for 12 hours, out of reach of
// scripts and of other sites; anything else sets none.
func TestCodecServerLogin(t *testing.T) {
	guarded, open, port := serveLoginPair(t)
	self := "http://" + guarded
	form := func(token string) string { return url.Values{"token": {token}}.Encode() }
	tests := []struct {
		name, addr, host, origin, contentType, form string
		wantStatus                                  int
		wantCookie                                  bool
		wantText                                    string
	}{
		{"right token", guarded, "", self, formContentType, form(testToken), 200, true, "Logged in"},
		{"right token, pasted with a newline", guarded, "", self, formContentType, form(" " + testToken + "\n"), 200, true, "Logged in"},
		{"right token, by localhost", guarded, "localhost:" + port, "http://localhost:" + port, formContentType, form(testToken), 200, true, testUIOrigin},
		{"wrong token", guarded, "", self, formContentType, form("wrong"), 401, false, "not this codec server"},
		{"the token as a prefix", guarded, "", self, formContentType, form(testToken + "x"), 401, false, ""},
		{"no token", guarded, "", self, formContentType, "", 401, false, ""},
		{"from another site", guarded, "", "http://evil.example", formContentType, form(testToken), 403, false, "own /login page"},
		{"from the Web UI's origin", guarded, "", testUIOrigin, formContentType, form(testToken), 403, false, ""},
		{"from this host on another port", guarded, "", "http://127.0.0.1:1", formContentType, form(testToken), 403, false, ""},
		{"over https, same host and port (a TLS proxy)", guarded, "", "https://" + guarded, formContentType, form(testToken), 200, true, ""},
		{"without an Origin", guarded, "", "", formContentType, form(testToken), 403, false, ""},
		{"from an opaque origin", guarded, "", "null", formContentType, form(testToken), 403, false, ""},
		{"as JSON", guarded, "", self, "application/json", `{"token": "` + testToken + `"}`, 415, false, "x-www-form-urlencoded"},
		{"as multipart", guarded, "", self, "multipart/form-data; boundary=x", "--x--", 415, false, ""},
		{"too long", guarded, "", self, formContentType, form(strings.Repeat("a", codecLoginMaxBody)), 400, false, ""},
		{"by a rebinding name", guarded, "evil.example:" + port, "http://evil.example:" + port, formContentType, form(testToken), 421, false, "--allowed-hosts"},
		{"no token required", open, "", "http://" + open, formContentType, form(testToken), 200, false, "no login is needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := postLogin(t, tt.addr, tt.host, tt.origin, tt.contentType, tt.form)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			if (res.cookie != nil) != tt.wantCookie || (!tt.wantCookie && len(res.header.Values("Set-Cookie")) > 0) {
				t.Fatalf("cookies %q, want the login cookie: %v", res.header.Values("Set-Cookie"), tt.wantCookie)
			}
			if res.cookie != nil && res.cookie.Secure != strings.HasPrefix(tt.origin, "https:") {
				t.Errorf("cookie Secure %v for a login from %s", res.cookie.Secure, tt.origin)
			}
			if !strings.Contains(res.body, tt.wantText) {
				t.Errorf("body %q does not say %q", res.body, tt.wantText)
			}
			if strings.Contains(res.body, testToken) {
				t.Errorf("the answer shows the token: %q", res.body)
			}
			if tt.wantStatus != 421 {
				assertNotFramed(t, res.header)
			}
			if res.cookie != nil {
				assertLoginCookie(t, res.cookie)
			}
		})
	}
}

// assertLoginCookie checks the cookie holds no token, is hidden from
// scripts, sent only same-site, to every path, and kept for 12 hours.
func assertLoginCookie(t *testing.T, c *http.Cookie) {
	t.Helper()
	if strings.Contains(c.Value, testToken) || c.Value == "" {
		t.Errorf("cookie value %q: want one derived from the token, not the token", c.Value)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != 12*60*60 {
		t.Errorf("cookie HttpOnly %v SameSite %v Path %q Max-Age %d, want HttpOnly, Strict, / and 43200", c.HttpOnly, c.SameSite, c.Path, c.MaxAge)
	}
}

// assertNotFramed checks the login page may be neither framed nor cached.
func assertNotFramed(t *testing.T, h http.Header) {
	t.Helper()
	if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("X-Frame-Options %q, CSP %q: want DENY and frame-ancestors 'none'", h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"))
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
	}
}

// TestCodecServerLoginPage: GET /login shows the form, or says that no
// login is needed, and tells a person who opened it by another loopback
// name than the Web UI's which address to open.
func TestCodecServerLoginPage(t *testing.T) {
	guarded, open, port := serveLoginPair(t)
	tests := []struct {
		name, method, addr, host string
		wantStatus               int
		want, wantNot            string
	}{
		{"form", "GET", guarded, "localhost:" + port, 200, `<form method="post" action="/login">`, "opened as"},
		{"form by 127.0.0.1, UI on localhost", "GET", guarded, "127.0.0.1:" + port, 200, "http://localhost:" + port + "/login", ""},
		{"no token required", "GET", open, "", 200, "no login is needed", "<form"},
		{"by a rebinding name", "GET", guarded, "evil.example:" + port, 421, "--allowed-hosts", "<form"},
		{"another method", "PUT", guarded, "", 405, "log in with its form", ""},
		{"preflight", "OPTIONS", guarded, "", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, "http://"+tt.addr+codecLoginPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			req.Header.Set("Origin", testUIOrigin)
			resp, body := sendCodecRequest(t, req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if !strings.Contains(string(body), tt.want) || (tt.wantNot != "" && strings.Contains(string(body), tt.wantNot)) {
				t.Errorf("body %q: want %q in it and not %q", body, tt.want, tt.wantNot)
			}
			if tt.wantStatus != 421 {
				assertNotFramed(t, resp.Header)
			}
			if origin := resp.Header.Get("Access-Control-Allow-Origin"); origin != "" {
				t.Errorf("the login page grants CORS to %q, want no grant", origin)
			}
		})
	}
}

// TestCodecServerLoginCookie decodes as the Web UI does with credentials
// included: the cookie a login set stands for the token from the UI's
// origin only, until it expires or the token changes.
func TestCodecServerLoginCookie(t *testing.T) {
	c := newTestCodec(t)
	h := newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), testUIOrigin, testToken)
	guarded := serveTestCodec(t, h, codecServerLimits)
	// The same server restarted with another token: a cookie's value does
	// not depend on the address.
	restarted := newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), testUIOrigin, "another-token")
	restartedAddr := serveTestCodec(t, restarted, codecServerLimits)
	valid := loginCookie(t, guarded, testToken)
	exp, mac, _ := strings.Cut(valid, ".")
	later, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	plain := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"221B Baker Street"`)}
	sealed, err := c.Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	body := payloadsJSON(t, sealed...)
	tests := []struct {
		name, addr, method, origin string
		cookies                    []string
		wantStatus                 int
		wantCORS                   bool
	}{
		{"decode from the UI", guarded, "POST", testUIOrigin, []string{valid}, 200, true},
		{"preflight from the UI", guarded, "OPTIONS", testUIOrigin, nil, 204, true},
		{"after a junk cookie of the same name", guarded, "POST", testUIOrigin, []string{"junk", valid}, 200, true},
		{"no cookie", guarded, "POST", testUIOrigin, nil, 401, true},
		{"from another origin", guarded, "POST", "http://localhost:3000", []string{valid}, 401, false},
		{"without an origin (not a browser)", guarded, "POST", "", []string{valid}, 401, false},
		{"forged", guarded, "POST", testUIOrigin, []string{exp + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))}, 401, true},
		{"expiry pushed back", guarded, "POST", testUIOrigin, []string{strconv.FormatInt(later+3600, 10) + "." + mac}, 401, true},
		{"expired", guarded, "POST", testUIOrigin, []string{h.newSession(time.Now().Add(-time.Minute))}, 401, true},
		{"the token itself", guarded, "POST", testUIOrigin, []string{testToken}, 401, true},
		{"no expiry", guarded, "POST", testUIOrigin, []string{mac}, 401, true},
		{"after a restart with another token", restartedAddr, "POST", testUIOrigin, []string{valid}, 401, true},
		{"logged in again after the restart", restartedAddr, "POST", testUIOrigin, []string{restarted.newSession(time.Now().Add(time.Hour))}, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newCodecRequest(t, tt.method, "http://"+tt.addr+"/decode", tt.origin, "", body)
			for _, v := range tt.cookies {
				req.AddCookie(&http.Cookie{Name: codecSessionCookie, Value: v})
			}
			resp, answer := sendCodecRequest(t, req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, answer)
			}
			if tt.wantCORS {
				assertCORS(t, resp, true)
			} else if origin := resp.Header.Get("Access-Control-Allow-Origin"); origin != "" {
				t.Errorf("CORS granted to %q, want no grant", origin)
			}
			if tt.method != "POST" || tt.wantStatus != 200 {
				return
			}
			if got := decodePayloads(t, answer); len(got) != 1 || !got[0].Equal(plain) {
				t.Errorf("decoded %v, want %v", got, plain)
			}
		})
	}
}

// TestSameOrigin compares a login post's Origin header with the server's
// own origin, as the browser reached it; no port is the scheme's default.
func TestSameOrigin(t *testing.T) {
	tests := []struct {
		origin, host string
		want         bool
	}{
		{"http://localhost:8081", "localhost:8081", true},
		{"http://LocalHost:8081", "localhost.:8081", true},
		{"http://[::1]:8081", "[::1]:8081", true},
		{"http://localhost", "localhost:80", true},
		{"http://localhost:80", "localhost", true},
		{"https://codec.example.com", "codec.example.com:443", true},
		{"https://codec.example.com", "codec.example.com", true},
		{"http://codec.example.com", "codec.example.com:443", false},
		{"http://localhost:8233", "localhost:8081", false},
		{"http://127.0.0.1:8081", "localhost:8081", false},
		{"http://evil.example:8081", "localhost:8081", false},
		{"http://localhost:8081/login", "localhost:8081", false},
		{"http://user@localhost:8081", "localhost:8081", false},
		{"null", "localhost:8081", false},
		{"", "localhost:8081", false},
		{"file://", "localhost:8081", false},
		{"http://localhost:8081", "", false},
	}
	for _, tt := range tests {
		if got := sameOrigin(tt.origin, tt.host); got != tt.want {
			t.Errorf("Origin %q to Host %q is the same origin: %v, want %v", tt.origin, tt.host, got, tt.want)
		}
	}
}
