package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/converter"
)

// codecTokenEnv holds the codec server's bearer token when --token-file is
// not given.
const codecTokenEnv = "ORDERSAGA_CODEC_TOKEN"

// Limits of the codec server.
const (
	codecMaxBody         = 16 << 20 // a batch of payloads the Web UI sends at once
	codecShutdownTimeout = 5 * time.Second
)

// codecServerOptions are the flags of `worker codec-server`.
type codecServerOptions struct {
	listen    string
	uiOrigin  string
	tokenFile string
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
'temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8081' or in the
UI's codec server settings.

With a bearer token (--token-file, or env ORDERSAGA_CODEC_TOKEN) every request
but the CORS preflight must carry "Authorization: Bearer <token>"; the Temporal
CLI sends it with --codec-auth "Bearer <token>". Anyone who can reach the
endpoint without a token can decrypt: keep it on loopback, or set a token.
It stops on SIGINT or SIGTERM.`,
		Example: `  ORDERSAGA_CODEC_KEY_FILE=ordersaga-keys worker codec-server
  worker codec-server --codec-key-file ordersaga-keys --listen 127.0.0.1:8081 --ui-origin http://localhost:8233
  temporal workflow show -w order-42 --codec-endpoint http://127.0.0.1:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCodecServer(cmd.Context(), g, opts) },
	}
	cmd.Flags().StringVar(&opts.listen, "listen", "127.0.0.1:8081", "host:port to serve on")
	cmd.Flags().StringVar(&opts.uiOrigin, "ui-origin", "http://localhost:8233", "the Web UI's origin (scheme://host:port), the only one allowed cross-origin")
	cmd.Flags().StringVar(&opts.tokenFile, "token-file", "", "file holding the bearer token that requests must carry (env "+codecTokenEnv+" holds the token itself)")
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
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("codec server: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger.Info("codec server listening", "address", ln.Addr().String(), "ui_origin", h.origin,
		"keys", h.keyIDs, "newest_key", h.keyIDs[len(h.keyIDs)-1], "token_required", h.token != nil)
	if err := serveCodec(ctx, ln, h); err != nil {
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
	h := newCodecHandler(converter.NewPayloadCodecHTTPHandler(c), origin, token)
	h.keyIDs = c.KeyIDs()
	return h, nil
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
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read --token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--token-file %s is empty: put the bearer token in it, or drop the flag", file)
	}
	return token, nil
}

// codecHandler guards the SDK's codec handler: CORS for the Web UI's
// origin only, POST only, and the bearer token when one is set.
type codecHandler struct {
	codec  http.Handler
	origin string
	token  []byte // SHA-256 of "Bearer <token>"; nil when none is required
	keyIDs []string
}

func newCodecHandler(codec http.Handler, origin, token string) *codecHandler {
	h := &codecHandler{codec: codec, origin: origin}
	if token != "" {
		sum := sha256.Sum256([]byte("Bearer " + token))
		h.token = sum[:]
	}
	return h
}

func (h *codecHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
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

// authorized compares the Authorization header with the token in constant
// time (both hashed, so their lengths do not show either).
func (h *codecHandler) authorized(r *http.Request) bool {
	if h.token == nil {
		return true
	}
	got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	return subtle.ConstantTimeCompare(got[:], h.token) == 1
}

// serveCodec serves h on ln until ctx ends, then lets the requests in
// flight finish.
func serveCodec(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
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
