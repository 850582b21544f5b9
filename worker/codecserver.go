package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/converter"

	"github.com/ordersaga/ordersaga/internal/platform/connect"
)

// codecTokenEnv holds the codec server's bearer token when --token-file is
// not given.
const codecTokenEnv = "ORDERSAGA_CODEC_TOKEN"

// Limits of the codec server.
const (
	codecMaxBody         = 16 << 20 // a batch of payloads the Web UI sends at once
	codecShutdownTimeout = 5 * time.Second
)

// codecLimits bound how long one client may hold a connection, so that a
// slow or stalled one cannot pile up open connections.
type codecLimits struct {
	readHeader time.Duration // to send the request's headers
	read       time.Duration // to send the whole request, body included
	handler    time.Duration // to get the answer, from the headers read
	write      time.Duration // to take the answer, from the headers read
	idle       time.Duration // between two requests on a kept-alive connection
}

// codecServerLimits leave room for the largest batch (codecMaxBody) on a
// slow link; the handler's bound is below the write one, so that its 503
// still reaches the client.
var codecServerLimits = codecLimits{
	readHeader: 10 * time.Second,
	read:       time.Minute,
	handler:    90 * time.Second,
	write:      2 * time.Minute,
	idle:       2 * time.Minute,
}

// codecServerOptions are the flags of `worker codec-server`.
type codecServerOptions struct {
	listen       string
	uiOrigin     string
	tokenFile    string
	allowedHosts []string
}

// newCodecServerCommand serves the key ring to the Temporal Web UI and CLI
// over HTTP, so that people can read encrypted histories without the keys
// ever reaching the Temporal server.
func newCodecServerCommand(g *globals) *cobra.Command {
	opts := &codecServerOptions{}
	cmd := &cobra.Command{
		Use:   "codec-server",
		Short: "Decrypt payloads for the Temporal Web UI and CLI (a remote codec endpoint)",
		Long: `codec-server serves the Temporal Web UI's remote codec protocol: POST /decode
and POST /encode with a JSON body {"payloads": [...]}, answered with the
payloads decrypted or encrypted with the same key ring as the workers
(--codec-key-file, ORDERSAGA_CODEC_KEY_FILE or ORDERSAGA_CODEC_KEYS). The
browser calls it directly, so only the Web UI's origin (--ui-origin) is
allowed cross-origin; point the UI at it with
'temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8081', the
UI's codec server settings, or the UI container's TEMPORAL_CODEC_ENDPOINT.

With a bearer token (--token-file, a file only its owner may read, or env
ORDERSAGA_CODEC_TOKEN) every request but the CORS preflight must carry
"Authorization: Bearer <token>"; the Temporal CLI sends it with --codec-auth
"Bearer <token>". Anyone who can reach the endpoint without a token can
decrypt: without one it listens on loopback only.

The Web UI cannot send that header: log its browser in instead. Open
http://localhost:8081/login (by the Web UI's host name) once and paste the
token; the answer sets an HttpOnly, SameSite=Strict cookie, derived from the
token and valid for 12 hours, that the browser then sends with the UI's
requests when the UI runs with TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true (or
"Include cross-origin credentials" in its codec server settings). The cookie
counts only on requests from --ui-origin, and stops working when the token
changes. The login form takes posts from its own page only.

It answers only requests addressed to it by name: a Host header of
localhost, 127.0.0.1 or [::1] with its port, or the --listen host; behind a
reverse proxy, name the proxy's host in --allowed-hosts. A web page whose own
name resolves to this machine (DNS rebinding) is refused that way. POST
/decode and /encode bodies must be Content-Type: application/json, which a
plain HTML form cannot send. It stops on SIGINT or SIGTERM.`,
		Example: `  ORDERSAGA_CODEC_KEY_FILE=ordersaga-keys worker codec-server
  worker codec-server --codec-key-file ordersaga-keys --listen 127.0.0.1:8081 --ui-origin http://localhost:8233
  worker codec-server --listen 0.0.0.0:8081 --token-file codec-token --allowed-hosts codec.example.com
  temporal workflow show -w order-42 --codec-endpoint http://127.0.0.1:8081 --codec-auth "Bearer $(cat codec-token)"
  # with a token, log the Web UI's browser in (once every 12 hours): open http://localhost:8081/login`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCodecServer(cmd.Context(), g, opts) },
	}
	cmd.Flags().StringVar(&opts.listen, "listen", "127.0.0.1:8081", "host:port to serve on")
	cmd.Flags().StringVar(&opts.uiOrigin, "ui-origin", "http://localhost:8233", "the Web UI's origin (scheme://host:port), the only one allowed cross-origin")
	cmd.Flags().StringVar(&opts.tokenFile, "token-file", "", "file holding the bearer token that requests must carry, mode 600 (env "+codecTokenEnv+" holds the token itself)")
	cmd.Flags().StringSliceVar(&opts.allowedHosts, "allowed-hosts", nil,
		"other names the server is reached by, as host (any port) or host:port, comma-separated, such as a reverse proxy's codec.example.com (loopback names and the --listen host are always allowed)")
	return cmd
}

func runCodecServer(ctx context.Context, g *globals, opts *codecServerOptions) error {
	logger, err := g.logger()
	if err != nil {
		return err
	}
	h, err := newCodecHandlerFromFlags(g, opts)
	if err != nil {
		return err
	}
	if err := checkExposure(opts.listen, h.token != nil); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("codec server: %w", err)
	}
	h.hosts.addListener(opts.listen, ln.Addr())
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger.Info("codec server listening", "address", ln.Addr().String(), "ui_origin", h.origin, "allowed_hosts", h.hosts.String(),
		"keys", h.keyIDs, "newest_key", h.keyIDs[len(h.keyIDs)-1], "token_required", h.token != nil)
	if err := serveCodec(ctx, ln, newCodecServer(h, codecServerLimits)); err != nil {
		return err
	}
	logger.Info("codec server stopped", "signal", context.Cause(ctx))
	return nil
}

// newCodecHandlerFromFlags builds the handler from the key ring, the UI
// origin and the token the flags and the environment name.
func newCodecHandlerFromFlags(g *globals, opts *codecServerOptions) (*codecHandler, error) {
	c, err := g.conn.Codec()
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errors.New("codec-server has no keys to decrypt with: set --codec-key-file, ORDERSAGA_CODEC_KEY_FILE or ORDERSAGA_CODEC_KEYS to the workers' key ring")
	}
	origin, err := parseOrigin(opts.uiOrigin)
	if err != nil {
		return nil, err
	}
	token, err := codecToken(opts.tokenFile)
	if err != nil {
		return nil, err
	}
	hosts, err := parseAllowedHosts(opts.allowedHosts)
	if err != nil {
		return nil, err
	}
	h := newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), origin, token)
	h.hosts = hosts
	h.keyIDs = c.KeyIDs()
	return h, nil
}

// checkExposure refuses to listen beyond loopback without a token: anyone
// who can reach the port could decrypt every payload with it.
func checkExposure(listen string, tokenSet bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: give host:port, such as 127.0.0.1:8081", listen)
	}
	if tokenSet || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("--listen %s is reachable from other machines and no token is set, so anyone there could decrypt: set --token-file FILE (or %s), or listen on 127.0.0.1", listen, codecTokenEnv)
}

// isLoopback reports whether host names only this machine's loopback
// interface; the empty host is every interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// parseOrigin checks that origin is what browsers send in Origin:
// scheme://host[:port], nothing after.
func parseOrigin(origin string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("--ui-origin %q: give the Web UI's origin as scheme://host:port, such as http://localhost:8233", origin)
	}
	return u.Scheme + "://" + u.Host, nil
}

// codecToken reads the bearer token from --token-file, else from
// ORDERSAGA_CODEC_TOKEN; "" means no token is required.
func codecToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(codecTokenEnv)), nil
	}
	return connect.ReadSecretFile("--token-file", file)
}

// codecHosts are the Host header values the codec server answers to. A
// page on a name the attacker controls, resolved to this machine (DNS
// rebinding), sends its own name: refusing it keeps that page from a
// server without a token. Keys are "host:port", or "host" for any port.
type codecHosts map[string]bool

// hostName matches a DNS host name, lower-case.
var hostName = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*$`)

// parseAllowedHosts reads --allowed-hosts: host or host:port entries.
func parseAllowedHosts(entries []string) (codecHosts, error) {
	hosts := codecHosts{}
	for _, e := range entries {
		host, port, ok := splitHost(e)
		if !ok {
			return nil, fmt.Errorf("--allowed-hosts %q: give host names or host:port, such as codec.example.com or codec.example.com:8443", e)
		}
		hosts.add(host, port)
	}
	return hosts, nil
}

// addListener allows the loopback names with the port the server listens
// on, and the --listen host when it names one.
func (c codecHosts) addListener(listen string, addr net.Addr) {
	port := "0"
	if tcp, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(tcp.Port)
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		c.add(name, port)
	}
	listenHost, _, _ := net.SplitHostPort(listen)
	if host, _, ok := splitHost(listenHost); ok {
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsUnspecified() {
			c.add(host, port)
		}
	}
}

func (c codecHosts) add(host, port string) {
	if port == "" {
		c[host] = true
		return
	}
	c[net.JoinHostPort(host, port)] = true
}

// allows reports whether a request's Host header names this server; no
// port means HTTP's 80.
func (c codecHosts) allows(header string) bool {
	host, port, ok := splitHost(header)
	if !ok {
		return false
	}
	return c[host] || c[net.JoinHostPort(host, cmp.Or(port, "80"))]
}

// String lists the allowed hosts, for the log.
func (c codecHosts) String() string {
	return strings.Join(slices.Sorted(maps.Keys(c)), ",")
}

// splitHost splits a Host header or an --allowed-hosts entry into its
// host, lower-case without a trailing dot (IP addresses in their usual
// form, without brackets), and its port ("" for none).
func splitHost(s string) (host, port string, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	host = s
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return "", "", false
		}
		host, port = h, strconv.FormatUint(n, 10)
	}
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.WithZone("").String(), port, true
	}
	return host, port, hostName.MatchString(host)
}

// codecHandler guards the SDK's codec handler: only requests addressed to
// this server by name, CORS for the Web UI's origin only, JSON POSTs only,
// and the bearer token, or the login cookie derived from it, when one is
// set.
type codecHandler struct {
	codec      http.Handler
	origin     string
	token      []byte // SHA-256 of "Bearer <token>"; nil when none is required
	sessionKey []byte // signs the login cookies, derived from the token
	hosts      codecHosts
	keyIDs     []string
}

func newCodecHandler(codec http.Handler, origin, token string) *codecHandler {
	h := &codecHandler{codec: codec, origin: origin, hosts: codecHosts{}}
	if token != "" {
		sum := sha256.Sum256([]byte("Bearer " + token))
		h.token = sum[:]
		h.sessionKey = deriveSessionKey(token)
	}
	return h
}

func (h *codecHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.hosts.allows(r.Host) {
		http.Error(w, fmt.Sprintf("Host %q is not a name of this codec server: if it is one, start it with --allowed-hosts naming it", r.Host),
			http.StatusMisdirectedRequest)
		return
	}
	if r.URL.Path == codecLoginPath {
		h.login(w, r)
		return
	}
	if h.cors(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "use POST /decode or POST /encode", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ordersaga codec"`)
		http.Error(w, "missing or wrong bearer token: send Authorization: Bearer <token>, or log the Web UI's browser in at "+codecLoginPath, http.StatusUnauthorized)
		return
	}
	// An HTML form can POST cross-origin without a preflight, but not as
	// JSON: requiring JSON leaves pages only what CORS lets through.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "send the payloads as Content-Type: application/json", http.StatusUnsupportedMediaType)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, codecMaxBody)
	h.codec.ServeHTTP(w, r)
}

// cors adds the CORS headers for the allowed origin to every answer, and
// answers the preflight itself; it reports whether it did.
func (h *codecHandler) cors(w http.ResponseWriter, r *http.Request) bool {
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	allowed := r.Header.Get("Origin") == h.origin
	if allowed {
		hdr.Set("Access-Control-Allow-Origin", h.origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method != http.MethodOptions {
		return false
	}
	if !allowed {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return true
	}
	hdr.Set("Access-Control-Allow-Methods", "POST")
	hdr.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
	hdr.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// authorized accepts the bearer token, or a login cookie on a request from
// the Web UI's origin, the only page that has a use for it.
func (h *codecHandler) authorized(r *http.Request) bool {
	if h.token == nil || h.bearerMatches(r.Header.Get("Authorization")) {
		return true
	}
	return r.Header.Get("Origin") == h.origin && h.hasSession(r)
}

// bearerMatches compares an Authorization header with the token in constant
// time (both hashed, so their lengths do not show either).
func (h *codecHandler) bearerMatches(header string) bool {
	got := sha256.Sum256([]byte(header))
	return subtle.ConstantTimeCompare(got[:], h.token) == 1
}

// newCodecServer serves h within limits: a request whose answer takes
// longer than limits.handler gets a 503, and a client that stalls sending
// its request, or keeps an idle connection, has it closed.
func newCodecServer(h http.Handler, limits codecLimits) *http.Server {
	return &http.Server{
		Handler:           http.TimeoutHandler(h, limits.handler, "the codec server took too long to answer: send fewer payloads at once"),
		ReadHeaderTimeout: limits.readHeader,
		ReadTimeout:       limits.read,
		WriteTimeout:      limits.write,
		IdleTimeout:       limits.idle,
	}
}

// serveCodec serves srv on ln until ctx ends, then lets the requests in
// flight finish.
func serveCodec(ctx context.Context, ln net.Listener, srv *http.Server) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("codec server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), codecShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("stop the codec server: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("codec server: %w", err)
	}
	return nil
}

// The login that lets the Web UI's browser in without a bearer header: the
// UI cannot send one, but with TEMPORAL_CODEC_INCLUDE_CREDENTIALS it sends
// the cookies of the codec server's site.
const (
	codecLoginPath     = "/login"
	codecSessionCookie = "ordersaga_codec_session"
	codecSessionTTL    = 12 * time.Hour
	codecLoginMaxBody  = 4 << 10 // a pasted token, form-encoded
	codecSessionLabel  = "ordersaga codec-server login cookie v1"
)

// deriveSessionKey keys the login cookies with the token, so that a cookie
// never holds the token, and every cookie stops working when the token
// changes. Signed cookies rather than sessions kept in memory: they outlive
// a restart with the same token and work across replicas, and the expiry
// they carry is checked here, not only by the browser.
func deriveSessionKey(token string) []byte {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte(codecSessionLabel))
	return mac.Sum(nil)
}

// newSession is a login cookie's value, "<expiry, Unix seconds>.<MAC>".
func (h *codecHandler) newSession(expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(h.sessionMAC(exp))
}

func (h *codecHandler) sessionMAC(exp string) []byte {
	mac := hmac.New(sha256.New, h.sessionKey)
	mac.Write([]byte(exp))
	return mac.Sum(nil)
}

// validSession reports whether value is a login cookie of this token that
// has not expired; the MACs are compared in constant time.
func (h *codecHandler) validSession(value string) bool {
	exp, sig, ok := strings.Cut(value, ".")
	if !ok {
		return false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !time.Now().Before(time.Unix(unix, 0)) {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	return err == nil && hmac.Equal(got, h.sessionMAC(exp))
}

// hasSession reports whether any cookie of the login's name is valid: a
// page of the same site may have set another under that name.
func (h *codecHandler) hasSession(r *http.Request) bool {
	for _, c := range r.CookiesNamed(codecSessionCookie) {
		if h.validSession(c.Value) {
			return true
		}
	}
	return false
}

// login serves the form at /login and takes its post. The page is never
// framed, and only a post from its own origin is taken, so that another
// page can neither trick a person into logging in nor post for them.
func (h *codecHandler) login(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		h.loginPage(w, r, http.StatusOK, "")
	case r.Method != http.MethodPost:
		hdr.Set("Allow", "GET, POST")
		http.Error(w, "open "+codecLoginPath+" in a browser and log in with its form", http.StatusMethodNotAllowed)
	case h.token == nil:
		h.loginPage(w, r, http.StatusOK, "")
	case !sameOrigin(r.Header.Get("Origin"), r.Host):
		http.Error(w, "log in from this server's own "+codecLoginPath+" page: posts from other pages are refused", http.StatusForbidden)
	default:
		h.checkLogin(w, r)
	}
}

// checkLogin sets the login cookie if the posted token is right; it never
// logs nor echoes the token.
func (h *codecHandler) checkLogin(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		http.Error(w, "post the login form as application/x-www-form-urlencoded, from this server's "+codecLoginPath+" page", http.StatusUnsupportedMediaType)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, codecLoginMaxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the login form did not arrive whole: paste the token alone and send it again", http.StatusBadRequest)
		return
	}
	if !h.bearerMatches("Bearer " + strings.TrimSpace(r.PostForm.Get("token"))) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ordersaga codec"`)
		h.loginPage(w, r, http.StatusUnauthorized, "That is not this codec server's token: paste the one in its --token-file or ORDERSAGA_CODEC_TOKEN.")
		return
	}
	expires := time.Now().Add(codecSessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name:     codecSessionCookie,
		Value:    h.newSession(expires),
		Path:     "/",
		MaxAge:   int(codecSessionTTL / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil || strings.HasPrefix(r.Header.Get("Origin"), "https:"),
		SameSite: http.SameSiteStrictMode,
	})
	h.loginPage(w, r, http.StatusOK, "Logged in: the Web UI at "+h.origin+" can decrypt in this browser until "+
		expires.UTC().Format("2006-01-02 15:04 UTC")+". You may close this page.")
}

// sameOrigin reports whether origin, a request's Origin header, is this
// server's own, as the browser reached it by the Host header; a missing or
// "null" origin is not.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" || u.User != nil {
		return false
	}
	oHost, oPort, ok := splitHost(u.Host)
	hHost, hPort, ok2 := splitHost(host)
	if !ok || !ok2 {
		return false
	}
	defaultPort := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	return oHost == hHost && cmp.Or(oPort, defaultPort) == cmp.Or(hPort, defaultPort)
}

// loginPageData fills codecLoginPage.
type loginPageData struct {
	Message  string
	Form     bool   // a token is set: show the form
	UIOrigin string // where the cookie is meant for
	Hint     string // the page's host differs from the UI's: how to reach it
	Hours    int    // how long a login lasts
}

// codecLoginPage needs no script and no style, so that its CSP allows none.
var codecLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ordersaga codec server: log in</title></head>
<body>
<h1>ordersaga codec server</h1>
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Form}}<form method="post" action="/login">
<p><label>Codec server token <input type="password" name="token" autocomplete="off" required autofocus></label>
<button type="submit">Log in</button></p>
</form>
<p>Logging in lets the Web UI at <a href="{{.UIOrigin}}">{{.UIOrigin}}</a>, run with TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true,
decrypt in this browser for {{.Hours}} hours, by a cookie that never holds the token.</p>
{{if .Hint}}<p>{{.Hint}}</p>{{end}}
{{else}}<p>This codec server requires no token, so no login is needed: point the Web UI at it directly.</p>{{end}}
</body>
</html>
`))

// loginPage answers with the login page, and message above its form.
func (h *codecHandler) loginPage(w http.ResponseWriter, r *http.Request, status int, message string) {
	data := loginPageData{Message: message, Form: h.token != nil, UIOrigin: h.origin, Hint: h.loginHint(r.Host),
		Hours: int(codecSessionTTL / time.Hour)}
	var page bytes.Buffer
	if err := codecLoginPage.Execute(&page, data); err != nil {
		http.Error(w, "render the login page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(page.Bytes())
	}
}

// loginHint tells a person who opened the page by another loopback name
// than the UI's (127.0.0.1 for localhost) that the UI's requests will not
// carry a cookie of this name, and which address to open instead.
func (h *codecHandler) loginHint(host string) string {
	u, err := url.Parse(h.origin)
	if err != nil {
		return ""
	}
	uiHost, _, ok := splitHost(u.Host)
	pageHost, port, ok2 := splitHost(host)
	if !ok || !ok2 || uiHost == pageHost || !isLoopback(uiHost) || !isLoopback(pageHost) {
		return ""
	}
	addr := uiHost
	if port != "" {
		addr = net.JoinHostPort(uiHost, port)
	}
	return "This page was opened as " + pageHost + ", the Web UI as " + uiHost + ": the browser keeps cookies per host name, " +
		"so log in at " + u.Scheme + "://" + addr + codecLoginPath + " instead."
}
