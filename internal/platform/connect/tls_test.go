package connect

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a throwaway self-signed certificate and its key as PEM
// files in dir and returns their paths.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ordersaga-worker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		IsCA:         true,
		DNSNames:     []string{"temporal.example.com"},

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath = writeFile(t, dir, "client.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyPath = writeFile(t, dir, "client.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return certPath, keyPath
}

// TestOptionsSecuredTemporal checks that a Temporal config file profile
// with an mTLS client certificate, or with an API key, yields client
// options that use TLS (and the certificate or the key), whether the profile
// is picked by TEMPORAL_PROFILE or by --profile.
func TestOptionsSecuredTemporal(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	config := writeFile(t, dir, "temporal.toml", fmt.Sprintf(`
[profile.mtls]
address = "temporal.example.com:7233"
namespace = "orders-prod"

[profile.mtls.tls]
client_cert_path = %q
client_key_path = %q
server_ca_cert_path = %q
server_name = "temporal.example.com"

[profile.cloud]
address = "eu-west-1.aws.api.temporal.io:7233"
namespace = "orders.a1b2c"
api_key = "profile-api-key"

[profile.broken]
address = "temporal.example.com:7233"

[profile.broken.tls]
client_cert_path = %q
`, cert, key, cert, cert))
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantAddr   string
		wantCert   bool
		wantAPIKey bool
		wantErr    string
	}{
		{"mTLS by --profile", nil, []string{"--profile", "mtls"}, "temporal.example.com:7233", true, false, ""},
		{"mTLS by TEMPORAL_PROFILE", map[string]string{"TEMPORAL_PROFILE": "mtls"}, nil, "temporal.example.com:7233", true, false, ""},
		{"API key by --profile", nil, []string{"--profile", "cloud"}, "eu-west-1.aws.api.temporal.io:7233", false, true, ""},
		{"API key by TEMPORAL_PROFILE", map[string]string{"TEMPORAL_PROFILE": "cloud"}, nil, "eu-west-1.aws.api.temporal.io:7233", false, true, ""},
		{"mTLS from the environment only", map[string]string{"TEMPORAL_PROFILE": "", "TEMPORAL_ADDRESS": "temporal.example.com:7233",
			"TEMPORAL_TLS_CLIENT_CERT_PATH": cert, "TEMPORAL_TLS_CLIENT_KEY_PATH": key}, nil, "temporal.example.com:7233", true, false, ""},
		{"API key flag is refused", nil, []string{"--temporal-address", "temporal.example.com:7233", "--api-key", "flag-key"}, "", false, false, "set TEMPORAL_API_KEY, or write the key in a file only you can read and give --api-key-file FILE"},
		{"certificate without its key", nil, []string{"--profile", "broken"}, "", false, false, "other must be present too"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("TEMPORAL_CONFIG_FILE", config)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			opts, err := options(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tlsConf := opts.ConnectionOptions.TLS
			switch {
			case opts.HostPort != tt.wantAddr:
				t.Errorf("address %q, want %q", opts.HostPort, tt.wantAddr)
			case tlsConf == nil:
				t.Fatal("TLS is not configured")
			case (len(tlsConf.Certificates) == 1) != tt.wantCert:
				t.Errorf("%d client certificates, want one: %v", len(tlsConf.Certificates), tt.wantCert)
			case (opts.Credentials != nil) != tt.wantAPIKey:
				t.Errorf("API key credentials set: %v, want %v", opts.Credentials != nil, tt.wantAPIKey)
			}
		})
	}
}

// TestOptionsMTLSProfileVerifiesTheServer checks that the profile's CA and
// server name reach the TLS configuration.
func TestOptionsMTLSProfileVerifiesTheServer(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	t.Setenv("TEMPORAL_CONFIG_FILE", writeFile(t, dir, "temporal.toml", fmt.Sprintf(`
[profile.default.tls]
client_cert_path = %q
client_key_path = %q
server_ca_cert_path = %q
server_name = "temporal.example.com"
`, cert, key, cert)))
	opts, err := options(t)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf := opts.ConnectionOptions.TLS
	if tlsConf == nil || tlsConf.RootCAs == nil || tlsConf.ServerName != "temporal.example.com" || tlsConf.InsecureSkipVerify {
		t.Fatalf("TLS config %+v: want the profile's CA and server name, with verification", tlsConf)
	}
}
