package deploy

import (
	"net"
	"slices"
	"testing"
)

// codecService is the container that decrypts payloads for the Temporal
// CLI on the host (`worker codec-server`), and codecProfile the profile it
// runs under: without keys there is nothing for it to decrypt.
const (
	codecService = "codec-server"
	codecProfile = "codec"
	codecKeysEnv = "ORDERSAGA_CODEC_KEYS"
	codecAuthEnv = "ORDERSAGA_CODEC_TOKEN"
)

// TestCodecKeysReachEveryProcess: every process that reads or writes
// payloads takes the key ring from the same variable of .env, so that one
// setting turns encryption on for the whole stack, and a process left
// without the ring (which fails the orders it cannot read) cannot happen
// by omission.
func TestCodecKeysReachEveryProcess(t *testing.T) {
	raw := load(t, false)
	want := env(service(t, raw, codecService), codecKeysEnv)
	if want != "${"+codecKeysEnv+":-}" {
		t.Errorf("%s: %s=%q, want ${%s:-} (empty: payloads in clear)", codecService, codecKeysEnv, want, codecKeysEnv)
	}
	for _, name := range append(runners(), "starter") {
		if got := env(service(t, raw, name), codecKeysEnv); got != want {
			t.Errorf("%s: %s=%q, want %q as on the %s", name, codecKeysEnv, got, want, codecService)
		}
	}
}

// TestCodecServer: the codec server runs the workers' image under its own
// profile, and since it listens on every interface of its container it
// has a bearer token from .env (it refuses to start without one) and is
// published on the host's loopback only.
func TestCodecServer(t *testing.T) {
	p := load(t, true)
	s := service(t, p, codecService)
	worker := service(t, p, "order")
	if s.Image != worker.Image || s.Build == nil {
		t.Errorf("%s: image %q, want the workers' %q built from the %s", codecService, s.Image, worker.Image, dockerfile)
	}
	if !slices.Equal(s.Profiles, []string{codecProfile}) {
		t.Errorf("%s: profiles %q, want [%s]: it has nothing to decrypt without keys", codecService, s.Profiles, codecProfile)
	}
	if len(s.Command) == 0 || s.Command[0] != "codec-server" || len(s.Entrypoint) != 0 {
		t.Fatalf("%s: entrypoint %q command %q, want the image's worker with codec-server", codecService, s.Entrypoint, s.Command)
	}
	listen := flagValue(s.Command, "--listen")
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("%s: --listen %q: %v", codecService, listen, err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && env(load(t, false).Services[codecService], codecAuthEnv) != "${"+codecAuthEnv+":-}" {
		t.Errorf("%s: listens on %s without %s from .env", codecService, listen, codecAuthEnv)
	}
	published := false
	for _, pc := range s.Ports {
		if pc.HostIP != "127.0.0.1" {
			t.Errorf("%s: publishes %s on %q: anyone who reaches it with the token can decrypt; publish on 127.0.0.1", codecService, pc.Published, pc.HostIP)
		}
		published = published || pc.Published == port
	}
	if !published {
		t.Errorf("%s: port %s is not published on the same host port: its Host check allows loopback names with its own port", codecService, port)
	}
	if got := env(s, "ORDERSAGA_LOG_FORMAT"); got != "json" {
		t.Errorf("%s: ORDERSAGA_LOG_FORMAT=%q, want json", codecService, got)
	}
}

// flagValue is the value after flag in args, or "".
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}
